"""Where ADC's landmark error lies, on the validation faces: by region, at the coarse stage
(the global network alone), after the regional crops and, for a model with one, after its
shape correction (its output), and along or across the jaw line.

    python benchmarks/landmarks_error_analysis.py --data ../shared/data/helen68 \\
        [--model adc_landmarks_300w | FILE.keras] [--no-flip-test] [--refine-passes 2] \\
        [--json benchmarks/results/landmarks_error_analysis.json]

Validation = the last 70 faces of helen68/trainset (the landmark recipe's held-out faces;
the test faces are not read), padded to a square and given at the model's 512x512, as
``benchmarks/landmarks_validation.py`` scores them. NME = mean point error over the
outer-eye-corner distance, percent, in each face's own pixels; regions as the peers
benchmark's (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67). The jaw's error
after refinement is split into its component along the true jaw line (the direction
between each point's two neighbours) and across it: a point's place along a contour is
what a crop around it cannot see, so a large along-the-line error asks for a better global
network rather than a better regional one.
"""

import argparse
import json
import os
import sys

from landmarks_peers import REGIONS  # noqa: E402  (benchmarks/)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VALIDATION = 70  # recipes/adc_landmarks_300w.py holds out the last 70 training faces
JAW = REGIONS["jaw"]


class StageReader:
    """``model``, answering with the points of one of its stages (pixels of its input)."""

    def __init__(self, model, stage):
        self.model, self.stage = model, stage

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __call__(self, images, training=False):
        from keras import ops

        from facezoo.models.adc_landmarks.adc_landmarks import _normalised_to_pixels, flip_averaged

        def points_of(x):
            return self.model.stages(x)[self.stage]

        points = flip_averaged(points_of, images, self.model._mirror) if self.model.flip_test else points_of(images)
        return _normalised_to_pixels(points, ops.shape(images)[1], ops.shape(images)[2])


def points_on(model, faces):
    """Predicted and true points of every face, in its own pixels (as evaluate_landmarks)."""
    import numpy as np

    from facezoo.data.feeding import pad_to_square
    from facezoo.evaluate import predict_scores

    predicted, true = [], []
    size = tuple(model.info.input_size)
    for index in range(len(faces)):
        original = faces[index]
        sample, offset = pad_to_square(original)
        points = predict_scores(model, [sample], size)[0]
        height, width = sample.image.shape[:2]
        predicted.append((points + 0.5) * np.array([width / size[1], height / size[0]]) - 0.5 - offset)
        true.append(original.landmarks)
    return np.stack(predicted), np.stack(true)


def analyse(predicted, true):
    """Per-region NME (percent) and the jaw's mean |error| along and across the jaw line."""
    import numpy as np

    scale = np.linalg.norm(true[:, 36] - true[:, 45], axis=-1)[:, None]  # outer eye corners
    errors = np.linalg.norm(predicted - true, axis=-1) / scale * 100
    result = {"all": float(errors.mean()), **{name: float(errors[:, list(r)].mean()) for name, r in REGIONS.items()}}
    jaw = list(JAW)
    before, after = [jaw[0]] + jaw[:-1], jaw[1:] + [jaw[-1]]
    tangent = true[:, after] - true[:, before]
    tangent /= np.linalg.norm(tangent, axis=-1, keepdims=True)
    normal = np.stack([-tangent[..., 1], tangent[..., 0]], -1)
    error = predicted[:, jaw] - true[:, jaw]
    result["jaw_along"] = float((np.abs((error * tangent).sum(-1)) / scale * 100).mean())
    result["jaw_across"] = float((np.abs((error * normal).sum(-1)) / scale * 100).mean())
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (trainset/ is used)")
    parser.add_argument("--model", default="adc_landmarks_300w", help="an ADC preset name or .keras file")
    parser.add_argument("--refine-passes", type=int, default=None, help="default: the model's own")
    parser.add_argument("--no-flip-test", action="store_true", help="without the mirrored-face average")
    parser.add_argument("--json", default=None, help="also write the table here")
    args = parser.parse_args(argv)

    import keras

    import facezoo
    from facezoo.data import Landmarks300W
    from facezoo.models.adc_landmarks import mirror_indices

    model = (keras.models.load_model(args.model) if args.model.endswith(".keras")
             else facezoo.load(args.model, compile=False))
    model.flip_test = not args.no_flip_test
    model._mirror = mirror_indices(model.num_points, model.mirror) if model.flip_test else None
    if args.refine_passes is not None:
        model.refine_passes = args.refine_passes
    faces = Landmarks300W(args.data, "train")
    faces.records = faces.records[-VALIDATION:]
    rows = {stage: analyse(*points_on(StageReader(model, stage), faces)) for stage in ("coarse", "refined")}
    if getattr(model, "shape_correction", None) is not None:  # the model's own output: after its last stage
        rows["corrected"] = analyse(*points_on(model, faces))
    print(f"helen68 validation ({len(faces)} faces), {args.model}, flip test {model.flip_test}, "
          f"{model.refine_passes} regional pass(es); NME % of the outer-eye-corner distance")
    print(f"{'stage':>9} " + " ".join(f"{k:>6}" for k in ["all", *REGIONS]) + f" {'jaw along':>10} {'across':>7}")
    for stage, r in rows.items():
        print(f"{stage:>9} " + " ".join(f"{r[k]:6.2f}" for k in ["all", *REGIONS])
              + f" {r['jaw_along']:10.2f} {r['jaw_across']:7.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"model": args.model, "faces": len(faces), "flip_test": model.flip_test,
                       "refine_passes": model.refine_passes, "nme_percent": rows}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

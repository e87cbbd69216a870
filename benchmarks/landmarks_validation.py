"""ADC's inference settings scored on the validation faces (the way they were chosen).

    python benchmarks/landmarks_validation.py --data ../shared/data/helen68 \\
        [--model adc_landmarks_300w | FILE.keras] [--refine-passes 1 2 3] [--no-flip-test] [--shift-average 0.02] \\
        [--against adc_landmarks_300w FILE.keras ...] [--average]

Validation = the last 70 faces of helen68/trainset, held out by
recipes/adc_landmarks_300w.py (its VALIDATION); the test faces are not read. For each
number of regional passes, prints the NME (inter-ocular, percent) and the failure rate at
8 %, faces given at the model's nominal 512x512. A model of HELEN's 194 contour points
(``adc_landmarks_helen194``) is scored on the same faces' contours, with the NME of each
contour too; ``--mapped-to-194`` scores a 68-point model's points mapped to those contours by
``facezoo.data.helen.contour_combination`` (fitted on the training faces' annotation): the
baseline a 194-point model has to beat. For them a second row, ``across``, gives each contour's
mean distance of the points to the true contour line (``facezoo.metrics.contour_distances``,
percent of the same normaliser): the part of the error that moves the regions drawn from them
(a lower bound of it: points bunched along a true line draw a wrong region all the same).

``--against OTHER ...``: the same settings for other models on the same faces, and the paired
difference of the NMEs (each ``OTHER`` minus ``--model``) with a 95 % bootstrap interval over the
faces (2,000 resamples): on 70 faces, a difference whose interval holds 0 is not a choice.
``--average`` also scores the mean of all the models' points (an ensemble), against ``--model``.

``--shift-average D``: test-time averaging over framings: each face also given shifted by D of
its side left, right, up and down (bilinear), the five answers mapped back and averaged (five
times the model's time).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VALIDATION = 70  # recipes/adc_landmarks_300w.py holds out the last 70 training faces


class ShiftAveraged:
    """``model``'s points averaged over the face and four copies shifted by ``shift`` of its
    side (everything else is the model's)."""

    def __init__(self, model, shift):
        self._model = model
        self.shifts = [(0.0, 0.0), (shift, 0.0), (-shift, 0.0), (0.0, shift), (0.0, -shift)]

    def __getattr__(self, name):
        return getattr(self._model, name)

    def __call__(self, images, training=False):
        import keras
        import numpy as np
        from PIL import Image

        images = np.asarray(images)
        height, width = images.shape[1:3]
        answers = []
        for dx, dy in self.shifts:
            # crop pixel q shows source pixel q + d: the face moves by -d in the crop
            move = (1, 0, dx * width, 0, 1, dy * height)
            shifted = np.stack([np.asarray(Image.fromarray(np.round(image * 255).astype(np.uint8)).transform(
                (width, height), Image.AFFINE, move, Image.BILINEAR)) for image in images]) / np.float32(255)
            points = keras.ops.convert_to_numpy(self._model(shifted.astype(np.float32), training=False))
            answers.append(points + np.array([dx * width, dy * height]))
        return np.mean(answers, axis=0)


class MappedTo194:
    """A 68-point ``model``'s points mapped to HELEN's 194 by an affine ``combination``
    ``(194, 68)`` (everything else is the model's)."""

    num_points = 194

    def __init__(self, model, combination):
        self._model, self.combination = model, combination

    def __getattr__(self, name):
        return getattr(self._model, name)

    def __call__(self, images, training=False):
        import keras
        import numpy as np

        points = keras.ops.convert_to_numpy(self._model(images))
        return np.einsum("kj,bjd->bkd", self.combination, points).astype(np.float32)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (trainset/ is used)")
    parser.add_argument("--model", default="adc_landmarks_300w", help="an ADC preset name or .keras file")
    parser.add_argument("--refine-passes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--no-flip-test", action="store_true", help="score without the mirrored-face average")
    parser.add_argument("--mapped-to-194", action="store_true",
                        help="a 68-point model's points mapped linearly to HELEN's 194, scored on those")
    parser.add_argument("--shift-average", type=float, default=0.0, metavar="D",
                        help="also average over four framings shifted by D of the side (see above)")
    parser.add_argument("--against", nargs="+", default=[], metavar="MODEL",
                        help="other models (presets or .keras), scored alike: each one's paired difference to "
                             "--model and its 95 %% bootstrap interval over the faces")
    parser.add_argument("--average", action="store_true",
                        help="with --against: also the mean of all the models' points, against --model")
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    import facezoo
    from facezoo.classmaps import CONTOURS as SCHEME_CONTOURS
    from facezoo.data import HelenContourPoints, Landmarks300W
    from facezoo.data.helen import CONTOURS, contour_combination
    from facezoo.evaluate import predict_landmarks
    from facezoo.metrics import contour_distances, landmark_scores, point_errors
    from facezoo.models.adc_landmarks import mirror_indices

    def prepared(name):
        """The model as scored: its flip setting, shift average and mapping (its passes set per row)."""
        model = keras.models.load_model(name) if name.endswith(".keras") else facezoo.load(name, compile=False)
        model.flip_test = not args.no_flip_test  # inference-time settings, the weights are the same
        model._mirror = mirror_indices(model.num_points, model.mirror) if model.flip_test else None
        scored = ShiftAveraged(model, args.shift_average) if args.shift_average else model
        if args.mapped_to_194:
            if model.num_points != 68:
                parser.error("--mapped-to-194 maps a 68-point model's points")
            scored = MappedTo194(scored, contour_combination(args.data))
        return model, scored

    model, scored = prepared(args.model)
    if args.average and not args.against:
        parser.error("--average averages --model with the --against models")
    if len(set(args.against)) != len(args.against) or args.model in args.against:
        parser.error("--against: each model once, and not --model itself")
    others = {name: prepared(name) for name in args.against}
    for name, (_, other_scored) in others.items():
        if other_scored.num_points != scored.num_points:
            parser.error(f"--against {name}: {other_scored.num_points} points, --model {scored.num_points}")
    if scored.num_points == 194:
        faces = HelenContourPoints(args.data, "val")
    else:
        faces = Landmarks300W(args.data, "train")
        faces.records = faces.records[-VALIDATION:]
    print(f"helen68 validation ({len(faces)} faces), {args.model}, flip test {model.flip_test}, "
          f"shift average {args.shift_average or 'off'}")
    regions = CONTOURS if scored.num_points == 194 else {}
    print(f"{'passes':>6} {'NME io %':>9} {'fail@8 %':>9}" + "".join(f" {name:>10}" for name in regions))
    for passes in args.refine_passes:
        model.refine_passes = passes
        predicted, true = predict_landmarks(scored, faces, progress=False)
        scores = landmark_scores(predicted, true)
        errors = point_errors(predicted, true)
        print(f"{passes:>6} {scores['nme_inter_ocular']:9.3f} {scores['failure_rate_8']:9.2f}"
              + "".join(f" {errors[:, a:b].mean():10.3f}" for a, b in regions.values()), flush=True)
        if regions:
            across = contour_distances(predicted, true, SCHEME_CONTOURS[194])
            print(f"{'across':>6} {across.mean():9.3f} {'':>9}"
                  + "".join(f" {across[:, a:b].mean():10.3f}" for a, b in regions.values()), flush=True)
        answers = [predicted]
        for name, (other, other_scored) in others.items():
            other.refine_passes = passes
            answers.append(predict_landmarks(other_scored, faces, progress=False)[0])
            compared(name, answers[-1], predicted, true)
        if args.average:
            compared("average", np.mean(answers, axis=0), predicted, true)
    return 0


def compared(label, points, baseline, true):
    """One row: ``points``' NME and its paired difference to ``baseline``'s, with its interval."""
    from facezoo.metrics import nme

    errors = nme(points, true)
    difference, low, high = paired_difference(errors, nme(baseline, true))
    print(f"{'':>6} {errors.mean():9.3f}   {label}: {difference:+.3f} against --model "
          f"(95 % interval {low:+.3f} to {high:+.3f})", flush=True)


def paired_difference(errors, other_errors, resamples=2000, seed=0):
    """Mean of ``errors - other_errors`` (per face) and its 95 % bootstrap interval over the faces."""
    import numpy as np

    differences = np.asarray(errors) - np.asarray(other_errors)
    picks = np.random.default_rng(seed).integers(0, len(differences), (resamples, len(differences)))
    means = differences[picks].mean(axis=1)
    return float(differences.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


if __name__ == "__main__":
    sys.exit(main())

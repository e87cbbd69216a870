"""A HELEN parser with and without a flip average, scored as `facezoo eval` scores it.

    python benchmarks/parser_flip_average.py --data ../shared/data/helen68 [--model stn_icnn_helen] [--split val]

The flip average parses the mirrored face too, mirrors its probabilities back with the
left/right classes swapped (:func:`facezoo.classmaps.flip_permutation`) and averages the two:
an inference setting ADC's landmark presets use (``flip_test``), measured here for the parsers
on the faces they are chosen on (validation: the last 70 of helen68/trainset, aligned by
their 68 points onto the model's template, labels drawn from HELEN's contours).
"""

import argparse
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class FlipAveraged:
    """``model``'s call averaged with that of the mirrored input (everything else is the model's)."""

    def __init__(self, model, permutation):
        self._model, self._permutation = model, permutation

    def __getattr__(self, name):
        return getattr(self._model, name)

    def __call__(self, images, training=False):
        images = np.asarray(images)
        plain = np.asarray(self._model(images, training=False))
        mirrored = np.asarray(self._model(np.ascontiguousarray(images[:, :, ::-1]), training=False))
        return (plain + mirrored[:, :, ::-1][..., self._permutation]) / 2


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (with annotation/)")
    parser.add_argument("--model", default="stn_icnn_helen")
    parser.add_argument("--split", default="val", help="val (the default: how a setting is chosen) or test")
    args = parser.parse_args(argv)

    import facezoo
    from facezoo.classmaps import ClassMap, flip_permutation
    from facezoo.evaluate import aligned_helen_contours, evaluate_helen_contours

    model = facezoo.load(args.model, compile=False)
    permutation = flip_permutation(ClassMap("model", tuple(model.class_names), tuple(model.class_colors)))
    faces = aligned_helen_contours(model, args.data, args.split)
    print(f"{args.model} on helen_contours/{args.split} ({len(faces)} faces); left/right swap {permutation.tolist()}")
    for label, scored in (("plain", model), ("flip average", FlipAveraged(model, permutation))):
        scores = evaluate_helen_contours(scored, faces, progress=False)
        groups = " ".join(f"{k} {v:.4f}" for k, v in scores["groups"].items())
        print(f"{label:>13}: overall {scores['overall']:.4f} strict {scores['overall_strict']:.4f} | {groups}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""ADC's inference settings scored on the validation faces (the way they were chosen).

    python benchmarks/landmarks_validation.py --data ../shared/data/helen68 \\
        [--model adc_landmarks_300w | FILE.keras] [--refine-passes 1 2 3] [--no-flip-test]

Validation = the last 70 faces of helen68/trainset, held out by
recipes/adc_landmarks_300w.py (its VALIDATION); the test faces are not read. For each
number of regional passes, prints the NME (inter-ocular, percent) and the failure rate at
8 %, faces given at the model's nominal 512x512.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VALIDATION = 70  # recipes/adc_landmarks_300w.py holds out the last 70 training faces


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (trainset/ is used)")
    parser.add_argument("--model", default="adc_landmarks_300w", help="an ADC preset name or .keras file")
    parser.add_argument("--refine-passes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--no-flip-test", action="store_true", help="score without the mirrored-face average")
    args = parser.parse_args(argv)

    import keras

    import facezoo
    from facezoo.data import Landmarks300W
    from facezoo.evaluate import evaluate_landmarks
    from facezoo.models.adc_landmarks import mirror_indices

    model = (keras.models.load_model(args.model) if args.model.endswith(".keras")
             else facezoo.load(args.model, compile=False))
    model.flip_test = not args.no_flip_test  # inference-time settings, the weights are the same
    model._mirror = mirror_indices(model.num_points, model.mirror) if model.flip_test else None
    faces = Landmarks300W(args.data, "train")
    faces.records = faces.records[-VALIDATION:]
    print(f"helen68 validation ({len(faces)} faces), {args.model}, flip test {model.flip_test}")
    print(f"{'passes':>6} {'NME io %':>9} {'fail@8 %':>9}")
    for passes in args.refine_passes:
        model.refine_passes = passes
        scores = evaluate_landmarks(model, faces, progress=False)
        print(f"{passes:>6} {scores['nme_inter_ocular']:9.3f} {scores['failure_rate_8']:9.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

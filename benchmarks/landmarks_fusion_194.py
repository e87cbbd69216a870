"""Do HELEN's 194 predicted contour points help the 68? (issue #18, measured, not adopted)

    python benchmarks/landmarks_fusion_194.py --data ../shared/data/helen68 [--json out.json]

``adc_landmarks_300w`` (68 points) and ``adc_landmarks_helen194`` (HELEN's 194) predict the
same faces with their presets' settings. A ridge regression maps their points (in the frame
where the 68 predicted points sit closest, by a similarity, to their mean shape, as
``facezoo.layers.ShapeCorrection`` works) to the 68 annotated points: from the 68 alone (a
second correction), from the 194 alone, and from both. Fitted on the 800 training faces'
predictions (each ridge's 5-fold cross-validated error printed), scored on the 70 validation
faces (NME over the outer eye corners, percent; the jaw's 17 points apart). The test faces
are not read. Both models run on every face: about 3x the 68-point preset's time.
"""

import argparse
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VALIDATION = 70  # recipes/adc_landmarks_300w.py holds out the last 70 training faces
RIDGES = (0.03, 0.1, 0.3, 1.0, 3.0)


def in_frame(points, reference, *others):
    """``points`` ``(N, 68, 2)`` in their own similarity frame onto ``reference``, flattened, and
    each of ``others`` ``(N, K, 2)`` moved by the same similarity; then ``(centre, a, b)``."""
    from keras import ops

    from facezoo.layers.shape_correction import _turned, similarity_frame

    frame, centre, a, b = similarity_frame(points, reference)
    moved = [_turned(ops.cast(o, "float32") - centre, a, b) for o in others]
    flat = [ops.convert_to_numpy(t).astype(np.float64).reshape(len(points), -1) for t in (frame, *moved)]
    return flat, tuple(ops.convert_to_numpy(t).astype(np.float64) for t in (centre, a, b))


def out_of_frame(flat, centre, a, b):
    """Flattened frame points back in pixels ``(N, K, 2)``."""
    from keras import ops

    from facezoo.layers.shape_correction import _turned

    scale = np.maximum(a * a + b * b, 1e-12)
    return ops.convert_to_numpy(_turned(ops.cast(flat.reshape(len(flat), -1, 2), "float32"), a / scale,
                                        -b / scale)).astype(np.float64) + centre


def nme_and_jaw(predicted, true):
    from facezoo.metrics import point_errors

    errors = point_errors(predicted, true)
    return float(errors.mean()), float(errors[:, :17].mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (trainset/ and annotation/ are used)")
    parser.add_argument("--json", help="write the table here")
    args = parser.parse_args(argv)

    import facezoo
    from facezoo.data import HelenContourPoints, Landmarks300W
    from facezoo.evaluate import predict_landmarks
    from facezoo.layers.shape_correction import procrustes_mean, ridge_regression

    faces68 = Landmarks300W(args.data, "train")
    faces194 = HelenContourPoints(args.data, "trainval")
    if [r[0] for r in faces68.records] != faces194.ids:
        raise SystemExit("the 68- and 194-point training faces differ: is annotation/ complete?")
    p68, t68 = predict_landmarks(facezoo.load("adc_landmarks_300w", compile=False), faces68)
    p194, _ = predict_landmarks(facezoo.load("adc_landmarks_helen194", compile=False), faces194)
    train, val = slice(0, len(p68) - VALIDATION), slice(len(p68) - VALIDATION, None)
    reference = np.asarray(procrustes_mean(p68[train]))
    (f68, f194, target), _ = in_frame(p68[train], reference, p194[train], t68[train])
    (v68, v194), where = in_frame(p68[val], reference, p194[val])
    rows = [{"from": "adc_landmarks_300w as shipped", "ridge": None, **dict(zip(("nme", "jaw"),
                                                                               nme_and_jaw(p68[val], t68[val])))}]
    folds = np.arange(len(f68)) % 5
    for name, features, scored in (("68 again", f68, v68), ("194", f194, v194),
                                   ("68 and 194", np.c_[f68, f194], np.c_[v68, v194])):
        for ridge in RIDGES:
            errors = []
            for k in range(5):
                matrix, bias = ridge_regression(features[folds != k], target[folds != k], ridge)
                errors.append(np.linalg.norm((features[folds == k] @ matrix + bias - target[folds == k])
                                             .reshape(-1, 68, 2), axis=-1).mean())
            matrix, bias = ridge_regression(features, target, ridge)
            nme, jaw = nme_and_jaw(out_of_frame(scored @ matrix + bias, *where), t68[val])
            rows.append({"from": name, "ridge": ridge, "cross_validation": float(np.mean(errors)), "nme": nme,
                         "jaw": jaw})
    print(f"helen68 validation ({VALIDATION} faces); fitted on {len(f68)} training faces' predictions")
    print(f"{'68 points from':>30} {'ridge':>6} {'5-fold':>8} {'NME %':>7} {'jaw %':>7}")
    for row in rows:
        ridge = "-" if row["ridge"] is None else f"{row['ridge']:g}"
        cv = f"{row['cross_validation']:.5f}" if "cross_validation" in row else "-"
        print(f"{row['from']:>30} {ridge:>6} {cv:>8} {row['nme']:7.3f} {row['jaw']:7.3f}")
    best = {name: min((r for r in rows if r["from"] == name), key=lambda r: r["cross_validation"])
            for name in ("68 again", "194", "68 and 194")}
    print("chosen by cross-validation: " + "; ".join(f"{n} (ridge {r['ridge']:g}) {r['nme']:.3f} %"
                                                      for n, r in best.items()))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"faces": {"train": len(f68), "validation": VALIDATION}, "rows": rows}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

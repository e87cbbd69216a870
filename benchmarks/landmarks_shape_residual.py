"""Is what ADC's linear shape correction leaves a (nonlinear) function of the predicted shape?

    python benchmarks/landmarks_shape_residual.py --data ../shared/data/helen68 [--model adc_landmarks_300w]

The model's networks predict the 800 training and 70 validation faces (helen68/trainset,
split as recipes/adc_landmarks_300w.py splits it) under its inference settings, its
correction reset to the identity. The linear correction (:class:`ShapeCorrection`, ridge as
shipped) is fitted out of fold on the training faces (5 folds); then a nearest-shapes residual
is added on top: each face in the correction's reference frame, the mean out-of-fold residual
of its ``k`` nearest training shapes there, times ``alpha``. ``k`` and ``alpha`` are chosen by
5-fold cross-validation on the training faces, and the validation faces scored once with the
correction fitted on all of them. NME = inter-ocular, percent.
"""

import argparse
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VALIDATION, FOLDS = 70, 5


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (trainset/ is used)")
    parser.add_argument("--model", default="adc_landmarks_300w", help="an ADC preset name or .keras file")
    parser.add_argument("--ridge", type=float, default=0.3, help="the linear correction's ridge")
    parser.add_argument("--k", type=int, nargs="+", default=[10, 25, 50, 100])
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    args = parser.parse_args(argv)

    import keras

    import facezoo
    from facezoo.data import Landmarks300W
    from facezoo.evaluate import landmark_scores, predict_landmarks
    from facezoo.layers.shape_correction import ShapeCorrection, normalised_pairs, similarity_frame

    model = (keras.models.load_model(args.model) if args.model.endswith(".keras")
             else facezoo.load(args.model, compile=False))
    model.shape_correction.reset()
    faces, val = Landmarks300W(args.data, "train"), Landmarks300W(args.data, "train")
    faces.records, val.records = faces.records[:-VALIDATION], faces.records[-VALIDATION:]
    (train_p, train_t), (val_p, val_t) = (predict_landmarks(model, d, progress=False) for d in (faces, val))

    def nme(predicted, true):
        return landmark_scores(predicted, true)["nme_inter_ocular"]

    def linear(fit_p, fit_t, points):
        layer = ShapeCorrection(model.num_points)
        layer.fit(fit_p, fit_t, args.ridge)
        return keras.ops.convert_to_numpy(layer(points.astype("float32"))), layer

    folds = np.array_split(np.arange(len(train_p)), FOLDS)
    out_of_fold = np.zeros_like(train_p)
    for fold in folds:
        rest = np.setdiff1d(np.arange(len(train_p)), fold)
        out_of_fold[fold] = linear(train_p[rest], train_t[rest], train_p[fold])[0]
    val_linear, layer = linear(train_p, train_t, val_p)
    reference = keras.ops.convert_to_numpy(layer.reference)
    bank_shapes, bank_residuals = normalised_pairs(out_of_fold, train_t, reference)

    def nearest_residual(points, shapes, residuals, k, alpha):
        frame, centre, a, b = (keras.ops.convert_to_numpy(t) for t in similarity_frame(points, reference))
        flat = frame.reshape(len(points), -1).astype(np.float64)
        distances = ((flat[:, None, :] - shapes[None]) ** 2).sum(-1)
        added = alpha * residuals[np.argsort(distances, axis=1)[:, :k]].mean(1)
        moved = (flat + added).reshape(frame.shape)
        inverse = np.stack([a, -b], -1) / (a * a + b * b)[..., None]  # 1 / (a + ib)
        x, y = moved[..., 0], moved[..., 1]
        back = np.stack([inverse[..., 0] * x - inverse[..., 1] * y, inverse[..., 1] * x + inverse[..., 0] * y], -1)
        return back + centre

    print(f"{args.model}: {len(train_p)} training, {len(val_p)} validation faces; NME %")
    print(f"  uncorrected: training {nme(train_p, train_t):.3f}, validation {nme(val_p, val_t):.3f}")
    print(f"  linear (ridge {args.ridge:g}): training {FOLDS}-fold {nme(out_of_fold, train_t):.3f}")
    best = None
    for k in args.k:
        for alpha in args.alpha:
            result = np.zeros_like(train_p)
            for fold in folds:
                rest = np.setdiff1d(np.arange(len(train_p)), fold)
                result[fold] = nearest_residual(out_of_fold[fold], bank_shapes[rest], bank_residuals[rest], k, alpha)
            score = nme(result, train_t)
            print(f"  linear + nearest residual k={k} alpha={alpha:g}: training {FOLDS}-fold {score:.3f}", flush=True)
            best = min(best or (score, k, alpha), (score, k, alpha))
    _, k, alpha = best
    added = nearest_residual(val_linear, bank_shapes, bank_residuals, k, alpha)
    print(f"  validation: linear {nme(val_linear, val_t):.3f}, + nearest residual (k={k} alpha={alpha:g}, chosen "
          f"on the training folds) {nme(added, val_t):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where an STN-iCNN loses its HELEN score: the crop geometry, the cropper, or the part models.

    python benchmarks/stn_icnn_gap.py --data ../shared/data/helen68 [--model stn_icnn_helen] \
        [--split val] [--train-faces 80] [--json benchmarks/results/stn_icnn_helen_gap.json]

Rows, all on the contours' labels of one split (each face aligned by its 68 points onto the
model's template, HELEN protocol, skin and hair not scored, as ``facezoo eval``):

* ``geometry ceiling``: perfect part and stage-1 probabilities (the one-hot labels,
  cropped around each part's labelled centroid and pasted back by the model's own sampler
  at its crop size and scale). What the crop resolution and window cost at most.
* ``ground-truth crops``: the model's part networks on crops centred on the labelled parts
  (no localizer error).
* ``own localizer``: the model as shipped.
* ``fixed crops``: the part networks on one fixed crop per part, centred where the part
  lies on average on the first ``--train-faces`` training faces (the localizer's scale):
  what a cropper that looks at nothing gets on these aligned faces.
* ``re-centred second pass``: the part networks again, on crops centred on the parts the
  model's first answer labels (a cropper that needs no ground truth).
* ``flip average``: the mean of the probabilities of the face and of its mirror image
  (mirrored back, left and right classes swapped). Brows and eyes already share one
  network across sides, on mirrored crops, so this mostly asks that network again.
* ``part prior xF``: the part classes' probabilities multiplied by F before the arg-max,
  the best F of a sweep (a precision/recall trade-off the protocol might reward).
* ``training faces``: the model as shipped on the first ``--train-faces`` training faces
  (no augmentation). Close to ``own localizer`` means the part networks underfit the labels
  rather than overfit the 800 faces.

A second table gives, per part, how far the localizer's crop centres fall from the labelled
centroids (mean and standard deviation of the shift, in pixels of the face, over the faces
where the part is labelled), and the spread of the labelled centroids themselves (what one
fixed crop per part would miss by on these aligned faces).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from facezoo.classmaps import HELEN, flip_permutation  # noqa: E402
from facezoo.evaluate import (_batches, aligned_helen_contours, contour_tables, evaluate_helen_contours,  # noqa: E402
                              load_model_for_eval, sample_count, write_json_atomic)
from facezoo.metrics import ConfusionMatrix, helen_scores  # noqa: E402
from facezoo.models.stn_icnn.stn_icnn import label_centroids  # noqa: E402

COLUMNS = ("brows", "eyes", "nose", "u_lip", "i_mouth", "l_lip", "mouth")
PRIOR_FACTORS = (0.8, 1.25, 1.5, 2.0)


def perfect_probabilities(model, labels):
    """What the model would output if stage 1 and every part network were exact: the
    one-hot labels through the model's own crop (centred on the labelled parts) and paste."""
    from keras import ops

    onehot = np.eye(len(model.class_names), dtype=np.float32)[labels]
    thetas = model.centroid_thetas(labels)
    crops = ops.convert_to_numpy(model.crop(onehot, thetas))  # (B, P, h, w, classes)
    part_logits = []
    for index, spec in enumerate(model.parts):
        foreground = crops[:, index][..., [model.class_names.index(c) for c in spec.classes]]
        background = np.clip(1.0 - foreground.sum(-1, keepdims=True), 0.0, 1.0)
        part_logits.append(np.log(np.maximum(np.concatenate([background, foreground], -1), 1e-6)))
    stage1 = ops.convert_to_numpy(model.to_stage1(onehot))
    return ops.convert_to_numpy(model._assemble(stage1, thetas, part_logits))


def mean_part_centres(model, faces, limit):
    """``(P, 2)``: each part's labelled centre (normalised x, y) averaged over the first
    ``limit`` faces where it is labelled."""
    from keras import ops

    part_ids = [[model.class_names.index(c) for c in spec.classes] for spec in model.parts]
    centres, present = [], []
    for samples in _batches(faces, 8, limit):
        labels = np.stack([s.labels for s in samples]).astype(np.int32)
        centres.append(model.centroid_thetas(labels)[..., 2])
        present.append(ops.convert_to_numpy(label_centroids(labels, part_ids)[1]) > 0)
    centres, present = np.concatenate(centres), np.concatenate(present)
    return np.stack([centres[present[:, i], i].mean(0) for i in range(len(model.parts))])


def _row(scores):
    return {**scores["groups"], "overall": scores["overall"], "overall_strict": scores["overall_strict"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="HELEN root (helen68: annotation/ and the image folders)")
    parser.add_argument("--model", default="stn_icnn_helen", help="an STN-iCNN preset, .keras or .npz")
    parser.add_argument("--split", default="val", help="scored split (default val: never tune on test)")
    parser.add_argument("--train-faces", type=int, default=80, help="training faces for the fit row (0: skip)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N faces of --split")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from keras import ops

    model = load_model_for_eval(args.model, "helen_contours")
    if not hasattr(model, "centroid_thetas") or tuple(model.class_names) != HELEN.names:
        raise SystemExit(f"{args.model} is not an STN-iCNN with HELEN's classes")
    labels_table, predicted_table = contour_tables()
    mirrored = flip_permutation(HELEN)
    part_ids = [[model.class_names.index(c) for c in spec.classes] for spec in model.parts]
    parts = sorted({i for ids in part_ids for i in ids})
    names = ["geometry ceiling", "ground-truth crops", "own localizer", "re-centred second pass", "flip average"]
    if args.train_faces:
        names.insert(3, "fixed crops")
        train = aligned_helen_contours(model, args.data, "train")
        fixed_centres = mean_part_centres(model, train, args.train_faces)
    rows = {name: ConfusionMatrix(HELEN.num_classes) for name in names}
    priors = {factor: ConfusionMatrix(HELEN.num_classes) for factor in PRIOR_FACTORS}

    def add(cm, probabilities, labels):
        for p, t in zip(probabilities, labels):
            cm.update(predicted_table[p.argmax(-1)], labels_table[t])

    shifts, centres, present = [], [], []
    faces = aligned_helen_contours(model, args.data, args.split)
    count = sample_count(faces, args.limit)
    for samples in tqdm(_batches(faces, 8, args.limit), total=-(-count // 8), desc=args.split, leave=False):
        images = np.stack([s.image for s in samples]).astype(np.float32) / 255.0
        labels = np.stack([s.labels for s in samples]).astype(np.int32)
        add(rows["geometry ceiling"], perfect_probabilities(model, labels), labels)
        exact = model.centroid_thetas(labels)
        add(rows["ground-truth crops"], ops.convert_to_numpy(model({"images": images, "thetas": exact})), labels)
        own = ops.convert_to_numpy(model(images, training=False))
        add(rows["own localizer"], own, labels)
        stage1 = ops.softmax(model.stage1(model.to_stage1(images), training=False), axis=-1)
        located = ops.convert_to_numpy(model.localizer(stage1, training=False))
        if args.train_faces:
            fixed = located.copy()
            fixed[..., 2] = fixed_centres
            add(rows["fixed crops"], ops.convert_to_numpy(model({"images": images, "thetas": fixed})), labels)
        second = model({"images": images, "thetas": model.centroid_thetas(own.argmax(-1))}, training=False)
        add(rows["re-centred second pass"], ops.convert_to_numpy(second), labels)
        flipped = ops.convert_to_numpy(model(images[:, :, ::-1], training=False))[:, :, ::-1][..., mirrored]
        add(rows["flip average"], (own + flipped) / 2, labels)
        for factor, cm in priors.items():
            weights = np.ones(own.shape[-1], np.float32)
            weights[parts] = factor
            add(cm, own * weights, labels)
        shifts.append(located[..., 2] - exact[..., 2])
        centres.append(exact[..., 2])
        present.append(ops.convert_to_numpy(label_centroids(labels, part_ids)[1]) > 0)
    results = {name: _row(helen_scores(cm.matrix)) for name, cm in rows.items()}
    best = max(priors, key=lambda f: helen_scores(priors[f].matrix)["overall"])
    results[f"part prior x{best:g}"] = _row(helen_scores(priors[best].matrix))
    if args.train_faces:
        scores = evaluate_helen_contours(model, train, limit=args.train_faces, progress=False)
        results[f"training faces ({sample_count(train, args.train_faces)})"] = _row(scores)

    half = (np.array(model.input_size[::-1], np.float64) - 1) / 2  # normalised -> pixels, (x, y)
    shifts, centres, present = np.concatenate(shifts) * half, np.concatenate(centres) * half, np.concatenate(present)
    localizer = {spec.name: {"faces": int(present[:, i].sum()),
                             "shift_mean_xy": shifts[present[:, i], i].mean(0).round(2).tolist(),
                             "shift_sd_xy": shifts[present[:, i], i].std(0).round(2).tolist(),
                             "labelled_centroid_sd_xy": centres[present[:, i], i].std(0).round(2).tolist()}
                 for i, spec in enumerate(model.parts)}

    title = f"{args.model}: HELEN protocol on {args.split} ({count} faces)"
    header = f"{title:<44}" + "".join(f"{c:>9}" for c in (*COLUMNS, "overall", "strict"))
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        print(f"{name:<44}" + "".join(f"{row[c]:9.3f}" for c in (*COLUMNS, "overall", "overall_strict")))
    print(f"\n{'crop centres, pixels (x, y)':<30}{'localizer shift mean':>22}{'shift sd':>14}{'labelled centroid sd':>24}")
    for name, row in localizer.items():
        mean, sd, spread = row["shift_mean_xy"], row["shift_sd_xy"], row["labelled_centroid_sd_xy"]
        print(f"{name:<30}{mean[0]:>+13.1f}, {mean[1]:+6.1f}{sd[0]:>8.1f}, {sd[1]:4.1f}{spread[0]:>18.1f}, {spread[1]:4.1f}")
    if args.json:
        write_json_atomic(args.json, {"model": args.model, "data": args.data, "split": args.split, "faces": count,
                                      "rows": results, "localizer": localizer})
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Does the photo pipeline's framing cost ADC accuracy? Measured on HELEN's training photos.

    python benchmarks/landmarks_pipeline_framing.py --data ../shared/data/helen68 [--cache frames.npz]

Runs adc_landmarks_300w and its fast preset, shape correction off, through MTCNN and the
template alignment (as ``facezoo landmarks`` frames faces) on the 870 training photos, and
prints, on the last 70 (the recipe's validation faces; the test set is not read):

* NME with the shipped correction (fitted on the recipe's crops) and with one refitted on
  these pipeline framings of the first 800 (ridge by 5-fold cross-validation), and the
  faces' mean point offset;
* a second pass: each face re-framed by the similarity from its first answer onto the
  training faces' mean true shape in the crop, and the model again;
* NME by region on training and validation faces, the jaw's error along / across its line,
  and the jaw's points re-spaced at the training faces' mean arc-length fractions.

``--cache`` keeps the first step's per-face points (about two minutes) for reruns.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TRAINING, FACES = 800, 870
PRESETS = ("adc_landmarks_300w", "adc_landmarks_300w_fast")
REGIONS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
           "mouth": range(48, 68)}


def pipeline_frames(data):
    """Per face: found by MTCNN (the box holding the true centre), the uncorrected points of
    each preset and the true points, both in the crop's pixels, the photo -> crop transform and
    the crop's side."""
    import facezoo
    from facezoo.align import apply
    from facezoo.data import Landmarks300W
    from facezoo.detect import MTCNNDetector
    from facezoo.pipeline import LandmarkDetector

    mtcnn, landmarkers = MTCNNDetector(), {}
    for name in PRESETS:
        model = facezoo.load(name, compile=False)
        model.shape_correction.reset()  # its uncorrected points
        landmarkers[name] = LandmarkDetector(model, detector=mtcnn)
    faces = Landmarks300W(data, "train")
    out = {"found": np.zeros(FACES, bool), "true": np.zeros((FACES, 68, 2)), "transform": np.zeros((FACES, 2, 3)),
           "side": np.zeros(FACES), **{name: np.zeros((FACES, 68, 2)) for name in PRESETS}}
    for index in range(FACES):
        sample = faces[index]
        true = np.asarray(sample.landmarks, np.float64)
        centre = true.mean(0)
        holding = [d for d in mtcnn(sample.image)
                   if d.box[0] <= centre[0] <= d.box[2] and d.box[1] <= centre[1] <= d.box[3]]
        if not holding:
            continue
        detection = min(holding, key=lambda d: np.linalg.norm((np.asarray(d.box[:2]) + d.box[2:]) / 2 - centre))
        for name in PRESETS:
            face = landmarkers[name].locate(sample.image, [detection]).faces[0]
            out[name][index] = apply(face.transform, face.landmarks)
        out["found"][index], out["true"][index] = True, apply(face.transform, true)
        out["transform"][index], out["side"][index] = face.transform, face.crop_size
    return out


def nme(points, true):
    from facezoo.metrics import landmark_scores

    return landmark_scores(np.asarray(points), np.asarray(true))["nme_inter_ocular"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (trainset/ is used)")
    parser.add_argument("--cache", default=None,
                        help="an .npz of the pipeline's points: read if it exists, else written")
    args = parser.parse_args(argv)

    import keras

    import facezoo
    from facezoo.align import apply, invert, similarity_transform, warp_to_crop
    from facezoo.data import Landmarks300W
    from facezoo.layers.shape_correction import ShapeCorrection
    from facezoo.pipeline import LandmarkDetector

    if args.cache and os.path.isfile(args.cache):
        frames = dict(np.load(args.cache))
    else:
        frames = pipeline_frames(args.data)
        if args.cache:
            np.savez(args.cache, **frames)
    found, true = frames["found"], frames["true"]
    train, val = np.flatnonzero(found[:TRAINING]), TRAINING + np.flatnonzero(found[TRAINING:FACES])
    shipped = facezoo.load(PRESETS[0], compile=False).shape_correction

    def corrected(layer, points):
        return keras.ops.convert_to_numpy(layer(points.astype("float32"))).astype(np.float64)

    iod = np.linalg.norm(true[:, 36] - true[:, 45], axis=-1)
    print(f"helen68 training photos through MTCNN + the template: {len(train)} training and {len(val)} validation "
          "faces found; NME %")
    for name in PRESETS:
        points = corrected(shipped, frames[name])
        offset = 100 * ((true - points) / iod[:, None, None]).mean(1)
        print(f"  {name}: uncorrected {nme(frames[name][val], true[val]):.3f}, shipped correction "
              f"{nme(points[val], true[val]):.3f}; mean offset (x, y) % of the inter-ocular distance "
              f"{offset[val].mean(0).round(2)} (training faces {offset[train].mean(0).round(2)})")
    folds = np.array_split(train, 5)
    print("correction refitted on the pipeline's framings of the training faces (both presets pooled):")
    for ridge in (0.1, 0.3, 1.0, 3.0):
        score = 0.0
        for fold in folds:
            rest = np.setdiff1d(train, fold)
            layer = ShapeCorrection(68)
            layer.fit(np.concatenate([frames[n][rest] for n in PRESETS]), np.concatenate([true[rest]] * 2), ridge)
            score += sum(nme(corrected(layer, frames[n][fold]), true[fold]) * len(fold) for n in PRESETS)
        layer = ShapeCorrection(68)
        layer.fit(np.concatenate([frames[n][train] for n in PRESETS]), np.concatenate([true[train]] * 2), ridge)
        scores = ", ".join(f"{n} {nme(corrected(layer, frames[n][val]), true[val]):.3f}" for n in PRESETS)
        print(f"  ridge {ridge:g}: cross-validation {score / (2 * len(train)):.3f}; validation {scores}")

    mean_shape = (true[train] / frames["side"][train, None, None] * 512).mean(0)  # in the nominal 512 crop
    faces = Landmarks300W(args.data, "train")
    print("a second pass, re-framed on the first answer (validation):")
    for name in PRESETS:
        landmarker = LandmarkDetector(facezoo.load(name, compile=False))
        first, second, truths = [], [], []
        for index in val:
            sample = faces[int(index)]
            points = apply(invert(frames["transform"][index]), corrected(shipped, frames[name][index][None])[0])
            nominal = similarity_transform(points, mean_shape)
            side = int(min(128 * np.ceil(512 / np.sqrt(abs(np.linalg.det(nominal[:, :2]))) / 128), landmarker.max_crop))
            transform = nominal * (side / 512)
            crop = warp_to_crop(sample.image, transform, (side, side))
            again = landmarker.predict(landmarker.model.preprocess(crop))[0]
            first.append(points), second.append(apply(invert(transform), again))
            truths.append(np.asarray(sample.landmarks, np.float64))
        first, second, truths = map(np.array, (first, second, truths))
        print(f"  {name}: first {nme(first, truths):.3f}, second {nme(second, truths):.3f}, their mean "
              f"{nme((first + second) / 2, truths):.3f}")

    points = corrected(shipped, frames[PRESETS[0]])
    error = np.linalg.norm(points - true, axis=-1) / iod[:, None] * 100
    print(f"{PRESETS[0]} by region, training / validation faces (NME %):")
    for region, indices in REGIONS.items():
        print(f"  {region:6s} {error[train][:, list(indices)].mean():.2f} / {error[val][:, list(indices)].mean():.2f}")
    tangent = np.gradient(true[:, :17], axis=1)
    tangent /= np.linalg.norm(tangent, axis=-1, keepdims=True)
    diff = (points - true)[:, :17]
    along = np.abs((diff * tangent).sum(-1)) / iod[:, None] * 100
    across = np.abs(diff[..., 0] * tangent[..., 1] - diff[..., 1] * tangent[..., 0]) / iod[:, None] * 100
    print(f"  jaw along / across its line: training {along[train].mean():.2f} / {across[train].mean():.2f}, "
          f"validation {along[val].mean():.2f} / {across[val].mean():.2f}")
    # the jaw's points re-spaced at the training faces' mean arc-length fractions along the predicted line
    fractions = jaw_fractions(true)
    target = fractions[train].mean(0)
    respaced = points.copy()
    for face in range(len(points)):
        own = jaw_fractions(points[face:face + 1])[0]
        respaced[face, :17] = np.stack([np.interp(target, own, points[face, :17, c]) for c in (0, 1)], -1)
    jaw = np.linalg.norm(respaced[val, :17] - true[val, :17], axis=-1) / iod[val, None] * 100
    print(f"  jaw re-spaced at the mean fractions: validation {jaw.mean():.2f}; sd of the true fractions up to "
          f"{fractions[train].std(0).max():.3f}, of the prediction's error in them up to "
          f"{(jaw_fractions(points) - fractions)[val].std(0).max():.3f}")
    return 0


def jaw_fractions(shapes):
    """Arc-length fraction of each jaw point (0..16) along its own jaw line, ``(N, 17)``."""
    steps = np.linalg.norm(np.diff(shapes[:, :17], axis=1), axis=-1)
    lengths = np.concatenate([np.zeros((len(shapes), 1)), np.cumsum(steps, 1)], 1)
    return lengths / lengths[:, -1:]


if __name__ == "__main__":
    sys.exit(main())

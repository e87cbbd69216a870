"""Recipe: dlib's 68 points on faces that have none, for semi-supervised landmark training.

    pip install -e ".[peers]"    # dlib-bin + face-recognition-models, never a runtime dependency
    python recipes/dlib_pseudo_landmarks.py --root ../shared/data/lfw_pl \
        --list ../shared/data/lfw_pl/parts_train.txt --list ../shared/data/lfw_pl/parts_validation.txt \
        --calibrate ../shared/data/helen68 --out runs/pseudo/lfw_pl_dlib68.json
    python recipes/dlib_pseudo_landmarks.py --root ../shared/data/celebamask_subset \
        --folder train/images \
        --calibrate ../shared/data/helen68 --out runs/pseudo/celebamask_dlib68.json

For every photo: dlib's HOG face detector (upsampled once below 1000 px), the face
nearest the photo's centre, dlib's 2014 68-point shape predictor on its box (the one in
``face-recognition-models``), and a square crop framed as the landmark recipe frames
300-W's HELEN crops once padded to a square (twice the points' box, centred). With
``--calibrate HELEN68_ROOT`` dlib's points are first moved onto 300-W's annotation
convention: a per-point offset, in units of dlib's own outer-eye-corner distance, fitted on
helen68's training faces less the last 70 (the landmark recipe's validation faces, on which
the recipe prints dlib's NME before and after the offset; dlib was trained on 300-W, which
holds HELEN's training faces, so those two numbers are optimistic for dlib). The test set
is not read. Photos without a face are listed in the file's ``skipped``. ``--tta`` averages dlib's
points over its box, six shifted or scaled boxes and the mirrored photo (the offset is fitted for that
average): on the validation faces 2.69 -> 2.45 % after the offset, against 2.84 -> 2.62 % without it. Writes a
:class:`facezoo.data.PointList` file; the photos stay where they are.

What is labelled: the commands above take LFW-PL's train and validation lists (the
validation list picks the LFW parsers' epochs, so a landmark model trained on these
points is not an independent judge of those parsers) and CelebAMask-HQ's train folder;
no test photo of any set. Terms: dlib's predictor was trained on iBUG's 300-W, whose
terms exclude commercial use; the points, and anything trained on them, carry those terms
and the photos' own.
"""

import argparse
import json
import os
import sys

import numpy as np
from tqdm import tqdm

SOURCE = "dlib 19/20 HOG detector + shape_predictor_68_face_landmarks (2014, iBUG 300-W; no commercial use)"
TTA_SOURCE = ", averaged over its box, six shifted or scaled boxes and the mirrored photo (--tta)"


def eye_distance(points):
    return float(np.linalg.norm(points[36] - points[45]))


def augmented_boxes(box, shift=0.04, scale=0.06):
    """``box`` ``(left, top, right, bottom)`` and six variants: moved by ``shift`` of its width
    left, right, up and down, and scaled by ``1 +- scale`` about its centre."""
    left, top, right, bottom = box
    width, cx, cy = right - left, (left + right) / 2, (top + bottom) / 2
    boxes = [tuple(box)]
    for dx, dy, factor in ((shift, 0, 1), (-shift, 0, 1), (0, shift, 1), (0, -shift, 1), (0, 0, 1 + scale),
                           (0, 0, 1 - scale)):
        half_w, half_h = (right - left) * factor / 2, (bottom - top) * factor / 2
        x, y = cx + dx * width, cy + dy * width
        boxes.append((x - half_w, y - half_h, x + half_w, y + half_h))
    return boxes


def calibrate(helen_root, points_of):
    """Mean (300-W point - dlib point) / dlib's eye distance over helen68's training faces
    less the landmark recipe's validation faces (where dlib finds the annotated face);
    prints dlib's NME on those validation faces without and with the offset."""
    from facezoo.data.io import image_files, read_image, read_pts
    from facezoo.models.adc_landmarks.presets import TRAINING

    def faces(paths, desc):
        for path in tqdm(paths, desc=desc):
            truth = read_pts(os.path.splitext(path)[0] + ".pts")
            found = points_of(read_image(path), centre=truth.mean(0))
            if found is not None and np.linalg.norm(found - truth, axis=1).mean() < 0.2 * eye_distance(truth):
                yield truth, found

    paths = image_files(os.path.join(helen_root, "trainset"))
    fit, held_out = paths[:-TRAINING["validation"]], paths[-TRAINING["validation"]:]
    residuals = [(truth - found) / eye_distance(found) for truth, found in faces(fit, "calibrating on helen68")]
    if not residuals:
        raise SystemExit(f"--calibrate: dlib found none of the annotated faces under {helen_root}/trainset")
    offset = np.mean(residuals, axis=0)
    scores = np.array([[np.linalg.norm(points - truth, axis=1).mean() / eye_distance(truth)
                        for points in (found, found + offset * eye_distance(found))]
                       for truth, found in faces(held_out, "checking on validation faces")])
    print(f"calibrated on {len(residuals)} helen68 training faces; dlib's NME on {len(scores)} of the "
          f"{len(held_out)} validation faces: {100 * scores[:, 0].mean():.2f} % -> {100 * scores[:, 1].mean():.2f} %")
    return offset


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="the folder the photos' paths are relative to")
    parser.add_argument("--folder", action="append", default=[], help="a folder of photos under --root")
    parser.add_argument("--list", action="append", default=[], help="an LFW-PL split file (Name Number lines)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--tta", action="store_true",
                        help="average dlib's points over its box, six shifted or scaled boxes and the mirrored photo "
                             "(validation NME after the offset 2.62 -> 2.45 %%; 8x the predictor's time)")
    parser.add_argument("--calibrate", metavar="HELEN68_ROOT", default=None,
                        help="fit dlib's offset to 300-W's points on helen68's 800 training faces first")
    args = parser.parse_args(argv)
    try:
        import dlib
        import face_recognition_models
    except ImportError as error:
        raise SystemExit(f"dlib is an optional extra: pip install -e \".[peers]\" ({error})") from None
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from facezoo.classmaps import MIRRORS
    from facezoo.data.io import DataError, image_files, read_image
    from facezoo.data.lfw_pl import read_split_list
    from facezoo.data.point_list import frame_like_300w
    from facezoo.utils import atomic_output

    images = [os.path.relpath(p, args.root) for folder in args.folder
              for p in image_files(os.path.join(args.root, folder))]
    try:
        images += [f"lfw_funneled/{name}/{sample_id}.jpg" for path in args.list
                   for name, sample_id in read_split_list(path)]
    except DataError as error:
        parser.error(str(error))
    images = list(dict.fromkeys(images))  # a photo given twice is labelled once
    if not images:
        parser.error("no photos: give --folder or --list")
    images = images[:args.limit]
    hog = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())

    def predicted(image, box):
        return np.array([(p.x, p.y) for p in shape(image, dlib.rectangle(*map(int, np.round(box)))).parts()],
                        np.float64)

    def points_of(image, centre=None):
        """dlib's 68 points of the face nearest ``centre`` (default: the photo's), or None;
        with ``--tta`` the mean of eight predictions (:func:`augmented_boxes`)."""
        rects = list(hog(image, 1 if max(image.shape[:2]) < 1000 else 0))
        if not rects:
            return None
        centre = np.array(image.shape[1::-1]) / 2.0 if centre is None else centre
        rect = min(rects, key=lambda r: np.hypot((r.left() + r.right()) / 2 - centre[0],
                                                   (r.top() + r.bottom()) / 2 - centre[1]))
        box = (rect.left(), rect.top(), rect.right(), rect.bottom())
        if not args.tta:
            return predicted(image, box)
        answers = [predicted(image, b) for b in augmented_boxes(box)]
        width = image.shape[1]
        mirrored = predicted(np.ascontiguousarray(image[:, ::-1]), (width - 1 - box[2], box[1], width - 1 - box[0],
                                                                    box[3]))
        mirrored[:, 0] = width - 1 - mirrored[:, 0]
        return np.mean(answers + [mirrored[MIRRORS[68]]], axis=0)

    offset = np.zeros((68, 2))
    if args.calibrate:
        offset = calibrate(args.calibrate, points_of)
    faces, skipped = [], []
    for relative in tqdm(images, desc="dlib 68 points"):
        try:
            image = read_image(os.path.join(args.root, relative))  # EXIF-rotated as PointList reads it
        except DataError as error:
            skipped.append([relative, f"unreadable: {error}"])
            continue
        points = points_of(image)
        if points is None:
            skipped.append([relative, "no face found"])
            continue
        points = (points + offset * eye_distance(points)).tolist()
        faces.append({"image": relative, "crop": frame_like_300w(points), "points": points})
    with atomic_output(args.out, suffix=".json") as temp, open(temp, "w") as handle:
        json.dump({"source": SOURCE + (TTA_SOURCE if args.tta else ""), "points_per_face": 68,
                   "calibration": offset.tolist(),
                   "faces": faces, "skipped": skipped}, handle)
    print(f"{len(faces)} faces labelled, {len(skipped)} photos skipped -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

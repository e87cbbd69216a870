"""HELEN face parsing, in Smith et al.'s (CVPR 2013) layout.

    ROOT/images/<id>.jpg
    ROOT/labels/<id>/<id>_lbl00.png ... <id>_lbl10.png   (one grey mask per class)
    ROOT/exemplars.txt (train, 2000), tuning.txt (val, 230), testing.txt (test, 100)

Split lines read ``"1 , 100032540_1"`` (index, id) or just the id. Masks may be soft
(0-255); each pixel takes the class of its largest mask, lbl00 (background) winning
ties. Class order is facezoo's ``helen`` class map.
"""

import os

import numpy as np

from facezoo.align import apply, similarity_transform, warp_to_crop
from facezoo.classmaps import HELEN
from facezoo.data.base import FaceDataset, Sample
from facezoo.data.io import DataError, check_same_size, read_image, read_label_png, read_pts

SPLIT_FILES = {"train": "exemplars.txt", "val": "tuning.txt", "test": "testing.txt"}


def read_split_ids(path):
    """Sample ids of a HELEN split list (``"N , id"`` or ``"id"`` lines)."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: split list missing")
    ids = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                ids.append(line.split(",")[-1].strip())
    return ids


class HelenParsing(FaceDataset):
    """HELEN faces with 11-class label maps."""

    splits = tuple(SPLIT_FILES)
    class_map = HELEN

    def _find(self, split):
        for sample_id in read_split_ids(os.path.join(self.root, SPLIT_FILES[split])):
            image = os.path.join(self.root, "images", sample_id + ".jpg")
            if not os.path.isfile(image):
                raise DataError(f"{image}: image listed in {SPLIT_FILES[split]} is missing")
            masks = [
                os.path.join(self.root, "labels", sample_id, f"{sample_id}_lbl{k:02d}.png")
                for k in range(HELEN.num_classes)
            ]
            missing = [m for m in masks if not os.path.isfile(m)]
            if missing:
                raise DataError(f"{missing[0]}: label mask missing for {image}")
            yield sample_id, image, masks

    def _load(self, record):
        sample_id, image_path, mask_paths = record
        image = read_image(image_path)
        masks = []
        for path in mask_paths:
            mask = read_label_png(path)
            check_same_size(image, mask, path)
            masks.append(mask)
        labels = np.argmax(np.stack(masks, axis=0), axis=0).astype(np.int32)
        return Sample(sample_id, image, labels)


# === HELEN's own annotation (Le et al., ECCV 2012): 194-point contours ===================
#
#     ROOT/annotation/<n>.txt     first line: the image name; then 194 lines "x , y"
#     ROOT/<images>/<name>.jpg    (this copy: trainset/ and testset/; HELEN's download:
#                                  train_1..train_4/ and test/), with <name>.pts (68 points
#                                  of 300-W) beside it where there is one
#
# The contours, in order, and which side is which (by drawing them: l_ = the subject's
# left, on the image's right):
CONTOURS = {
    "jaw": (0, 41),          # one ear to the other, under the chin (open)
    "nose": (41, 58),        # the lower nose: wings, tip, nostrils (open; closed by a chord)
    "outer_lip": (58, 86),   # closed; 58 and 72 are the mouth corners, 59-71 the upper line
    "inner_lip": (86, 114),  # closed; 86 and 100 are the corners, 87-99 the upper line
    "left_eye": (114, 134),  # the subject's left eye (image right), closed
    "right_eye": (134, 154),
    "left_brow": (154, 174),
    "right_brow": (174, 194),
}
NUM_CONTOUR_POINTS = 194
#: Label of a pixel the contours cannot tell (skin, hair, the nose bridge or background).
#: Every facezoo loss leaves labels < 0 out; the HELEN metrics read it as "not a component".
IGNORE = -1

HELEN_IMAGE_FOLDERS = {
    "train": ("trainset", "train_1", "train_2", "train_3", "train_4", "train"),
    "test": ("testset", "test"),
}
#: Faces of the training folders held out for validation: the last ones in sorted order,
#: as facezoo's landmark recipes do, so that no preset tunes on faces another trained on.
HELEN_VALIDATION_FACES = 70


def read_helen_annotation(path):
    """``(image name, (194, 2) float32 points)`` of one HELEN annotation file."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [line.strip() for line in handle if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read HELEN annotation ({error})") from None
    if not lines:
        raise DataError(f"{path}: empty HELEN annotation file")
    name, rows = lines[0], lines[1:]
    if len(rows) != NUM_CONTOUR_POINTS:
        raise DataError(f"{path}: expected {NUM_CONTOUR_POINTS} 'x , y' lines after the image name, found {len(rows)}")
    points = []
    for number, row in enumerate(rows, start=2):
        parts = row.split(",")
        try:
            x, y = (float(v) for v in parts)
        except ValueError:
            raise DataError(f"{path}, line {number}: expected 'x , y', got {row!r}") from None
        points.append((x, y))
    points = np.asarray(points, np.float32)
    if not np.isfinite(points).all():
        raise DataError(f"{path}: non-finite coordinates")
    return name, points


def _inside(polygon, xs, ys):
    """Even-odd point-in-polygon of the points ``(xs, ys)`` (arrays of one shape)."""
    inside = np.zeros(xs.shape, bool)
    x0, y0 = polygon[-1]
    for x1, y1 in polygon:
        crosses = (y0 > ys) != (y1 > ys)
        if crosses.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                x_at = x0 + (ys - y0) * (x1 - x0) / (y1 - y0)
            inside ^= crosses & (xs < x_at)
        x0, y0 = x1, y1
    return inside


def component_polygons(contours):
    """The closed polygons of HELEN's component classes, drawn from 194 contour points:
    ``[(class name, polygon (N, 2)), ...]`` in drawing order (a later one wins a pixel).

    Class names are facezoo's ``helen`` class map; ``l_``/``r_`` are the subject's sides
    (the subject's left eye, on the image's right, is ``l_eye``). Upper lip = between the
    outer and inner upper lines; lower lip likewise; inner mouth = inside the inner line."""
    c = {k: contours[a:b] for k, (a, b) in CONTOURS.items()}
    outer, inner = c["outer_lip"], c["inner_lip"]
    upper_lip = np.concatenate([outer[:15], inner[14::-1]])   # corner, upper line, corner, back
    lower_lip = np.concatenate([outer[14:], outer[:1], inner[:1], inner[:13:-1]])
    return [
        ("nose", c["nose"]),
        ("l_brow", c["left_brow"]), ("r_brow", c["right_brow"]),
        ("l_eye", c["left_eye"]), ("r_eye", c["right_eye"]),
        ("u_lip", upper_lip), ("l_lip", lower_lip), ("i_mouth", inner),
    ]


def rasterise_components(contours, shape, class_map=HELEN, unknown=IGNORE, supersample=4):
    """HELEN's component label map ``(H, W)`` int32 from 194 contour points in pixels.

    Each pixel (pixel ``i`` covers ``[i - 0.5, i + 0.5]``) takes the class covering most of
    its area, measured on ``supersample``\\ :sup:`2` sub-pixels (anti-aliased edges: a pixel
    half inside an eye is an eye pixel only if more than half of it is); pixels that no
    component covers more than all of them together get ``unknown`` (:data:`IGNORE` by
    default; ``0`` calls them background).
    """
    height, width = shape
    labels = np.full((height, width), unknown, np.int32)
    polygons = component_polygons(np.asarray(contours, np.float64))
    every = np.concatenate([p for _, p in polygons])
    x0, y0 = np.maximum(np.floor(every.min(0)).astype(int) - 1, 0)
    x1 = int(min(np.ceil(every[:, 0].max()) + 2, width))
    y1 = int(min(np.ceil(every[:, 1].max()) + 2, height))
    if x1 <= x0 or y1 <= y0:
        return labels
    n = supersample
    offsets = (np.arange(n) + 0.5) / n - 0.5
    # Sub-pixel hits per class, over the window holding every component (uint8: n*n <= 255).
    counts = np.zeros((class_map.num_classes, y1 - y0, x1 - x0), np.uint8)
    for name, polygon in polygons:
        px0, py0 = np.maximum(np.floor(polygon.min(0)).astype(int), (x0, y0))
        px1, py1 = np.minimum(np.ceil(polygon.max(0)).astype(int) + 1, (x1, y1))
        if px1 <= px0 or py1 <= py0:
            continue
        xs = (np.arange(px0, px1)[:, None] + offsets).ravel()
        ys = (np.arange(py0, py1)[:, None] + offsets).ravel()
        hit = _inside(polygon, *np.meshgrid(xs, ys))
        hits = hit.reshape(py1 - py0, n, px1 - px0, n).sum(axis=(1, 3)).astype(np.uint8)
        counts[class_map.index(name), py0 - y0:py1 - y0, px0 - x0:px1 - x0] += hits
    total = counts.sum(0, dtype=np.int32)
    covered = total * 2 > n * n  # components cover more than half the pixel's area
    window = labels[y0:y1, x0:x1]
    window[covered] = counts.argmax(0)[covered]
    return labels


class HelenContours(FaceDataset):
    """HELEN faces with their 194-point contours (Le et al. 2012) and a component label map
    rasterised from them (:func:`rasterise_components`).

    Splits: ``"test"`` (the 330 faces of HELEN's test folder), ``"train"`` (the training
    folders but their last :data:`HELEN_VALIDATION_FACES` faces in sorted order), ``"val"``
    (those), ``"trainval"`` (all training faces). Each :class:`Sample` has ``labels``
    (``unknown`` where the contours cannot tell: :data:`IGNORE` by default), ``contours``
    ``(194, 2)`` and, where a 300-W ``.pts`` file sits beside the image, ``landmarks``
    ``(68, 2)``.

    ``align_to`` (five keypoints ``(5, 2)`` in pixels of a crop of ``size``, in
    ``facezoo.detect.KEYPOINT_NAMES`` order, e.g. a preset's alignment template) gives each
    face aligned instead: the similarity transform taking its eye centres, nose tip and
    mouth corners (from the 68 points) onto those keypoints warps the image into the
    crop, and the labels are rasterised from the moved contours in the crop itself.

    Example:
        >>> test = HelenContours("../shared/data/helen68", "test")
        >>> sample = test[0]; sample.labels.shape, sample.contours.shape
    """

    splits = ("train", "val", "trainval", "test")
    class_map = HELEN

    def __init__(self, root, split="train", unknown=IGNORE, align_to=None, size=(512, 512), on_error="raise"):
        self.unknown = int(unknown)
        self.align_to = None if align_to is None else np.asarray(align_to, np.float64)
        if self.align_to is not None and self.align_to.shape != (5, 2):
            raise ValueError(f"align_to must be five (x, y) keypoints, got shape {self.align_to.shape}")
        self.size = tuple(size)
        super().__init__(root, split, on_error)

    def _find(self, split):
        folder = os.path.join(self.root, "annotation")
        if not os.path.isdir(folder):
            raise DataError(f"{folder}: HELEN annotation folder missing")
        group = "test" if split == "test" else "train"
        images = {}
        for sub in HELEN_IMAGE_FOLDERS[group]:
            path = os.path.join(self.root, sub)
            if os.path.isdir(path):
                for name in os.listdir(path):
                    stem, ext = os.path.splitext(name)
                    if ext.lower() in (".jpg", ".jpeg", ".png"):
                        images.setdefault(stem, os.path.join(path, name))
        if not images:
            raise DataError(f"{self.root}: no image folder for split {split!r} "
                            f"(looked for {', '.join(HELEN_IMAGE_FOLDERS[group])})")
        records = []
        for file in sorted(os.listdir(folder)):
            if not file.endswith(".txt"):
                continue
            path = os.path.join(folder, file)
            with open(path, encoding="utf-8", errors="replace") as handle:
                name = handle.readline().strip()
            if name in images:
                records.append((name, images[name], path))
        records.sort()
        held_out = min(HELEN_VALIDATION_FACES, len(records) // 2)  # a small copy keeps half for training
        if split == "train":
            records = records[:len(records) - held_out]
        elif split == "val":
            records = records[len(records) - held_out:]
        return records

    def _load(self, record):
        sample_id, image_path, annotation_path = record
        name, contours = read_helen_annotation(annotation_path)
        if name != sample_id:
            raise DataError(f"{annotation_path}: names image {name!r}, expected {sample_id!r}")
        image = read_image(image_path)
        pts = os.path.splitext(image_path)[0] + ".pts"
        landmarks = read_pts(pts) if os.path.isfile(pts) else None
        if self.align_to is not None:
            if landmarks is None:
                raise DataError(f"{pts}: aligning a face needs its 68 points")
            transform = similarity_transform(five_keypoints(landmarks), self.align_to)
            image = warp_to_crop(image, transform, self.size)
            contours = apply(transform, contours).astype(np.float32)
            landmarks = apply(transform, landmarks).astype(np.float32)
        labels = rasterise_components(contours, image.shape[:2], unknown=self.unknown)
        return Sample(sample_id, image, labels, landmarks, contours=contours)


class HelenContourPoints(HelenContours):
    """HELEN faces whose ``landmarks`` are their 194 contour points (Le et al.'s dense scheme,
    in :data:`CONTOURS` order), for training and scoring landmark models on it; no label map
    is drawn. Splits as :class:`HelenContours` (the same faces as facezoo's 68-point recipes:
    ``"val"`` the last 70 training faces). Flips swap the points by
    :data:`facezoo.classmaps.FLIP_194`.

    Example:
        >>> faces = HelenContourPoints("../shared/data/helen68", "train")
        >>> faces[0].landmarks.shape
        (194, 2)
    """

    def __init__(self, root, split="train", on_error="raise"):
        super().__init__(root, split, on_error=on_error)

    def _load(self, record):
        sample_id, image_path, annotation_path = record
        name, contours = read_helen_annotation(annotation_path)
        if name != sample_id:
            raise DataError(f"{annotation_path}: names image {name!r}, expected {sample_id!r}")
        return Sample(sample_id, read_image(image_path), landmarks=contours)


def contour_combination(root, ridge=1.0):
    """``(194, 68)``: each of HELEN's contour points as an affine combination of the face's 68
    points (rows sum to 1, the same weights for x and y, so it moves with the face under any
    similarity), least squares with a ``ridge`` on the training faces' annotation (the
    ``"train"`` split of :class:`HelenContours` at ``root``, with their 300-W ``.pts``), each
    face centred on its 68 points' mean and scaled to unit RMS radius.

    Example:
        >>> combination = contour_combination("../shared/data/helen68")
        >>> contours = combination @ points_68        # (194, 2), in the points' pixels
    """
    points, contours = [], []
    for _, image_path, annotation_path in HelenContours(root, "train").records:
        landmarks = read_pts(os.path.splitext(image_path)[0] + ".pts")
        centre = landmarks.mean(0)
        radius = np.sqrt(np.square(landmarks - centre).sum(1).mean())
        points.append((landmarks - centre) / radius)
        contours.append((read_helen_annotation(annotation_path)[1] - centre) / radius)
    # x and y rows of every face stacked: (2N, 68) -> (2N, 194)
    inputs = np.concatenate([np.stack(points)[..., axis] for axis in (0, 1)])
    outputs = np.concatenate([np.stack(contours)[..., axis] for axis in (0, 1)])
    weights = np.linalg.solve(inputs.T @ inputs + ridge * np.eye(inputs.shape[1]), inputs.T @ outputs).T
    # centred inputs sum to zero over the points, so adding a constant to a row changes no
    # prediction on them and makes it affine: the centre is then carried by the row's sum
    return weights + (1.0 - weights.sum(1, keepdims=True)) / weights.shape[1]


def five_keypoints(landmarks):
    """The five keypoints of ``facezoo.detect`` (image-left eye centre, image-right eye
    centre, nose tip, left and right mouth corners) from iBUG's 68 points."""
    points = np.asarray(landmarks, np.float64)
    return np.stack([points[36:42].mean(0), points[42:48].mean(0), points[30], points[48], points[54]])

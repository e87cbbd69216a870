"""Faces listed in a JSON file with their landmarks and a square crop, read from the
photos they came from: the format of machine-made labels (for example another detector's
68 points on unlabelled photos, for semi-supervised training), so that the photos are
never copied or re-encoded.

The file::

    {"source": "who made the points", "points_per_face": 68,
     "faces": [{"image": "lfw_funneled/Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
                "crop": [x0, y0, side], "points": [[x, y], ...]}, ...]}

``image`` is relative to the folder the dataset is given; ``points`` are in that photo's
pixels; ``crop`` is the square cut out around the face (black where it leaves the photo).
"""

import json
import os

import numpy as np

from facezoo.data.base import FaceDataset, Sample
from facezoo.data.io import DataError, read_image


def frame_like_300w(points):
    """The square a 300-W HELEN crop becomes once padded to a centred square (as the
    landmark recipe feeds it, :func:`~facezoo.data.feeding.pad_to_square`): centred on the
    points' box, twice the box's longer side (half a face of margin each way; 300-W's crops
    add the longer side to each axis, so they are not square themselves). Returns
    ``[x0, y0, side]``; unlike the padding, the margin here shows the photo."""
    points = np.asarray(points, np.float64)
    low, high = points.min(0), points.max(0)
    side = 2.0 * float((high - low).max())
    centre = (low + high) / 2.0
    return [float(centre[0] - side / 2), float(centre[1] - side / 2), side]


def cut_square(image, crop):
    """``image`` cut to the square ``crop = [x0, y0, side]`` (rounded to whole pixels),
    black outside the photo; returns the cut and its ``(x, y)`` origin in the photo."""
    x0, y0, side = (int(round(value)) for value in crop)
    if side < 1:
        raise ValueError(f"crop side {side} < 1")
    height, width = image.shape[:2]
    out = np.zeros((side, side, 3), np.uint8)
    top, left = max(0, y0), max(0, x0)
    bottom, right = min(height, y0 + side), min(width, x0 + side)
    if bottom > top and right > left:
        out[top - y0:bottom - y0, left - x0:right - x0] = image[top:bottom, left:right]
    return out, np.array([x0, y0], np.float32)


class PointList(FaceDataset):
    """The faces of a point-list JSON file (format above), photos under ``root``.

    Every entry is checked when the list is opened (a clear :class:`DataError` naming the
    file and the face, for a wrong root, a missing photo or a malformed entry); photos are
    read when a sample is.

    Example (as ``recipes/adc_landmarks_300w.py --extra`` uses it):
        >>> helen = Landmarks300W("../shared/data/helen68", "train")
        >>> helen.records = helen.records[:-70]                   # the last 70 validate
        >>> extra = PointList("../shared/data/lfw_pl", "runs/pseudo/lfw_pl_dlib68.json")
        >>> ParsingSequence(ConcatDataset(helen, extra), 8, (512, 512), target="landmarks",
        ...                 augment=lambda sample, rng: pad_to_square(sample)[0])
    """

    splits = ("train",)

    def __init__(self, root, list_path, on_error="raise"):
        try:
            with open(list_path) as handle:
                listing = json.load(handle)
            self.faces = listing["faces"]
            self.points_per_face = int(listing["points_per_face"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DataError(f"{list_path}: not a point list ({error})") from None
        self.list_path = list_path
        self.source = listing.get("source", "")
        super().__init__(root, "train", on_error=on_error)

    def _find(self, split):
        # Every entry is checked here, before any training starts: a wrong root or a bad
        # entry in a machine-made file should not surface in a data worker mid-epoch.
        if not isinstance(self.faces, list):
            raise DataError(f"{self.list_path}: 'faces' must be a list")
        for index, face in enumerate(self.faces):
            where = f"{self.list_path}: face {index}"
            if not isinstance(face, dict):
                raise DataError(f"{where}: expected an object with image, crop and points")
            image = face.get("image")
            if not isinstance(image, str):
                raise DataError(f"{where}: 'image' must be a path relative to the root, got {image!r}")
            try:
                points = np.asarray(face["points"], np.float32)
                crop = np.asarray(face["crop"], np.float64)
            except (KeyError, TypeError, ValueError) as error:
                raise DataError(f"{where} ({image}): missing or malformed {error}") from None
            if points.shape != (self.points_per_face, 2) or not np.isfinite(points).all():
                raise DataError(f"{where} ({image}): expected {self.points_per_face} finite (x, y) points, "
                                f"found shape {points.shape}")
            if crop.shape != (3,) or not np.isfinite(crop).all() or round(crop[2]) < 1:
                raise DataError(f"{where} ({image}): crop must be [x0, y0, side] with side >= 1, "
                                f"got {face['crop']!r}")
            path = os.path.join(self.root, image)
            if not os.path.isfile(path):
                raise DataError(f"{where}: {path}: no such photo (is {self.root} the folder the list's "
                                f"paths are relative to?)")
            yield f"{image}#{index}", path, crop.tolist(), points

    def _load(self, record):
        sample_id, path, crop, points = record
        image, origin = cut_square(read_image(path), crop)
        return Sample(sample_id, image, landmarks=points - origin)

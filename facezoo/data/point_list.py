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
    """The square 300-W's HELEN crops use around a face: centred on its points' box, twice
    the box's longer side (half a face of margin each way). Returns ``[x0, y0, side]``."""
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

    Example:
        >>> extra = PointList("../shared/data/lfw_pl", "runs/pseudo/lfw_pl_dlib68.json")
        >>> ParsingSequence(ConcatDataset(Landmarks300W(helen, "train"), extra), 8, (512, 512),
        ...                 target="landmarks")
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
        for index, face in enumerate(self.faces):
            yield f"{face.get('image', '?')}#{index}", face

    def _load(self, record):
        sample_id, face = record
        try:
            points = np.asarray(face["points"], np.float32)
            crop = face["crop"]
            path = os.path.join(self.root, face["image"])
        except (KeyError, TypeError) as error:
            raise DataError(f"{self.list_path}: face {sample_id}: missing {error}") from None
        if points.shape != (self.points_per_face, 2):
            raise DataError(f"{self.list_path}: face {sample_id}: expected {self.points_per_face} points, "
                            f"found shape {points.shape}")
        image, origin = cut_square(read_image(path), crop)
        return Sample(sample_id, image, landmarks=points - origin)

"""Folders of faces with 300-W ``.pts`` landmark files (68 iBUG points).

    ROOT/<split folder>/<id>.jpg + <id>.pts

For the HELEN-68 copy: ``split="train"`` reads ``trainset/``, ``"test"`` reads
``testset/``; ``split="."`` reads ROOT itself. Any image extension PIL reads is taken.
"""

import os

from facezoo.data.base import FaceDataset, Sample
from facezoo.data.io import DataError, read_image, read_pts

SPLIT_FOLDERS = {"train": "trainset", "test": "testset", ".": "."}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class Landmarks300W(FaceDataset):
    """Faces with 68-point landmarks from ``.pts`` files."""

    splits = tuple(SPLIT_FOLDERS)
    class_map = None

    def _find(self, split):
        folder = os.path.join(self.root, SPLIT_FOLDERS[split])
        if not os.path.isdir(folder):
            raise DataError(f"{folder}: no folder for split {split!r}")
        for name in sorted(os.listdir(folder)):
            stem, ext = os.path.splitext(name)
            if ext.lower() not in IMAGE_EXTENSIONS:
                continue
            pts = os.path.join(folder, stem + ".pts")
            if not os.path.isfile(pts):
                raise DataError(f"{pts}: landmarks missing for {os.path.join(folder, name)}")
            yield stem, os.path.join(folder, name), pts

    def _load(self, record):
        sample_id, image_path, pts_path = record
        image = read_image(image_path)
        landmarks = read_pts(pts_path)
        if len(landmarks) != 68:
            raise DataError(f"{pts_path}: expected 68 points, found {len(landmarks)}")
        return Sample(sample_id, image, landmarks=landmarks)

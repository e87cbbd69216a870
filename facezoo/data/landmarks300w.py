"""Folders of faces with 300-W ``.pts`` landmark files (68 iBUG points).

    ROOT/<split folder>/<id>.jpg + <id>.pts

For the HELEN-68 copy: ``split="train"`` reads ``trainset/``, ``"test"`` reads
``testset/``; ``split="."`` reads ROOT itself. Any image extension PIL reads is taken.
"""

import os

from facezoo.data.base import FaceDataset, Sample
from facezoo.data.io import DataError, image_files, read_image, read_pts

SPLIT_FOLDERS = {"train": "trainset", "test": "testset", ".": "."}


class Landmarks300W(FaceDataset):
    """Faces with 68-point landmarks from ``.pts`` files."""

    splits = tuple(SPLIT_FOLDERS)
    class_map = None

    def _find(self, split):
        folder = os.path.join(self.root, SPLIT_FOLDERS[split])
        if not os.path.isdir(folder):
            raise DataError(f"{folder}: no folder for split {split!r}")
        for path in image_files(folder):
            stem = os.path.splitext(path)[0]
            if not os.path.isfile(stem + ".pts"):
                raise DataError(f"{stem}.pts: landmarks missing for {path}")
            yield os.path.basename(stem), path, stem + ".pts"

    def _load(self, record):
        sample_id, image_path, pts_path = record
        image = read_image(image_path)
        landmarks = read_pts(pts_path)
        if len(landmarks) != 68:
            raise DataError(f"{pts_path}: expected 68 points, found {len(landmarks)}")
        return Sample(sample_id, image, landmarks=landmarks)

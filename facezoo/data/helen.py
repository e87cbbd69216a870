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

from facezoo.classmaps import HELEN
from facezoo.data.base import FaceDataset, Sample
from facezoo.data.io import DataError, check_same_size, read_image, read_label_png

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

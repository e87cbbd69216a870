"""Dataset layouts, augmentation and feeding for Keras.

Every dataset yields :class:`Sample` objects (uint8 RGB image, int32 label map in the
dataset's class map, float32 landmarks in pixels) and raises :class:`DataError` naming
the file when something is wrong.
"""

from facezoo.data.augment import Augmenter
from facezoo.data.base import FaceDataset, Sample
from facezoo.data.celebamask import CelebAMask, CelebAMaskMerged, CelebAMaskOfficial
from facezoo.data.feeding import ParsingSequence, sequence_for, to_tf_dataset
from facezoo.data.folder import FolderDataset
from facezoo.data.helen import HelenContourPoints, HelenContours, HelenParsing
from facezoo.data.io import DataError, read_image, read_pts
from facezoo.data.landmarks300w import Landmarks300W
from facezoo.data.lfw_pl import LFWPartLabels
from facezoo.data.point_list import PointList
from facezoo.data.unlabelled import AlignedFaces, ConcatDataset

DATASETS = {
    "helen": HelenParsing,
    "helen_contours": HelenContours,
    "lfw_pl": LFWPartLabels,
    "celebamask": CelebAMask,
    "300w": Landmarks300W,
    "helen194": HelenContourPoints,
}


def open_dataset(name, root, split, **kwargs):
    """Open dataset ``name`` (one of :data:`DATASETS`) at ``root``."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name](root, split, **kwargs)


__all__ = [
    "Augmenter", "FaceDataset", "Sample", "CelebAMask", "CelebAMaskMerged", "CelebAMaskOfficial",
    "ParsingSequence", "sequence_for", "to_tf_dataset", "FolderDataset", "HelenParsing", "HelenContours",
    "HelenContourPoints",
    "DataError", "read_image", "read_pts",
    "Landmarks300W", "LFWPartLabels", "PointList", "AlignedFaces", "ConcatDataset", "DATASETS", "open_dataset",
]

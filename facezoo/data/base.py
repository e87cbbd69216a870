"""The common sample format and the base class of every dataset layout."""

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
from tqdm.auto import tqdm

from facezoo.data.io import DataError


@dataclass
class Sample:
    """One face: ``image`` uint8 (H, W, 3); ``labels`` int32 (H, W) in the dataset's class
    map (negative = unknown, left out of every loss), or None; ``landmarks`` float32
    (N, 2) in pixels (x, y), or None; ``contours`` float32 (194, 2), HELEN's dense
    annotation, where the dataset has it."""

    id: str
    image: np.ndarray
    labels: Optional[np.ndarray] = None
    landmarks: Optional[np.ndarray] = None
    contours: Optional[np.ndarray] = None


class FaceDataset:
    """A list of samples read lazily from a dataset's own layout on disk.

    Subclasses set ``splits`` (the split names they accept) and ``class_map`` (or None for
    landmark sets) and implement ``_find(split)`` -> records and ``_load(record)`` ->
    :class:`Sample`; a record is a tuple whose first item is the sample id.

    ``on_error="raise"`` (default) raises :class:`DataError` naming the file at the first
    bad sample; ``on_error="skip"`` reads every sample once up front, drops the bad ones
    and lists them in ``skipped`` as ``(id, reason)``.
    """

    splits = ()
    class_map = None

    def __init__(self, root, split="train", on_error="raise"):
        root = os.fspath(root)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"{type(self).__name__}: dataset root {root!r} is not a directory")
        if split not in self.splits:
            raise ValueError(f"{type(self).__name__}: unknown split {split!r}; choose one of {', '.join(self.splits)}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.root = root
        self.split = split
        self.skipped = []
        self.records = list(self._find(split))
        if not self.records:
            raise DataError(f"{type(self).__name__}: split {split!r} under {root} holds no samples")
        if on_error == "skip":
            kept = []
            for record in tqdm(self.records, desc=f"checking {split}", leave=False):
                try:
                    self._load(record)
                    kept.append(record)
                except DataError as error:
                    self.skipped.append((record[0], str(error)))
            self.records = kept
            if self.skipped:
                print(f"{type(self).__name__}: skipped {len(self.skipped)} bad samples of {split!r}")
            if not self.records:
                raise DataError(f"{type(self).__name__}: every sample of split {split!r} is bad")

    def __len__(self):
        return len(self.records)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} samples")
        return self._load(self.records[index])

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]

    @property
    def ids(self):
        return [record[0] for record in self.records]

    def __repr__(self):
        return f"{type(self).__name__}(root={self.root!r}, split={self.split!r}, samples={len(self)})"

    def _find(self, split):
        raise NotImplementedError

    def _load(self, record):
        raise NotImplementedError

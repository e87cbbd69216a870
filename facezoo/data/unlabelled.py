"""Unlabelled faces for semi-supervised training: photos, each face detected and aligned
to a preset's template, held in memory as :class:`Sample` objects without labels."""

import os

import numpy as np
from tqdm import tqdm

from facezoo.data.base import Sample
from facezoo.data.io import DataError, image_files, read_image


class AlignedFaces:
    """The most confident face of every photo under ``folder`` (recursively), aligned as
    preset ``preset`` expects and cropped at ``size`` ``(H, W)``; photos without a face
    are counted in ``skipped``.

    Example:
        >>> extra = AlignedFaces("../shared/data/helen68/trainset", "icnn_lfw", (256, 256))
        >>> ParsingSequence(ConcatDataset(labelled, extra), 16, (256, 256), unlabelled=True)
    """

    def __init__(self, folder, preset, size, detector=None, limit=None):
        import dataclasses

        from facezoo.align import warp_to_crop
        from facezoo.detect import MTCNNDetector
        from facezoo.photos import face_transform
        from facezoo.registry import get_preset

        if not os.path.isdir(folder):
            raise FileNotFoundError(f"AlignedFaces: {folder!r} is not a directory")
        preset = dataclasses.replace(get_preset(preset) if isinstance(preset, str) else preset,
                                     input_size=tuple(size))
        files = image_files(folder, recursive=True)[:limit]
        detector = detector or MTCNNDetector()
        self.samples, self.skipped = [], []
        for path in tqdm(files, desc="aligning unlabelled faces", leave=False):
            try:
                photo = read_image(path)
            except DataError as error:
                self.skipped.append((path, str(error)))
                continue
            faces = detector(photo)
            if not faces:
                self.skipped.append((path, "no face found"))
                continue
            crop = warp_to_crop(photo, face_transform(faces[0], preset), preset.input_size)
            self.samples.append(Sample(os.path.relpath(path, folder), np.asarray(crop)))
        if not self.samples:
            raise DataError(f"AlignedFaces: no face found in the {len(files)} photos under {folder}")

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


class ConcatDataset:
    """Several datasets read as one."""

    def __init__(self, *datasets):
        self.datasets = datasets
        self.offsets = np.cumsum([0] + [len(d) for d in datasets])

    def __len__(self):
        return int(self.offsets[-1])

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} samples")
        which = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return self.datasets[which][index - int(self.offsets[which])]

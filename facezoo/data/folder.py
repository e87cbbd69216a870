"""Your own faces: a folder of images and a folder of index masks, with your class names.

    ROOT/images/<stem>.jpg|.png|...     face crops (any size; a mask matches its image)
    ROOT/masks/<stem>.png               single-channel PNG, one class index per pixel

or the same under ``ROOT/<split>/`` (``split="train"`` reads ``ROOT/train/images``...).
Images and masks are matched by file stem; an image without a mask, a mask without an
image, a mask of another size than its image and a label value outside the classes are
each a :class:`DataError` naming the file.

``label_map`` remaps the values stored in the masks onto your classes, for example
CelebAMask-HQ's 19 classes onto 5 (``source_classes`` names the stored values, so the
map can speak in names):

Example:
    >>> from facezoo.classmaps import CELEBAMASK
    >>> five = ["background", "skin", "brows", "eyes", "mouth"]
    >>> faces = FolderDataset("my_faces", five, source_classes=CELEBAMASK.names, label_map={
    ...     "l_brow": "brows", "r_brow": "brows", "l_eye": "eyes", "r_eye": "eyes", "u_lip": "mouth",
    ...     "l_lip": "mouth", "mouth": "mouth", "skin": "skin", "nose": "skin"}, unmapped="background")
    >>> model = facezoo.load("rtparser_celebamask_student", class_names=five)
    >>> model.fit(sequence_for(model, faces, batch_size=8, augment=True), epochs=5)
"""

import os

import numpy as np

from facezoo.classmaps import ClassMap
from facezoo.data.base import FaceDataset, Sample
from facezoo.data.io import IMAGE_EXTENSIONS, DataError, check_same_size, read_image, read_label_png
from facezoo.info import default_colors


class FolderDataset(FaceDataset):
    """``images/`` + ``masks/`` with the classes you name (see the module docstring).

    Args:
        root: the folder holding ``images/`` and ``masks/`` (or ``<split>/images``...).
        class_names: your classes, background first; masks (after ``label_map``) hold
            their indices, negative values mean unknown (left out of every loss).
        split: ``None`` (``root`` itself) or the name of a subfolder of ``root``.
        label_map: ``{stored value or source class name: your class name or index}``.
        source_classes: names of the stored values, so ``label_map`` can use names.
        unmapped: what a stored value missing from ``label_map`` becomes: ``"error"``
            (default: a DataError naming the file), a class name, or an index (-1:
            unknown).
        class_colors: RGB per class for drawing (generated when omitted).
        on_error: ``"raise"`` or ``"skip"`` (see :class:`FaceDataset`).
    """

    def __init__(self, root, class_names, split=None, label_map=None, source_classes=None, unmapped="error",
                 class_colors=None, on_error="raise"):
        class_names = tuple(class_names)
        if len(class_names) < 2 or len(set(class_names)) != len(class_names):
            raise ValueError(f"class_names must be at least two distinct names, background first, got {class_names}")
        self.class_map = ClassMap("folder", class_names, tuple(class_colors or default_colors(len(class_names))))
        self.source_classes = None if source_classes is None else tuple(source_classes)
        self.unmapped = unmapped if unmapped == "error" else self._target(unmapped, "unmapped")
        self.table = None if label_map is None else self._table(label_map)
        self.splits = (split,)
        super().__init__(root, split, on_error=on_error)

    @property
    def class_names(self):
        return self.class_map.names

    def _target(self, value, what):
        if isinstance(value, str):
            if value not in self.class_map.names:
                raise ValueError(f"{what}: {value!r} is not one of the classes {list(self.class_map.names)}")
            return self.class_map.names.index(value)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not -1 <= value < len(self.class_map.names):
            raise ValueError(f"{what}: {value!r} is neither a class name nor an index in -1..{len(self.class_map.names) - 1}")
        return int(value)

    def _table(self, label_map):
        """``{stored value: class index}`` from the user's map."""
        table = {}
        for source, target in label_map.items():
            if isinstance(source, str):
                if self.source_classes is None:
                    raise ValueError(f"label_map names {source!r}: pass source_classes=[...] to say which stored "
                                     "value each name is")
                if source not in self.source_classes:
                    raise ValueError(f"label_map: {source!r} is not one of source_classes {list(self.source_classes)}")
                source = self.source_classes.index(source)
            table[int(source)] = self._target(target, f"label_map[{source!r}]")
        return table

    def _find(self, split):
        base = self.root if split is None else os.path.join(self.root, split)
        image_dir, mask_dir = os.path.join(base, "images"), os.path.join(base, "masks")
        for folder in (image_dir, mask_dir):
            if not os.path.isdir(folder):
                raise DataError(f"{folder}: missing (a folder dataset holds images/ and masks/)")
        images = {os.path.splitext(n)[0]: n for n in sorted(os.listdir(image_dir))
                  if n.lower().endswith(IMAGE_EXTENSIONS)}
        masks = {os.path.splitext(n)[0]: n for n in sorted(os.listdir(mask_dir)) if n.lower().endswith(".png")}
        for stem in sorted(set(masks) - set(images)):
            raise DataError(f"{os.path.join(mask_dir, masks[stem])}: no image {stem}.* in {image_dir}")
        for stem, name in images.items():
            if stem not in masks:
                raise DataError(f"{os.path.join(image_dir, name)}: no mask {stem}.png in {mask_dir}")
            yield stem, os.path.join(image_dir, name), os.path.join(mask_dir, masks[stem])

    def remap(self, stored, source="labels"):
        """Stored mask values -> class indices (``label_map``), checked against the classes."""
        stored = np.asarray(stored, np.int32)
        if self.table is not None:
            values = np.unique(stored[stored >= 0])
            missing = [int(v) for v in values if int(v) not in self.table]
            if missing and self.unmapped == "error":
                raise DataError(f"{source}: values {missing[:10]} are not in label_map (pass unmapped=... to give "
                                "them a class, or -1 for unknown)")
            fill = -1 if self.unmapped == "error" else self.unmapped
            lookup = np.full(int(values.max()) + 1 if values.size else 1, fill, np.int32)
            for value, target in self.table.items():
                if value < len(lookup):
                    lookup[value] = target
            stored = np.where(stored < 0, stored, lookup[np.maximum(stored, 0)])
        if stored.size and stored.max() >= len(self.class_map.names):
            bad = sorted(set(np.unique(stored[stored >= len(self.class_map.names)]).tolist()))[:10]
            raise DataError(f"{source}: label values {bad} are outside the {len(self.class_map.names)} classes "
                            f"({', '.join(self.class_map.names)}); remap them with label_map=...")
        return stored.astype(np.int32)

    def _load(self, record):
        sample_id, image_path, mask_path = record
        image = read_image(image_path)
        stored = read_label_png(mask_path)
        check_same_size(image, stored, mask_path)
        return Sample(sample_id, image, self.remap(stored, mask_path))

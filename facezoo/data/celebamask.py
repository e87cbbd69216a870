"""CelebAMask-HQ (Lee et al., CVPR 2020), in its official layout or as merged index masks.

Official layout (what users download)::

    ROOT/CelebA-HQ-img/<id>.jpg                                   (1024x1024)
    ROOT/CelebAMask-HQ-mask-anno/<id // 2000>/<id:05d>_<class>.png (512x512, one binary mask per class)
    ROOT/CelebA-HQ-to-CelebA-mapping.txt + ROOT/list_eval_partition.txt   (optional: splits)

Merged layout (as in ../shared/data/celebamask_subset)::

    ROOT/<split>/images/<id>.jpg + ROOT/<split>/masks/<id>.png    (index PNG, 19 classes)

Official images are resized to their masks' 512x512; classes are painted in class order
(later classes over earlier ones, as the official preprocessing does). Without the
split files the official layout offers ``split="all"``; with them train/val/test follow
CelebA's partition. Non-commercial research use only.
"""

import os

import numpy as np
from PIL import Image

from facezoo.classmaps import CELEBAMASK
from facezoo.data.base import FaceDataset, Sample
from facezoo.data.io import DataError, check_labels, check_same_size, read_image, read_label_png

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


class CelebAMaskMerged(FaceDataset):
    """CelebAMask-HQ as ``<split>/images`` + ``<split>/masks`` index PNGs."""

    splits = ("train", "val", "test")
    class_map = CELEBAMASK

    def _find(self, split):
        image_dir = os.path.join(self.root, split, "images")
        mask_dir = os.path.join(self.root, split, "masks")
        if not os.path.isdir(image_dir):
            raise DataError(f"{image_dir}: no images folder for split {split!r}")
        for name in sorted(os.listdir(image_dir)):
            stem, ext = os.path.splitext(name)
            if ext.lower() not in IMAGE_EXTENSIONS:
                continue
            mask = os.path.join(mask_dir, stem + ".png")
            if not os.path.isfile(mask):
                raise DataError(f"{mask}: label missing for {os.path.join(image_dir, name)}")
            yield stem, os.path.join(image_dir, name), mask

    def _load(self, record):
        sample_id, image_path, mask_path = record
        image = read_image(image_path)
        labels = check_labels(read_label_png(mask_path), CELEBAMASK.num_classes, mask_path)
        check_same_size(image, labels, mask_path)
        return Sample(sample_id, image, labels)


class CelebAMaskOfficial(FaceDataset):
    """CelebAMask-HQ in the layout of the official download."""

    splits = ("all", "train", "val", "test")
    class_map = CELEBAMASK

    def _find(self, split):
        image_dir = os.path.join(self.root, "CelebA-HQ-img")
        anno_dir = os.path.join(self.root, "CelebAMask-HQ-mask-anno")
        for folder in (image_dir, anno_dir):
            if not os.path.isdir(folder):
                raise DataError(f"{folder}: missing (is {self.root} a CelebAMask-HQ root?)")
        ids = sorted(
            int(os.path.splitext(n)[0]) for n in os.listdir(image_dir)
            if os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS and os.path.splitext(n)[0].isdigit()
        )
        if split != "all":
            partition = self._partition()
            wanted = {"train": 0, "val": 1, "test": 2}[split]
            ids = [i for i in ids if partition.get(i) == wanted]
        for image_id in ids:
            image = next(
                os.path.join(image_dir, f"{image_id}{ext}") for ext in IMAGE_EXTENSIONS
                if os.path.isfile(os.path.join(image_dir, f"{image_id}{ext}"))
            )
            folder = os.path.join(anno_dir, str(image_id // 2000))
            masks = {
                name: os.path.join(folder, f"{image_id:05d}_{name}.png")
                for name in CELEBAMASK.names[1:]
                if os.path.isfile(os.path.join(folder, f"{image_id:05d}_{name}.png"))
            }
            if not masks:
                raise DataError(f"{os.path.join(folder, f'{image_id:05d}_*.png')}: no label masks for {image}")
            yield str(image_id), image, masks

    def _partition(self):
        mapping = os.path.join(self.root, "CelebA-HQ-to-CelebA-mapping.txt")
        partition = os.path.join(self.root, "list_eval_partition.txt")
        for path in (mapping, partition):
            if not os.path.isfile(path):
                raise DataError(f"{path}: needed for train/val/test splits of the official layout (or use split='all')")
        by_file = {}
        with open(partition, encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) == 2 and fields[1].isdigit():
                    by_file[fields[0]] = int(fields[1])
        result = {}
        with open(mapping, encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) == 3 and fields[0].isdigit():
                    result[int(fields[0])] = by_file.get(fields[2])
        return result

    def _load(self, record):
        sample_id, image_path, masks = record
        labels = None
        for name, path in masks.items():
            mask = read_label_png(path)
            if mask.ndim == 3:
                mask = mask[..., 0]
            if labels is None:
                labels = np.zeros(mask.shape, dtype=np.int32)
            elif mask.shape != labels.shape:
                raise DataError(f"{path}: mask is {mask.shape[1]}x{mask.shape[0]}, others are {labels.shape[1]}x{labels.shape[0]}")
            labels[mask > 0] = CELEBAMASK.index(name)
        image = read_image(image_path)
        if image.shape[:2] != labels.shape:
            image = np.asarray(Image.fromarray(image).resize(labels.shape[::-1], Image.BILINEAR))
        check_same_size(image, labels, image_path)
        return Sample(sample_id, image, labels)


def CelebAMask(root, split="train", **kwargs):
    """The CelebAMask-HQ dataset at ``root``, whichever of the two layouts it has."""
    if os.path.isdir(os.path.join(root, "CelebA-HQ-img")):
        return CelebAMaskOfficial(root, split, **kwargs)
    return CelebAMaskMerged(root, split, **kwargs)

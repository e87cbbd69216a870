"""Tiny datasets written in each public layout, built by the tests themselves."""

import os

import numpy as np
from PIL import Image

from facezoo.data.io import format_pts


def _face(rng, size):
    return rng.integers(0, 256, (*size, 3), dtype=np.uint8)


def make_helen(root, ids_by_split=None, size=(40, 48), soft=False):
    """Smith et al.'s HELEN layout; returns {id: label map}."""
    rng = np.random.default_rng(0)
    ids_by_split = ids_by_split or {"exemplars.txt": ["100_1", "101_2"], "tuning.txt": ["102_1"], "testing.txt": ["103_1", "104_1"]}
    truth = {}
    for list_name, ids in ids_by_split.items():
        with open(os.path.join(root, list_name), "w") as handle:
            for n, sample_id in enumerate(ids, 1):
                handle.write(f"{n} , {sample_id}\n")
        for sample_id in ids:
            os.makedirs(os.path.join(root, "images"), exist_ok=True)
            Image.fromarray(_face(rng, size)).save(os.path.join(root, "images", sample_id + ".jpg"))
            labels = rng.integers(0, 11, size)
            folder = os.path.join(root, "labels", sample_id)
            os.makedirs(folder, exist_ok=True)
            for k in range(11):
                mask = np.where(labels == k, 255 if not soft else 200, 0 if not soft else 30).astype(np.uint8)
                Image.fromarray(mask).save(os.path.join(folder, f"{sample_id}_lbl{k:02d}.png"))
            truth[sample_id] = labels
    return truth


def make_lfw(root, names=(("Ann_Lee", 1), ("Bob_Stone", 12)), ext=".ppm", split_number_format="{:d}"):
    """LFW-PL layout with unpadded numbers in the split lists; returns {id: labels}."""
    rng = np.random.default_rng(1)
    colors = np.array([(0, 0, 255), (0, 255, 0), (255, 0, 0)], np.uint8)
    truth = {}
    os.makedirs(os.path.join(root, "parts_lfw_funneled_gt_images"), exist_ok=True)
    for split in ("train", "validation", "test"):
        with open(os.path.join(root, f"parts_{split}.txt"), "w") as handle:
            for name, number in names:
                handle.write(f"{name} {split_number_format.format(number)}\n")
    for name, number in names:
        sample_id = f"{name}_{number:04d}"
        os.makedirs(os.path.join(root, "lfw_funneled", name), exist_ok=True)
        Image.fromarray(_face(rng, (25, 25))).save(os.path.join(root, "lfw_funneled", name, sample_id + ".jpg"))
        labels = rng.integers(0, 3, (25, 25))
        Image.fromarray(colors[labels]).save(os.path.join(root, "parts_lfw_funneled_gt_images", sample_id + ext))
        truth[sample_id] = labels
    return truth


def make_celebamask_official(root, ids=(0, 1, 2001)):
    """Official CelebAMask-HQ layout (1024 images would be slow: 64x64 image, 32x32 masks)."""
    rng = np.random.default_rng(2)
    os.makedirs(os.path.join(root, "CelebA-HQ-img"), exist_ok=True)
    truth = {}
    for image_id in ids:
        Image.fromarray(_face(rng, (64, 64))).save(os.path.join(root, "CelebA-HQ-img", f"{image_id}.jpg"))
        folder = os.path.join(root, "CelebAMask-HQ-mask-anno", str(image_id // 2000))
        os.makedirs(folder, exist_ok=True)
        labels = np.zeros((32, 32), np.int32)
        labels[4:28, 4:28] = 1  # skin
        labels[10:14, 8:12] = 4  # l_eye over skin
        labels[0:4, :] = 13  # hair
        for cls, name in ((1, "skin"), (4, "l_eye"), (13, "hair")):
            Image.fromarray(((labels == cls) | ((cls == 1) & (labels == 4))).astype(np.uint8) * 255).save(
                os.path.join(folder, f"{image_id:05d}_{name}.png")
            )
        truth[str(image_id)] = labels
    return truth


def make_celebamask_merged(root, split="test", count=2, size=(32, 32)):
    rng = np.random.default_rng(3)
    for sub in ("images", "masks"):
        os.makedirs(os.path.join(root, split, sub), exist_ok=True)
    truth = {}
    for i in range(count):
        Image.fromarray(_face(rng, size)).save(os.path.join(root, split, "images", f"f{i}.jpg"))
        labels = rng.integers(0, 19, size).astype(np.uint8)
        Image.fromarray(labels).save(os.path.join(root, split, "masks", f"f{i}.png"))
        truth[f"f{i}"] = labels
    return truth


def make_landmark_folder(folder, count=2, size=(60, 50), header=True):
    rng = np.random.default_rng(4)
    os.makedirs(folder, exist_ok=True)
    truth = {}
    for i in range(count):
        Image.fromarray(_face(rng, size)).save(os.path.join(folder, f"face{i}.jpg"))
        points = rng.uniform(5, 40, (68, 2)).astype(np.float32)
        text = format_pts(points) if header else "\n".join(f"{x} {y}" for x, y in points)
        with open(os.path.join(folder, f"face{i}.pts"), "w") as handle:
            handle.write(text)
        truth[f"face{i}"] = points
    return truth

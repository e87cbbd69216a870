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


def _ring(x0, y0, x1, y1, count):
    """``count`` points around the rectangle [x0, x1] x [y0, y1] (a closed contour)."""
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], np.float64)
    t = np.linspace(0, 4, count, endpoint=False)
    return np.stack([np.interp(t, np.arange(5), corners[:, 0]), np.interp(t, np.arange(5), corners[:, 1])], -1)


def helen_contours(eye_box=(9.5, 9.5, 20.5, 16.5)):
    """194 points in HELEN's order, hand-drawn: every component a small rectangle, the
    subject's left eye (image right) exactly ``eye_box`` (edges on pixel borders)."""
    points = np.zeros((194, 2))
    points[0:41] = np.stack([np.linspace(2, 60, 41), np.full(41, 58.0)], -1)  # jaw: a line
    points[41:58] = _ring(28.5, 30.5, 34.5, 36.5, 17)  # nose
    # lips: outer 58..85 with corners at 58 and 72 (upper line 59..71), inner likewise
    upper = np.stack([np.linspace(22.5, 40.5, 15), np.full(15, 40.5)], -1)
    lower = np.stack([np.linspace(40.5, 22.5, 15)[1:-1], np.full(13, 48.5)], -1)
    points[58:86] = np.concatenate([upper, lower])
    inner_upper = np.stack([np.linspace(22.5, 40.5, 15), np.full(15, 43.5)], -1)
    inner_lower = np.stack([np.linspace(40.5, 22.5, 15)[1:-1], np.full(13, 45.5)], -1)
    points[86:114] = np.concatenate([inner_upper, inner_lower])
    points[114:134] = _ring(*eye_box, 20)  # subject's left eye
    points[134:154] = _ring(40.5, 9.5, 50.5, 16.5, 20)
    points[154:174] = _ring(9.5, 3.5, 20.5, 6.5, 20)
    points[174:194] = _ring(40.5, 3.5, 50.5, 6.5, 20)
    return points


def make_helen_contours(root, train=("a_1", "b_1"), test=("c_1",), size=(64, 64), lines=194):
    """HELEN's annotation layout: annotation/<n>.txt (name, then ``lines`` 'x , y' lines)
    and trainset/ + testset/ images, with a 68-point .pts beside each."""
    rng = np.random.default_rng(0)
    (root / "annotation").mkdir(parents=True, exist_ok=True)
    points = helen_contours()
    for folder, ids in (("trainset", train), ("testset", test)):
        (root / folder).mkdir(exist_ok=True)
        for number, sample_id in enumerate(ids):
            Image.fromarray(_face(rng, size)).save(root / folder / f"{sample_id}.jpg")
            pts = np.stack([np.linspace(5, 55, 68), np.full(68, 30.0)], -1)  # a face: eyes, nose, mouth
            pts[36:42], pts[42:48] = (15.0, 13.0), (45.5, 13.0)
            pts[30], pts[48], pts[54] = (31.5, 33.5), (22.5, 44.5), (40.5, 44.5)
            body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in pts)
            (root / folder / f"{sample_id}.pts").write_text(f"version: 1\nn_points: 68\n{{\n{body}\n}}\n")
            rows = "\n".join(f"{x:.2f} , {y:.2f}" for x, y in points[:lines])
            (root / "annotation" / f"{len(ids) * 10 + number}_{folder}.txt").write_text(f"{sample_id}\n{rows}\n")
    return points

"""HELEN training faces prepared once for the recipes that parse them (stn_icnn_helen.py,
rtparser.py --dataset helen): aligned, rasterised, skin/hair filled in, cached.

Each face of facezoo.data.HelenContours is aligned by its 68 points onto the
stn_icnn_celebamask template (the template facezoo.parse aligns photos onto with MTCNN)
and cut to 512x512; brows, eyes, nose, lips and inner mouth are rasterised from the
contours in the crop. The contours do not say which other pixel is skin, hair or
background: those are filled in by the stn_icnn_celebamask parser (its most likely class
among background, skin and hair, where that class has at least CONFIDENCE of their joint
probability; elsewhere the pixel stays unknown, -1, which every facezoo loss leaves out).
The components always come from the contours. Cached as ``CACHE/<split>/<id>.npz``
(image, labels, the 68 landmarks in the crop).
"""

import os
import threading

import numpy as np
from tqdm.auto import tqdm

from facezoo.classmaps import HELEN
from facezoo.data import FaceDataset, Sample
from facezoo.data.helen import IGNORE, HelenContours
from facezoo.registry import get_preset

TEACHER = "stn_icnn_celebamask"
CONFIDENCE = 0.6
FILLED = ("background", "skin", "hair")
DEFAULT_CACHE = os.path.join("runs", "helen_faces")


def template(preset, size):
    """The preset's five alignment keypoints in pixels of a crop of ``size``."""
    return np.asarray(preset.alignment["keypoints"], np.float64) * (size[1], size[0])


def fill_unknown(labels, probabilities):
    """Labels with the unknown pixels given the teacher's background/skin/hair where it is sure."""
    ids = [HELEN.index(n) for n in FILLED]
    joint = probabilities[..., ids]
    joint = joint / np.maximum(joint.sum(-1, keepdims=True), 1e-6)
    sure = joint.max(-1) >= CONFIDENCE
    filled = np.where(sure, np.asarray(ids)[joint.argmax(-1)], IGNORE)
    return np.where(labels == IGNORE, filled, labels).astype(np.int8)


#: np.load parses each array's header with ast.literal_eval, which CPython 3.11 does not
#: make safe across threads (a training run of ours died with "AST constructor recursion
#: depth mismatch" under Keras' threaded PyDataset workers): one reader at a time.
_READ_LOCK = threading.Lock()


class PreparedFaces(FaceDataset):
    """The cached faces of one split (``CACHE/<split>/<id>.npz``), with labels and landmarks."""

    splits = ("train", "val")
    class_map = HELEN

    def _find(self, split):
        folder = os.path.join(self.root, split)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".npz") and not name.startswith("."):
                yield name[:-4], os.path.join(folder, name)

    def _load(self, record):
        with _READ_LOCK, np.load(record[1]) as data:
            landmarks = data["landmarks"] if "landmarks" in data.files else None
            return Sample(record[0], data["image"], data["labels"].astype(np.int32), landmarks)


def _write(path, **arrays):
    temp = os.path.join(os.path.dirname(path), "." + os.path.basename(path))
    with open(temp, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(temp, path)


def prepare(data_root, cache, split, limit=None, batch_size=8):
    """Align, rasterise and fill one split into ``cache/split`` (what exists is kept;
    files written before landmarks were cached get them added). Returns ``cache``."""
    import facezoo

    folder = os.path.join(cache, split)
    os.makedirs(folder, exist_ok=True)
    teacher = get_preset(TEACHER)
    faces = HelenContours(data_root, split, align_to=template(teacher, teacher.input_size), size=teacher.input_size)
    count = len(faces) if limit is None else min(limit, len(faces))
    todo, backfill = [], []
    for index in range(count):
        path = os.path.join(folder, faces.ids[index] + ".npz")
        if not os.path.exists(path):
            todo.append(index)
        else:
            with np.load(path) as data:
                if "landmarks" not in data.files:
                    backfill.append(index)
    for index in tqdm(backfill, desc=f"adding landmarks to {split}", disable=not backfill):
        path = os.path.join(folder, faces.ids[index] + ".npz")
        with np.load(path) as data:
            image, labels = data["image"], data["labels"]
        _write(path, image=image, labels=labels, landmarks=faces[index].landmarks)
    if not todo:
        return cache
    model = facezoo.load(TEACHER, compile=False)
    for start in tqdm(range(0, len(todo), batch_size), desc=f"preparing {split}"):
        samples = [faces[i] for i in todo[start:start + batch_size]]
        probabilities = np.asarray(model.predict_on_batch(np.stack([s.image for s in samples]) / np.float32(255)))
        for sample, probs in zip(samples, probabilities):
            _write(os.path.join(folder, sample.id + ".npz"), image=sample.image,
                   labels=fill_unknown(sample.labels, probs), landmarks=sample.landmarks)
    return cache


def prepared_splits(data_root, cache=DEFAULT_CACHE, smoke=False):
    """``(train, val)`` PreparedFaces, preparing them first where needed."""
    prepare(data_root, cache, "train", 4 if smoke else None)
    prepare(data_root, cache, "val", 2 if smoke else None)
    return PreparedFaces(cache, "train"), PreparedFaces(cache, "val")

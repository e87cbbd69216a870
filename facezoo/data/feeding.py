"""Feeding datasets to ``model.fit``: a backend-neutral PyDataset and a tf.data adapter.

Example:
    >>> train = ParsingSequence(LFWPartLabels(root, "train"), batch_size=16,
    ...                         image_size=(128, 128), augment=Augmenter("lfw_pl"), shuffle=True)
    >>> model.fit(train, epochs=10)                 # any backend
    >>> model.fit(to_tf_dataset(train), epochs=10)  # tf.data, e.g. under tf.distribute
"""

import math
from dataclasses import replace

import keras
import numpy as np
from PIL import Image

from facezoo.data.io import DataError


def resize_sample(sample, size):
    """Resize a sample to ``size = (H, W)``: image bilinear, labels nearest, landmarks scaled."""
    height, width = size
    src_h, src_w = sample.image.shape[:2]
    if (src_h, src_w) == (height, width):
        return sample
    image = np.asarray(Image.fromarray(sample.image).resize((width, height), Image.BILINEAR))
    labels = None
    if sample.labels is not None:
        labels = np.asarray(
            Image.fromarray(sample.labels.astype(np.int32), mode="I").resize((width, height), Image.NEAREST)
        ).astype(np.int32)
    scale = np.array([width / src_w, height / src_h], dtype=np.float32)

    def move(points):  # pixel centres: x' + 0.5 = (x + 0.5) * W' / W
        return None if points is None else (points + 0.5) * scale - 0.5

    return replace(sample, image=image, labels=labels, landmarks=move(sample.landmarks), contours=move(sample.contours))


def pad_to_square(sample):
    """Pad a sample with black (label 0) to a centred square; landmarks follow. Returns
    the padded sample and the ``(x, y)`` offset added to its coordinates."""
    height, width = sample.image.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    if side == height == width:
        return sample, np.zeros(2, np.float32)
    image = np.zeros((side, side, 3), np.uint8)
    image[top:top + height, left:left + width] = sample.image
    labels = None
    if sample.labels is not None:
        labels = np.zeros((side, side), sample.labels.dtype)
        labels[top:top + height, left:left + width] = sample.labels
    offset = np.array([left, top], np.float32)
    landmarks = None if sample.landmarks is None else sample.landmarks + offset
    contours = None if sample.contours is None else sample.contours + offset
    return replace(sample, image=image, labels=labels, landmarks=landmarks, contours=contours), offset


class ParsingSequence(keras.utils.PyDataset):
    """Batches ``(images, targets)`` from a facezoo dataset.

    ``images`` are float32 ``(B, H, W, 3)`` in [0, 1]; ``targets`` are int32 label maps
    ``(B, H, W)`` (``target="labels"``) or float32 landmarks ``(B, N, 2)`` in pixels of the
    resized image (``target="landmarks"``).

    Args:
        dataset: a :class:`~facezoo.data.FaceDataset` (or any sequence of Samples).
        batch_size: samples per batch (the last batch may be smaller).
        image_size: ``(H, W)`` every sample is resized to; required when sizes differ.
        augment: a callable ``(sample, rng) -> sample``, e.g. :class:`Augmenter`.
        shuffle: reshuffle the order every epoch.
        seed: makes shuffling and augmentation reproducible.
        label_table: int array mapping the dataset's labels to the model's classes
            (e.g. CelebAMask-HQ -> HELEN, see :func:`facezoo.classmaps.remap_table`).
        target: ``"labels"`` or ``"landmarks"``.
        unlabelled: samples without labels are fed with label maps of -1 (for
            semi-supervised training, e.g. :class:`facezoo.models.Distiller`).
        preprocessing: ``{"scale", "mean", "std"}`` of the model (``model.info.preprocessing``):
            images become ``(pixels * scale - mean) / std``; default ``pixels / 255``.
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` of PyDataset.
    """

    def __init__(
        self,
        dataset,
        batch_size,
        image_size=None,
        augment=None,
        shuffle=False,
        seed=0,
        label_table=None,
        target="labels",
        unlabelled=False,
        preprocessing=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if target not in ("labels", "landmarks"):
            raise ValueError(f"target must be 'labels' or 'landmarks', got {target!r}")
        if len(dataset) == 0:
            raise DataError("cannot feed an empty dataset")
        self.dataset = dataset
        self.batch_size = batch_size
        self.image_size = None if image_size is None else tuple(image_size)
        self.augment = augment
        self.shuffle = shuffle
        self.seed = seed
        self.label_table = None if label_table is None else np.asarray(label_table, dtype=np.int32)
        self.target = target
        self.unlabelled = unlabelled
        self.preprocessing = preprocessing
        self.epoch = 0
        self._order = self._make_order()

    def _make_order(self):
        order = np.arange(len(self.dataset))
        if self.shuffle:
            np.random.default_rng([self.seed, self.epoch]).shuffle(order)
        return order

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def load(self, index):
        """The prepared sample at dataset position ``index`` (augmented, resized, remapped)."""
        sample = self.dataset[int(index)]
        if self.augment is not None:
            sample = self.augment(sample, np.random.default_rng([self.seed, self.epoch, int(index)]))
        if self.image_size is not None:
            sample = resize_sample(sample, self.image_size)
        if self.label_table is not None and sample.labels is not None:
            # unknown (negative) labels stay unknown
            labels = np.where(sample.labels < 0, sample.labels, self.label_table[np.maximum(sample.labels, 0)])
            sample = replace(sample, labels=labels.astype(np.int32))
        return sample

    def __getitem__(self, batch_index):
        if not 0 <= batch_index < len(self):
            raise IndexError(f"batch {batch_index} out of range for {len(self)} batches")
        indices = self._order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]
        samples = [self.load(i) for i in indices]
        shapes = {s.image.shape for s in samples}
        if len(shapes) > 1:
            raise DataError(f"samples of different sizes {sorted(shapes)} in one batch: pass image_size=(H, W)")
        images = np.stack([s.image for s in samples]).astype(np.float32)
        if self.preprocessing is None:
            images /= 255.0
        else:
            p = self.preprocessing
            images = (images * np.float32(p["scale"]) - np.asarray(p["mean"], np.float32)) / np.asarray(p["std"],
                                                                                                      np.float32)
        if self.target == "labels":
            if any(s.labels is None for s in samples) and not self.unlabelled:
                raise DataError("this dataset has no label maps (pass unlabelled=True to feed them as -1)")
            return images, np.stack([np.full(s.image.shape[:2], -1) if s.labels is None else s.labels
                                     for s in samples]).astype(np.int32)
        if any(s.landmarks is None for s in samples):
            raise DataError("this dataset has no landmarks")
        return images, np.stack([s.landmarks for s in samples]).astype(np.float32)

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)

    def set_epoch(self, epoch):
        """Order and augmentation of ``epoch`` (a resumed run calls this to catch up)."""
        if epoch != self.epoch:
            self.epoch = epoch
            self._order = self._make_order()


def sequence_for(model, dataset, batch_size=8, augment=True, shuffle=True, seed=0, **kwargs):
    """A :class:`ParsingSequence` that feeds ``dataset`` to ``model.fit`` as the model
    wants it: resized to ``model.info.input_size``, normalised by its preprocessing, with
    the STN-iCNN paper's augmentation and left/right flips (``augment=True``; or pass an
    ``Augmenter``), label maps or landmarks by the model's task.

    Example:
        >>> model.fit(sequence_for(model, FolderDataset("faces", model.class_names)), epochs=5)
    """
    from facezoo.data.augment import Augmenter

    info = model.info
    if augment is True:
        augment = Augmenter(getattr(dataset, "class_map", None), flip=0.5)
    return ParsingSequence(dataset, batch_size, image_size=info.input_size, augment=augment or None, shuffle=shuffle,
                           seed=seed, target="labels" if info.task == "parsing" else "landmarks",
                           preprocessing=info.preprocessing, **kwargs)


def to_tf_dataset(sequence, prefetch=2):
    """A ``tf.data.Dataset`` of the sequence's batches (one pass per epoch), for tf.distribute."""
    import tensorflow as tf

    images, targets = sequence[0]
    signature = (
        tf.TensorSpec((None, *images.shape[1:]), tf.float32),
        tf.TensorSpec((None, *targets.shape[1:]), tf.as_dtype(targets.dtype)),
    )

    def batches():
        for index in range(len(sequence)):
            yield sequence[index]
        sequence.on_epoch_end()

    return tf.data.Dataset.from_generator(batches, output_signature=signature).prefetch(prefetch)

"""STN-iCNN: end-to-end face parsing with a Spatial Transformer cropper (Yin et al. 2021).

Pipeline, as in the paper and the authors' code:

1. **Stage 1**: an :class:`~facezoo.models.ICNN` parses the face resized to
   ``stage1_size`` (128x128) into all classes.
2. **Localizer**: a small conv net reads the stage-1 softmax and predicts one constrained
   affine ``theta = [[s*kx, 0, tx], [0, s*ky, ty]]`` per part (scale + translation;
   ``k = (crop-1)/(size-1)`` so ``s = 1`` crops at the image's own resolution).
3. **SpatialCrop** cuts odd-sized patches (81x81) from the full-resolution image; outside
   the image it reads zeros, which is cropping from the zero-padded image.
4. **Part iCNNs** label each patch; left and right brows (and eyes) share one model,
   the right patch being flipped horizontally before and after.
5. **SpatialPaste** puts the part probabilities back with the inverted transform; the
   classes no part covers (background, skin, hair) come from the upsampled stage-1
   softmax, weighted by the probability that no part claims the pixel.

Every step is differentiable, so the whole parser trains end to end with ``model.fit``.
Deviation from the authors' code, said plainly: their localizer maps a 2x3 grid of conv
outputs onto theta's entries; ours flattens a 4x4 feature map into a dense layer
initialised to the identity crop (s=1, centred), which trains more stably from scratch.
"""

from dataclasses import dataclass

import keras
from keras import layers, ops

from facezoo.classmaps import HELEN
from facezoo.layers import (
    SpatialCrop,
    SpatialPaste,
    affine_sample,
    crop_theta,
    paste_planes,
    scale_translation_theta,
)
from facezoo.losses import soft_dice, sparse_cross_entropy, theta_regression
from facezoo.models._validation import check_positive_int
from facezoo.models.base import FaceModel, _transfer
from facezoo.models.icnn import ICNN

#: The HELEN scheme of the paper: six parts, brows and eyes sharing a model across sides;
#: the part on the image's right (the subject's left) is mirrored.
HELEN_PARTS = (
    {"name": "r_brow", "classes": ["r_brow"], "model": "brow"},
    {"name": "l_brow", "classes": ["l_brow"], "model": "brow", "flip": True},
    {"name": "r_eye", "classes": ["r_eye"], "model": "eye"},
    {"name": "l_eye", "classes": ["l_eye"], "model": "eye", "flip": True},
    {"name": "nose", "classes": ["nose"], "model": "nose"},
    {"name": "mouth", "classes": ["u_lip", "i_mouth", "l_lip"], "model": "mouth"},
)

#: part_dice: a soft-Dice term on each part model's own classes (1 - their mean Dice) beside its
#: cross-entropy, for the thin classes F1 weighs as much as the large ones (off by default)
DEFAULT_LOSS_WEIGHTS = {"stage1": 1.0, "theta": 1.0, "parts": 1.0, "part_dice": 0.0}


@dataclass(frozen=True)
class PartSpec:
    """One cropped part: the classes its model labels, which model, flipped or not."""

    name: str
    classes: tuple
    model: str
    flip: bool = False

    def to_dict(self):
        return {"name": self.name, "classes": list(self.classes), "model": self.model, "flip": self.flip}


def parse_parts(parts, class_names):
    """Validate a part configuration against ``class_names``; returns PartSpecs."""
    if not parts:
        raise ValueError("parts must list at least one part")
    specs, seen_names, seen_classes, model_sizes = [], set(), {}, {}
    allowed = {"name", "classes", "model", "flip"}
    for part in parts:
        if not isinstance(part, dict) or "name" not in part or "classes" not in part:
            raise ValueError(f"each part needs a 'name' and 'classes', got {part!r}")
        extra = set(part) - allowed
        if extra:
            raise ValueError(f"part {part['name']!r} has unknown keys {sorted(extra)}")
        name = part["name"]
        if name in seen_names:
            raise ValueError(f"part name {name!r} appears twice")
        classes = tuple(part["classes"])
        if not classes:
            raise ValueError(f"part {name!r} lists no classes")
        for cls in classes:
            if cls not in class_names:
                raise ValueError(
                    f"part {name!r} names unknown class {cls!r}; classes: {', '.join(class_names)}. A new "
                    "class set needs its parts too: parts=[{'name': ..., 'classes': [...]}, ...] (e.g. "
                    "facezoo.load(name, class_names=[...], parts=[...]); see STNiCNN's docstring)"
                )
            if cls == class_names[0]:
                raise ValueError(f"part {name!r} cannot label the background class {cls!r}")
            if cls in seen_classes:
                raise ValueError(f"class {cls!r} belongs to parts {seen_classes[cls]!r} and {name!r}")
            seen_classes[cls] = name
        model = part.get("model", name)
        if model_sizes.setdefault(model, len(classes)) != len(classes):
            raise ValueError(f"parts sharing model {model!r} must label the same number of classes")
        specs.append(PartSpec(name, classes, model, bool(part.get("flip", False))))
        seen_names.add(name)
    return tuple(specs)


@keras.saving.register_keras_serializable(package="facezoo")
class LocalizationNetwork(keras.layers.Layer):
    """Stage-1 softmax ``(B, h, w, L)`` -> one constrained theta per part ``(B, P, 2, 3)``.

    Conv-BN-ReLU blocks halve the map down to at most 4x4; a dense layer, initialised to
    zero, predicts ``(s, tx, ty)`` per part with
    ``s = base_scale * (1 + max_scale_change * tanh(.))`` and ``t = tanh(.)``.
    ``image_size``/``crop_size`` fix ``k`` so that ``s = 1`` is a crop at the image's own
    resolution; ``base_scale > 1`` makes each crop cover a larger window.
    """

    def __init__(self, num_parts, image_size, crop_size, channels=16, max_scale_change=0.5, base_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.num_parts = check_positive_int(num_parts, "num_parts")
        self.image_size = tuple(image_size)
        self.crop_size = tuple(crop_size)
        self.base_scale = float(base_scale)
        self.channels = check_positive_int(channels, "channels")
        self.max_scale_change = float(max_scale_change)
        self.blocks = []
        self.flatten = layers.Flatten()
        self.head = layers.Dense(num_parts * 3, kernel_initializer="zeros", bias_initializer="zeros", name="theta")

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        while max(height, width) > 4:
            for stride in (2, 1):
                self.blocks.append(
                    [
                        layers.Conv2D(self.channels, 3, strides=stride, padding="same", use_bias=False),
                        layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
                    ]
                )
            height, width = (height + 1) // 2, (width + 1) // 2
        shape = input_shape
        for conv, bn in self.blocks:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            bn.build(shape)
        self.head.build((None, shape[1] * shape[2] * shape[3]))
        self.built = True

    def call(self, probabilities, training=None):
        x = probabilities
        for conv, bn in self.blocks:
            x = ops.relu(bn(conv(x), training=training))
        raw = ops.reshape(self.head(self.flatten(x)), (-1, self.num_parts, 3))
        scale = self.base_scale * (1.0 + self.max_scale_change * ops.tanh(raw[..., 0]))
        kx = (self.crop_size[1] - 1) / (self.image_size[1] - 1)
        ky = (self.crop_size[0] - 1) / (self.image_size[0] - 1)
        tx, ty = ops.tanh(raw[..., 1]), ops.tanh(raw[..., 2])
        return scale_translation_theta(scale * kx, scale * ky, tx, ty)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_parts, 2, 3)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_parts=self.num_parts,
            image_size=list(self.image_size),
            crop_size=list(self.crop_size),
            channels=self.channels,
            max_scale_change=self.max_scale_change,
            base_scale=self.base_scale,
        )
        return config


def label_centroids(labels, part_class_ids):
    """Centroids ``(B, P, 2)`` (x, y in pixels) of each part's classes in ``(B, H, W)``
    integer labels, and ``valid (B, P)``: 0 where the part has no pixel (its centroid is
    then the image centre)."""
    labels = ops.cast(labels, "int32")
    height, width = labels.shape[1], labels.shape[2]
    xs = ops.reshape(ops.arange(width, dtype="float32"), (1, 1, width))
    ys = ops.reshape(ops.arange(height, dtype="float32"), (1, height, 1))
    centers, valid = [], []
    for class_ids in part_class_ids:
        mask = ops.zeros_like(labels, dtype="float32")
        for class_id in class_ids:
            mask = mask + ops.cast(ops.equal(labels, class_id), "float32")
        mass = ops.sum(mask, axis=(1, 2))
        safe = ops.maximum(mass, 1.0)
        cx = ops.where(mass > 0, ops.sum(mask * xs, axis=(1, 2)) / safe, (width - 1) / 2.0)
        cy = ops.where(mass > 0, ops.sum(mask * ys, axis=(1, 2)) / safe, (height - 1) / 2.0)
        centers.append(ops.stack([cx, cy], axis=-1))
        valid.append(ops.cast(mass > 0, "float32"))
    return ops.stack(centers, axis=1), ops.stack(valid, axis=1)


def part_centroid_thetas(labels, part_class_ids, image_size, crop_size, scale=1.0):
    """Target thetas from label centroids, as the paper pre-trains the localizer.

    Args:
        labels: ``(B, H, W)`` integer label map at full resolution (``image_size``).
        part_class_ids: one list of class indices per part.
        scale: the crop scale (``STNiCNN.crop_scale``).
    Returns:
        ``(thetas (B, P, 2, 3), valid (B, P))``: a crop of ``crop_size`` centred on each
        part's centroid; ``valid`` is 0 where the part has no labelled pixel.
    """
    centers, valid = label_centroids(labels, part_class_ids)
    return crop_theta(centers, image_size, crop_size, scale=scale), valid


#: Training phases of the paper's schedule: what each trains and which loss terms count.
PHASES = {
    "stage1": ("stage1",),
    "localizer": ("theta",),
    "parts": ("parts", "part_dice"),
    "end_to_end": ("stage1", "theta", "parts", "part_dice"),
}
CROPPERS = ("localizer", "centroid")


@keras.saving.register_keras_serializable(package="facezoo")
class STNiCNN(FaceModel, keras.Model):
    """End-to-end STN-iCNN face parser.

    Input: RGB faces ``(B, H, W, 3)`` in [0, 1] at ``input_size`` (or a dict
    ``{"images": ..., "thetas": (B, P, 2, 3)}`` to crop where you say). Output
    (inference): a label probability map ``(B, H, W, len(class_names))``.

    Called with ``training=True`` it returns what the losses need instead,
    ``{"stage1_logits", "thetas", "part_logits"}``, and its own :meth:`compute_loss`
    sums stage-1 cross-entropy, theta regression to the label centroids and part
    cross-entropy (parts are labelled on crops of the label map cut with the same
    thetas), weighted by ``loss_weights``. :meth:`set_phase` selects a step of the
    paper's schedule: ``"stage1"``, ``"localizer"`` (stage 1 frozen), ``"parts"`` (crops
    from the given thetas, e.g. label centroids) or ``"end_to_end"`` (default).

    ``cropper="centroid"`` replaces the localizer at inference by the centroids of the
    stage-1 prediction: the original, non-differentiable iCNN pipeline.

    Args:
        class_names: the class map (HELEN's 11 classes by default); index 0 is background.
        parts: part configuration, see :data:`HELEN_PARTS`.
        input_size: ``(H, W)`` of the full-resolution face.
        stage1_size: ``(h, w)`` the stage-1 iCNN sees.
        crop_size: odd ``(h, w)`` of each part crop, in pixels of the part model.
        crop_scale: each crop covers ``crop_scale * crop_size`` pixels of the face (1 =
            the face's own resolution; 1.6 fits CelebAMask-HQ's parts at 512x512).
        paste_size: ``(h, w)`` at which the parts are pasted back and merged with stage 1
            (default ``input_size``, exact); a smaller canvas is upsampled bilinearly to
            ``input_size`` at the end, for phones: most of the work at full resolution is
            the paste and merge. Inference only; training never pastes.
        channels: row channels of every iCNN.
        part_channels: row channels of the part iCNNs, if not ``channels`` (wider ones can
            start from trained narrow ones: :meth:`ICNN.copy_widened_from`).
        localizer_channels: width of the localization network.
        loss_weights: dict with keys ``stage1``, ``theta``, ``parts``, ``part_dice``.
        cropper: ``"localizer"`` (STN-iCNN) or ``"centroid"`` (iCNN baseline).

    Example:
        >>> model = STNiCNN(input_size=(512, 512))
        >>> model.compile(optimizer="adam")          # the model brings its own loss
        >>> model.fit(faces, label_maps, batch_size=8)  # label_maps (B, 512, 512) int
        >>> probabilities = model.predict(faces)        # (B, 512, 512, 11)
    """

    OUTPUT = "probabilities"

    def __init__(
        self,
        class_names=HELEN.names,
        parts=HELEN_PARTS,
        input_size=(512, 512),
        stage1_size=(128, 128),
        crop_size=(81, 81),
        crop_scale=1.0,
        paste_size=None,
        channels=(8, 16, 24, 32),
        part_channels=None,
        localizer_channels=16,
        loss_weights=None,
        cropper="localizer",
        name="stn_icnn",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.class_names = tuple(class_names)
        if len(self.class_names) < 2 or len(set(self.class_names)) != len(self.class_names):
            raise ValueError(f"class_names must be at least two distinct names, got {class_names!r}")
        self.parts = parse_parts(parts, self.class_names)
        self.input_size = _size(input_size, "input_size")
        self.stage1_size = _size(stage1_size, "stage1_size")
        self.crop_size = _size(crop_size, "crop_size")
        if any(c % 2 == 0 for c in self.crop_size):
            raise ValueError(
                f"crop_size must be odd so that crops on the pixel grid are exact slices, got {self.crop_size}"
            )
        if not isinstance(crop_scale, (int, float)) or not 0 < crop_scale <= 8:
            raise ValueError(f"crop_scale must be a number in (0, 8], got {crop_scale!r}")
        self.crop_scale = float(crop_scale)
        self.paste_size = self.input_size if paste_size is None else _size(paste_size, "paste_size")
        if any(p > i for p, i in zip(self.paste_size, self.input_size)):
            raise ValueError(f"paste_size {self.paste_size} must not exceed input_size {self.input_size}")
        if cropper not in CROPPERS:
            raise ValueError(f"cropper must be one of {CROPPERS}, got {cropper!r}")
        self.cropper = cropper
        self.channels = tuple(channels)
        self.part_channels = self.channels if part_channels is None else tuple(part_channels)
        self.localizer_channels = localizer_channels
        self.loss_weights = dict(DEFAULT_LOSS_WEIGHTS)
        unknown = set(loss_weights or {}) - set(DEFAULT_LOSS_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown loss_weights keys {sorted(unknown)}; known: {sorted(DEFAULT_LOSS_WEIGHTS)}")
        self.loss_weights.update(loss_weights or {})
        self.phase = "end_to_end"

        num_classes = len(self.class_names)
        self._part_class_ids = [[self.class_names.index(c) for c in p.classes] for p in self.parts]
        covered = {i for ids in self._part_class_ids for i in ids}
        self._uncovered_ids = [i for i in range(num_classes) if i not in covered]
        # Per part: full class index -> the part model's local index (0 = its background).
        self._local_tables = []
        for ids in self._part_class_ids:
            table = [0] * num_classes
            for local, class_id in enumerate(ids, start=1):
                table[class_id] = local
            self._local_tables.append(table)

        # === Layers ===
        factor = (self.input_size[0] / self.stage1_size[0], self.input_size[1] / self.stage1_size[1])
        if all(f == int(f) and f >= 1 for f in factor):
            # Exact area resize, builtin AVERAGE_POOL_2D in TFLite.
            self.to_stage1 = layers.AveragePooling2D(pool_size=tuple(int(f) for f in factor), name="to_stage1")
        else:
            self.to_stage1 = layers.Resizing(*self.stage1_size, interpolation="bilinear", name="to_stage1")
        self.from_stage1 = layers.Resizing(*self.paste_size, interpolation="bilinear", name="from_stage1")
        # Upsampling the merged map is a convex combination, so the probabilities stay
        # normalised. The paste's grid spans [-1, 1] corner to corner (align-corners) and the
        # upsampling is half-pixel: a pasted part lands up to half an output pixel (at the
        # border; none at the centre) off where the full-size paste puts it, at 2x.
        self.to_output = (None if self.paste_size == self.input_size else
                          layers.Resizing(*self.input_size, interpolation="bilinear", name="to_output"))
        self.stage1 = ICNN(num_classes=num_classes, input_shape=(*self.stage1_size, 3), channels=self.channels, name="stage1")
        self.localizer = LocalizationNetwork(
            len(self.parts), self.input_size, self.crop_size, channels=localizer_channels,
            base_scale=self.crop_scale, name="localizer",
        )
        self.crop = SpatialCrop(self.crop_size, name="crop")
        self.paste = SpatialPaste(self.paste_size, name="paste")
        model_keys = sorted({p.model for p in self.parts})
        self._model_index = {key: i for i, key in enumerate(model_keys)}
        sizes = {p.model: len(p.classes) + 1 for p in self.parts}
        self.part_models = [
            ICNN(num_classes=sizes[key], input_shape=(*self.crop_size, 3), channels=self.part_channels,
                 name=f"part_{key}")
            for key in model_keys
        ]
        self.localizer.build((None, *self.stage1_size, num_classes))
        self.build((None, *self.input_size, 3))

    def build(self, input_shape=None):
        # Every weight-holding sub-model is built in __init__ (fixed input size), so weights
        # can be loaded before the first call.
        self.built = True

    # === Training phases ===
    def set_phase(self, phase):
        """Train one step of the schedule: freezes what that step does not train.

        Recompile after changing the phase (Keras collects trainable weights at compile).
        """
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; choose one of {', '.join(PHASES)}")
        self.phase = phase
        self.stage1.trainable = phase in ("stage1", "end_to_end")
        self.localizer.trainable = phase in ("localizer", "end_to_end")
        for model in self.part_models:
            model.trainable = phase in ("parts", "end_to_end")
        return self

    def centroid_thetas(self, labels):
        """Crops centred on the parts of full-resolution ``labels (B, H, W)``; numpy."""
        thetas, _ = part_centroid_thetas(labels, self._part_class_ids, self.input_size, self.crop_size, self.crop_scale)
        return ops.convert_to_numpy(thetas)

    # === Forward pass ===
    def call(self, inputs, training=None):
        if isinstance(inputs, dict):
            unknown = set(inputs) - {"images", "thetas"}
            if unknown or "images" not in inputs:
                raise ValueError(f"dict inputs take 'images' and optionally 'thetas', got keys {sorted(inputs)}")
            images, thetas = inputs["images"], inputs.get("thetas")
        else:
            images, thetas = inputs, None
        images = ops.cast(images, "float32")
        phase = self.phase if training else None
        outputs = {}
        if not (phase == "parts" and thetas is not None):
            stage1_logits = self.stage1(self.to_stage1(images), training=training)
            stage1_probs = ops.softmax(stage1_logits, axis=-1)
            outputs["stage1_logits"] = stage1_logits
            if phase == "stage1":
                return outputs
        # Our own thetas are scale + translation by construction; given ones may be any affine.
        axis_aligned = thetas is None
        if thetas is None:
            if self.cropper == "centroid" and not training:
                thetas = self._stage1_centroid_thetas(stage1_probs)
            else:
                thetas = self.localizer(stage1_probs, training=training)
        outputs["thetas"] = thetas
        if phase == "localizer":
            return outputs
        crops = self.crop(images, thetas)
        part_logits = self._label_parts(crops, training)
        if training:
            outputs["part_logits"] = part_logits
            return outputs
        return self._assemble(stage1_probs, thetas, part_logits, axis_aligned=axis_aligned)

    def _stage1_centroid_thetas(self, stage1_probs):
        """The iCNN pipeline's cropper: centroids of the stage-1 argmax, at full resolution."""
        labels = ops.argmax(stage1_probs, axis=-1)
        centers, _ = label_centroids(labels, self._part_class_ids)
        factor = ops.convert_to_tensor(
            [self.input_size[1] / self.stage1_size[1], self.input_size[0] / self.stage1_size[0]], "float32"
        )
        centers = (centers + 0.5) * factor - 0.5
        return ops.stop_gradient(crop_theta(centers, self.input_size, self.crop_size, self.crop_scale))

    def _label_part(self, index, crop, training):
        spec = self.parts[index]
        model = self.part_models[self._model_index[spec.model]]
        if spec.flip:
            return ops.flip(model(ops.flip(crop, axis=2), training=training), axis=2)
        return model(crop, training=training)

    def _label_parts(self, crops, training=None):
        """Part logits ``[(B, h, w, classes + 1)]``, one per part, from ``crops (B, P, h, w, 3)``.

        At inference the parts that share a model (both brows, both eyes) go through it
        as one batch, the mirrored side flipped: the same numbers from half as many, larger
        ops. In training each part is its own call, so BatchNormalization's batch
        statistics stay per part.
        """
        if training:
            return [self._label_part(i, crops[:, i], training) for i in range(len(self.parts))]
        logits = [None] * len(self.parts)
        for key, model_index in self._model_index.items():
            members = [i for i, spec in enumerate(self.parts) if spec.model == key]
            batch = ops.stack(
                [ops.flip(crops[:, i], axis=2) if self.parts[i].flip else crops[:, i] for i in members], axis=1
            )  # (B, n, h, w, 3)
            out = self.part_models[model_index](ops.reshape(batch, (-1, *batch.shape[2:])), training=training)
            out = ops.reshape(out, (-1, len(members), *out.shape[1:]))
            for j, i in enumerate(members):
                logits[i] = ops.flip(out[:, j], axis=2) if self.parts[i].flip else out[:, j]
        return logits

    def _assemble(self, stage1_probs, thetas, part_logits, axis_aligned=True):
        """Full-resolution probabilities ``(B, H, W, classes)`` from stage 1 and the parts
        (merged at ``paste_size``, then upsampled to ``input_size`` if it is smaller).

        Each part's foreground probabilities are pasted back; the classes no part covers
        (background, skin, hair) share what no part claims, in the proportions of the
        upsampled stage-1 softmax; the result is normalised per pixel. All work at full
        resolution is on single-class ``(B, H, W)`` planes, and only the uncovered classes
        of stage 1 are upsampled. ``axis_aligned`` (thetas of the scale + translation
        form, as the localizer and the centroid cropper make) pastes by matrix products
        (:func:`~facezoo.layers.paste_planes`), otherwise with the gathering
        :class:`~facezoo.layers.SpatialPaste`; both compute the same bilinear paste.
        """
        planes, plane_thetas = [], []
        for index, logits in enumerate(part_logits):
            foreground = ops.softmax(logits, axis=-1)[..., 1:]  # (B, h, w, C)
            planes.append(ops.transpose(foreground, (0, 3, 1, 2)))
            plane_thetas += [thetas[:, index]] * foreground.shape[-1]
        planes = ops.concatenate(planes, axis=1)  # (B, K, h, w)
        plane_thetas = ops.stack(plane_thetas, axis=1)  # (B, K, 2, 3)
        if axis_aligned:
            pasted = paste_planes(planes, plane_thetas, self.paste_size)
        else:
            pasted = self.paste(ops.expand_dims(planes, -1), plane_thetas)[..., 0]
        pasted = ops.unstack(pasted, axis=1)  # K planes (B, H, W)

        channels = [None] * len(self.class_names)
        unclaimed = None  # probability that no part claims the pixel
        planes_of = iter(pasted)
        for class_ids in self._part_class_ids:
            claimed = None
            for class_id in class_ids:
                channels[class_id] = next(planes_of)
                claimed = channels[class_id] if claimed is None else claimed + channels[class_id]
            unclaimed = 1.0 - claimed if unclaimed is None else unclaimed * (1.0 - claimed)
        # One resize of the uncovered classes together, and the planes stacked where they are
        # contiguous then transposed once: the same numbers as per-class resizes and a
        # channel-last stack, in less TFLite time (single-channel resizes and an 11-way
        # interleave are slow in XNNPACK; benchmarks/stn_icnn_profile.py).
        coarse = self.from_stage1(ops.take(stage1_probs, self._uncovered_ids, axis=-1))
        coarse = ops.unstack(ops.transpose(coarse, (0, 3, 1, 2)), axis=1)
        coarse_total = sum(coarse) + 1e-6
        for i, plane in zip(self._uncovered_ids, coarse):
            channels[i] = unclaimed * plane / coarse_total
        probs = ops.transpose(ops.stack(channels, axis=1), (0, 2, 3, 1))
        probs = probs / (ops.sum(probs, axis=-1, keepdims=True) + 1e-6)
        return probs if self.to_output is None else self.to_output(probs)

    # === Training ===
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        labels = ops.cast(y, "int32")
        if len(labels.shape) == 4:
            labels = labels[..., 0]
        if not isinstance(y_pred, dict):  # evaluate(): probabilities at full resolution
            loss = sparse_cross_entropy(labels, ops.log(ops.maximum(y_pred, 1e-7)))
            return loss + self._regularization()
        active = PHASES[self.phase]
        weights = {k: (self.loss_weights.get(k, 0.0) if k in active else 0.0) for k in DEFAULT_LOSS_WEIGHTS}
        total = 0.0
        if weights["stage1"] and "stage1_logits" in y_pred:
            small = ops.image.resize(ops.cast(labels[..., None], "float32"), self.stage1_size, interpolation="nearest")
            total += weights["stage1"] * sparse_cross_entropy(small[..., 0], y_pred["stage1_logits"])
        if weights["theta"] and "thetas" in y_pred:
            target, valid = part_centroid_thetas(
                labels, self._part_class_ids, self.input_size, self.crop_size, self.crop_scale
            )
            total += weights["theta"] * theta_regression(y_pred["thetas"], target, valid)
        if (weights["parts"] or weights["part_dice"]) and "part_logits" in y_pred:
            thetas = ops.stop_gradient(y_pred["thetas"])
            crops = affine_sample(ops.cast(labels[..., None], "float32"), thetas, self.crop_size, "nearest")
            crops = ops.cast(ops.round(crops[..., 0]), "int32")
            part_losses, dice_losses = [], []
            for index, (table, logits) in enumerate(zip(self._local_tables, y_pred["part_logits"])):
                local = ops.take(ops.convert_to_tensor(table, "int32"), ops.maximum(crops[:, index], 0))
                local = ops.where(crops[:, index] < 0, -1, local)  # unknown stays unknown
                part_losses.append(sparse_cross_entropy(local, logits))
                if weights["part_dice"]:  # the part's own classes, not its background
                    dice_losses.append(1.0 - ops.mean(soft_dice(local, logits)[1:]))
            total += weights["parts"] * sum(part_losses) / len(part_losses)
            if dice_losses:
                total += weights["part_dice"] * sum(dice_losses) / len(dice_losses)
        return total + self._regularization()

    def _regularization(self):
        return sum((ops.sum(loss) for loss in self.losses), 0.0)

    # === Config ===
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "class_names": list(self.architecture_classes()),
            "parts": [p.to_dict() for p in self.parts],
            "input_size": list(self.input_size),
            "stage1_size": list(self.stage1_size),
            "crop_size": list(self.crop_size),
            "crop_scale": self.crop_scale,
            "paste_size": None if self.paste_size == self.input_size else list(self.paste_size),
            "channels": list(self.channels),
            # only when set, so that the configs of the published files stay as they were
            **({} if self.part_channels == self.channels else {"part_channels": list(self.part_channels)}),
            "localizer_channels": self.localizer_channels,
            "loss_weights": dict(self.loss_weights),
            "cropper": self.cropper,
            **self.info_config(),
        }

    def weights_config(self):
        """Without the paste size and the loss weights, which shape no weight: a checkpoint
        trained or saved with others fits the same preset."""
        config = super().weights_config()
        for key in ("paste_size", "loss_weights"):
            config.pop(key, None)
        return config

    def architecture_classes(self):
        return self.__dict__.get("_architecture_class_names", ())

    def head_config(self, class_names):
        return {"class_names": list(class_names)}

    def transfer_weights_from(self, source):
        """A new class set: stage 1 keeps all but its head, the localizer what still fits
        (its first convolution reads one channel per class), each part model of the same name
        all of its weights, or all but its head where its part's number of classes changed."""
        copied = _transfer(source.stage1.weights, self.stage1.weights, ICNN.HEAD_LAYERS)
        copied += _transfer(source.localizer.weights, self.localizer.weights)
        old_parts = {model.name: model for model in source.part_models}
        for model in self.part_models:
            old = old_parts.get(model.name)
            if old is not None:
                head = () if old.num_classes == model.num_classes else ICNN.HEAD_LAYERS
                copied += _transfer(old.weights, model.weights, head)
        return copied


def _size(value, name):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 1 for v in value):
        raise ValueError(f"{name} must be an int or an (height, width) pair of ints > 1, got {value!r}")
    return value

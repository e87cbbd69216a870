"""What every facezoo architecture shares: its :class:`~facezoo.info.ModelInfo`, its
training defaults and a new head for another class set.

``class MyParser(FaceModel, keras.Model)`` gets:

* ``model.info`` (task, classes and colours, input size, normalisation, alignment...),
  saved in ``get_config`` (add ``**self.info_config()`` to a hand-written config) and
  restored by :meth:`FaceModel.from_config`, so it survives ``.keras`` and ``.npz`` files;
  ``model.class_names``, ``model.class_colors`` and ``model.preprocess(images)`` read it;
* ``model.compile()`` with ``optimizer="auto"``, ``loss="auto"``, ``metrics="auto"``
  filled in by the architecture (:meth:`default_loss`), as keras-hub's tasks do, so a
  loaded model is ready for ``fit``;
* ``fit``/``train_on_batch`` that check the targets against the model (labels within
  the class range, landmark arrays of the right shape) before training on them;
* :meth:`with_classes`: the same architecture for another class set, every trained
  layer copied and a fresh head.

Example:
    >>> model = facezoo.load("icnn_lfw")                  # compiled with its own loss
    >>> five = model.with_classes(["background", "skin", "hair", "eyes", "mouth"])
    >>> five.compile()
    >>> five.fit(faces, labels_0_to_4, epochs=3)
"""

import keras
import numpy as np

from facezoo.info import ModelInfo

#: Key of the model info in a model's config.
INFO_KEY = "facezoo_info"


class TargetError(ValueError):
    """Training targets that do not fit the model (e.g. labels beyond its classes)."""


class FaceModel:
    """Mixin for facezoo's Keras models (put it before ``keras.Model`` in the bases)."""

    #: ``"parsing"`` or ``"landmarks"``.
    TASK = "parsing"
    #: What the model returns at inference: ``"logits"``, ``"probabilities"`` or ``"points"``.
    OUTPUT = "logits"
    #: Layers a new head re-initialises (their weights depend on the class set).
    HEAD_LAYERS = ()

    # === Info ===
    @property
    def info(self):
        """The model's :class:`ModelInfo` (a bare architecture gets a default one)."""
        info = self.__dict__.get("_facezoo_info")
        return info if info is not None else self.default_info()

    @info.setter
    def info(self, info):
        if isinstance(info, dict):
            info = ModelInfo.from_dict(info)
        if not isinstance(info, ModelInfo):
            raise TypeError(f"info must be a facezoo.info.ModelInfo or its dict, got {type(info).__name__}")
        self.check_info(info)
        self.__dict__["_facezoo_info"] = info

    def default_info(self):
        """What a freshly built architecture knows about itself."""
        return ModelInfo(name=self.name, task=self.TASK, input_size=self.nominal_input_size(),
                         class_names=self.architecture_classes(), output=self.OUTPUT,
                         num_points=getattr(self, "num_points", 0) if self.TASK == "landmarks" else 0)

    def nominal_input_size(self):
        return tuple(self.input_size)

    def architecture_classes(self):
        """Class names the architecture itself fixes (generic ones when it only knows a count)."""
        if self.TASK != "parsing":
            return ()
        return ("background",) + tuple(f"class_{i}" for i in range(1, self.num_classes))

    def check_info(self, info):
        """Refuse an info that does not describe this model."""
        if info.task != self.TASK:
            raise ValueError(f"{type(self).__name__} is a {self.TASK} model; the info says {info.task!r}")
        if self.TASK == "parsing" and info.num_classes != len(self.architecture_classes()):
            raise ValueError(f"{type(self).__name__} {self.name!r} predicts {len(self.architecture_classes())} "
                             f"classes; the info names {info.num_classes}: {list(info.class_names)}")
        if self.TASK == "landmarks" and info.num_points not in (0, self.num_points):
            raise ValueError(f"{self.name!r} predicts {self.num_points} points; the info says {info.num_points}")

    @property
    def class_names(self):
        info = self.__dict__.get("_facezoo_info")
        return info.class_names if info is not None else self.architecture_classes()

    @class_names.setter
    def class_names(self, names):  # an architecture that is configured by its class names (STN-iCNN)
        self.__dict__["_architecture_class_names"] = tuple(names)

    @property
    def class_colors(self):
        return self.info.class_colors

    def preprocess(self, images, resize=None):
        """uint8 or [0, 1] float image(s) -> this model's input batch (see ModelInfo.preprocess:
        resized to its input size by default for parsers, not for the landmark models, whose
        points come back in the given crop's own pixels)."""
        return self.info.preprocess(images, resize=resize)

    # === Inputs ===
    def check_inputs(self, images):
        """Raise ValueError when a numpy batch ``images`` is plainly not this model's
        normalised input: 8-bit (integer) pixels, or floats beyond the range
        :meth:`preprocess` maps 0..255 to by more than half its width (0..255 floats given to
        a model that takes [0, 1]). Tensors and datasets pass unchecked (this runs eagerly, on
        what users hand to ``predict``, ``fit``, ``evaluate`` and ``model(x)``)."""
        if not isinstance(images, np.ndarray) or not images.size:
            return
        if images.ndim == 3 and images.shape[-1] in (3, 4):
            raise ValueError(f"{self.name} takes a batch (B, H, W, C); got one image {images.shape}: give "
                             "images[None] (model.preprocess adds the batch axis itself)")
        if images.ndim != 4 or images.shape[-1] < 3:
            return
        hint = ("give model.preprocess(images) (uint8 RGB, or floats in [0, 1] -> its normalised input), or use "
                "facezoo.parse / facezoo.landmarks on photos")
        if images.dtype.kind in "uib":
            raise ValueError(f"{self.name} takes normalised float images, got {images.dtype} pixels: {hint}")
        if images.dtype.kind != "f":
            return
        low, high = self.info.input_range()
        slack = (high - low) / 2
        pixels = images[..., :3]  # an RTParser's fourth channel is its landmark heatmap
        seen_low, seen_high = pixels.min(axis=(0, 1, 2)), pixels.max(axis=(0, 1, 2))
        if not (np.isfinite(seen_low).all() and np.isfinite(seen_high).all()):
            raise ValueError(f"{self.name}: the images hold NaN or infinite values")
        if (seen_low < low - slack).any() or (seen_high > high + slack).any():
            raise ValueError(
                f"{self.name}: these images range over [{seen_low.min():.3g}, {seen_high.max():.3g}], but its "
                f"normalised input lies in [{low.min():.3g}, {high.max():.3g}] (raw 0..255 pixels?): {hint}")

    def __call__(self, *args, **kwargs):
        if args:
            self.check_inputs(args[0])
        return super().__call__(*args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """Keras ``predict``, after :meth:`check_inputs`."""
        self.check_inputs(x)
        return super().predict(x, *args, **kwargs)

    def predict_on_batch(self, x):
        self.check_inputs(x)
        return super().predict_on_batch(x)

    def evaluate(self, x=None, *args, **kwargs):
        """Keras ``evaluate``, after :meth:`check_inputs`."""
        self.check_inputs(x)
        return super().evaluate(x, *args, **kwargs)

    # === Config ===
    def info_config(self):
        """``{"facezoo_info": ...}`` when the model carries an info of its own, else ``{}``."""
        info = self.__dict__.get("_facezoo_info")
        return {} if info is None else {INFO_KEY: info.to_dict()}

    def architecture_config(self):
        """``get_config()`` without the info: the network, to rebuild or publish it."""
        return {k: v for k, v in self.get_config().items() if k != INFO_KEY}

    def weights_config(self):
        """What decides the weights' shapes: two models with equal ones can swap weights
        (:meth:`architecture_config` less settings that shape no weight)."""
        return self.architecture_config()

    def get_config(self):
        return {**super().get_config(), **self.info_config()}

    def weights_config_differences(self, other, ignore=()):
        """The keys of :meth:`weights_config` in which ``other`` differs from this model, the
        name (and ``ignore``) aside: empty when their weights are interchangeable."""
        mine, theirs = self.weights_config(), other.weights_config()
        skip = {"name", *ignore}
        return sorted(k for k in set(mine) | set(theirs) if k not in skip and mine.get(k) != theirs.get(k))

    def with_settings(self, **settings):
        """The same weights under other settings that shape none of them (ADC's flip
        average, regional passes, the name...): a new model. Presets that share a checkpoint
        differ only so (``adc_landmarks_300w`` and its fast variant).

        Returns:
            A new, uncompiled model (its info renamed with it).
        Raises:
            ValueError: a setting that would change the weights (see :meth:`weights_config`).

        Example:
            >>> fast = facezoo.load("adc_landmarks_300w").with_settings(flip_test=False, refine_passes=1)
        """
        new = type(self).from_config({**self.get_config(), **settings})
        changed = self.weights_config_differences(new)
        if changed:
            raise ValueError(f"{', '.join(changed)} belong to what {self.name}'s weights fit (weights_config); "
                             "with_settings changes only the settings outside it (another architecture: "
                             "facezoo.load(name, weights=None))")
        new.set_weights(self.get_weights())
        if "_facezoo_info" in new.__dict__ and new.info.name != new.name:
            new.info = new.info.replace(name=new.name)
        return new

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        info = config.pop(INFO_KEY, None)
        model = cls(**config)
        if info is not None:
            model.info = info
        return model

    # === Training ===
    def default_loss(self):
        """The loss ``compile(loss="auto")`` uses; None where the model brings its own
        ``compute_loss``."""
        return None

    def default_metrics(self):
        return None

    def default_optimizer(self):
        return keras.optimizers.Adam(learning_rate=1e-3)

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Keras ``compile``; ``"auto"`` takes the architecture's own optimizer (Adam 1e-3),
        loss and metrics."""
        optimizer = self.default_optimizer() if optimizer == "auto" else optimizer
        loss = self.default_loss() if isinstance(loss, str) and loss == "auto" else loss
        metrics = self.default_metrics() if isinstance(metrics, str) and metrics == "auto" else metrics
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        """Recompile a loaded ``.keras`` file as it was compiled (Keras skips models whose
        ``compile`` is overridden; this one takes Keras' own arguments)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)

    def check_targets(self, targets, images=None):
        """Raise :class:`TargetError` when ``targets`` cannot be this model's training targets
        (a dict or list of them, one per named output, has each entry checked); with the
        ``images`` they go with, a parser's label maps must have the images' height and width."""
        if isinstance(targets, (dict, list, tuple)):
            for entry in keras.tree.flatten(targets):
                self.check_targets(entry, images)
            return
        targets = np.asarray(keras.ops.convert_to_numpy(targets))
        size = tuple(getattr(images, "shape", ())[1:3])
        if self.TASK == "parsing" and len(size) == 2 and targets.ndim >= 3 and tuple(targets.shape[1:3]) != size:
            raise TargetError(f"label maps of {targets.shape[1]}x{targets.shape[2]} pixels for images of "
                              f"{size[0]}x{size[1]}: {self.name!r} labels every pixel of its input, so each "
                              "label map must have its image's size (resize both to the model's input size, "
                              "the labels by nearest neighbour: model.preprocess does the images)")
        if self.TASK == "landmarks":
            if targets.shape[-2:] != (self.num_points, 2):
                raise TargetError(f"{self.name!r} predicts {self.num_points} (x, y) points; targets of shape "
                                  f"{targets.shape} are not (batch, {self.num_points}, 2)")
            return
        if targets.dtype.kind not in "iub" and not (targets.dtype.kind == "f" and np.all(targets == np.round(targets))):
            raise TargetError(f"label maps must be integer class indices, got dtype {targets.dtype}")
        top = int(targets.max()) if targets.size else 0
        if top >= len(self.class_names):
            names = ", ".join(self.class_names)
            raise TargetError(
                f"labels reach {top}, but {self.name!r} has {len(self.class_names)} classes ({names}), so labels "
                f"must lie in 0..{len(self.class_names) - 1} (negative: unknown, left out of the loss). Remap the "
                "labels (facezoo.data.FolderDataset(label_map=...)), or give the model a head for them: "
                "facezoo.load(name, class_names=[...]) / model.with_classes([...])")

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras ``fit``, after checking array targets, or each batch of a PyDataset as it
        is read (other dataset objects are passed through unchecked)."""
        self.check_inputs(x)
        if y is not None:
            self.check_targets(y, x)
        elif isinstance(x, keras.utils.PyDataset):
            x = CheckedTargets(x, self.check_targets)
        self._build_optimizer()
        return super().fit(x, y, *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        self.check_inputs(x)
        if y is not None:
            self.check_targets(y, x)
        self._build_optimizer()
        return super().train_on_batch(x, y, *args, **kwargs)

    def _build_optimizer(self):
        """Create the optimizer's slots before the first training step. Without a
        distribution strategy TensorFlow's trainer creates them inside the traced step,
        and a step that creates variables is traced twice: a second trace of the whole
        training graph (67 s of 133 for a small STN-iCNN's first step). Under a strategy
        Keras builds them itself, in the strategy's scope."""
        if (self.built and getattr(self, "optimizer", None) is not None and not self.optimizer.built
                and getattr(self, "_distribute_strategy", None) is None):
            self.optimizer.build(self.trainable_variables)

    # === A new head ===
    def head_config(self, class_names):
        """Config changes that give the architecture ``class_names`` as its classes."""
        if self.TASK != "parsing":
            raise ValueError(f"{type(self).__name__} predicts landmarks; it has no classes to change")
        return {"num_classes": len(class_names)}

    def with_classes(self, class_names=None, num_classes=None, class_colors=None, **config):
        """The same architecture for another class set: every layer outside the head keeps
        its trained weights, the head (:data:`HEAD_LAYERS`, and any weight whose shape
        depends on the classes) starts fresh. ``config`` overrides more of the config
        (e.g. STN-iCNN's ``parts``).

        Args:
            class_names: the new classes, background first.
            num_classes: instead of names: ``background, class_1, ...``.
            class_colors: RGB per class (kept by name from the old ones, else generated).
        Returns:
            A new, uncompiled model whose ``info`` names the new classes.
        """
        if class_names is None:
            if num_classes is None:
                raise ValueError("give class_names=[...] or num_classes=K")
            class_names = ("background",) + tuple(f"class_{i}" for i in range(1, int(num_classes)))
        class_names = tuple(class_names)
        if num_classes is not None and int(num_classes) != len(class_names):
            raise ValueError(f"num_classes={num_classes} but {len(class_names)} class_names were given")
        new = type(self).from_config({**self.architecture_config(), **self.head_config(class_names), **config})
        new.transfer_weights_from(self)
        # a fine-tune keeps its preset's name (STN-iCNN's Keras name is its family's)
        new.info = self.info.with_classes(class_names, class_colors).replace(name=self.info.name or new.name)
        return new

    def transfer_weights_from(self, source):
        """Copy ``source``'s weights into this model where the layer is not a head layer
        and the shapes agree (variables matched in order). Returns the number copied."""
        return _transfer(source.weights, self.weights, self.HEAD_LAYERS)


def _transfer(source, target, head_layers=()):
    if len(source) != len(target):
        raise ValueError(f"cannot match weights: {len(source)} variables in the source, {len(target)} here")
    copied = 0
    for old, new in zip(source, target):
        layer = old.path.split("/")[-2] if "/" in old.path else ""
        if layer in head_layers or tuple(old.shape) != tuple(new.shape):
            continue
        new.assign(old)
        copied += 1
    return copied


class CheckedTargets(keras.utils.PyDataset):
    """A PyDataset whose batches' targets are checked by ``check`` as they are read."""

    def __init__(self, data, check):
        super().__init__(workers=data.workers, use_multiprocessing=data.use_multiprocessing,
                         max_queue_size=data.max_queue_size)
        self.data, self.check = data, check

    def __len__(self):
        return len(self.data)

    @property
    def num_batches(self):
        return self.data.num_batches

    def __getitem__(self, index):
        batch = self.data[index]
        if isinstance(batch, tuple) and len(batch) >= 2:
            try:
                self.check(batch[1], batch[0])
            except TargetError as error:
                raise TargetError(f"batch {index} of {type(self.data).__name__}: {error}") from None
        return batch

    def on_epoch_begin(self):
        self.data.on_epoch_begin()

    def on_epoch_end(self):
        self.data.on_epoch_end()

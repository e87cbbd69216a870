"""The real-time face parser of Wei, Liu, Sun, Ling ("Accurate Facial Image Parsing at
Real-Time Speed", IEEE TIP 2019), as far as it is published: a light fully convolutional
network whose receptive field is set by its Normalized Receptive Field (``NRF = r / s``,
see :mod:`facezoo.receptive_field`) through the dilation of its context block, an
optional landmark-heatmap input channel, an optional embedding output for the
Statistical Contextual loss (:class:`facezoo.losses.StatisticalContextualLoss`), and
:class:`Distiller` to train a lighter student from a teacher on labelled and unlabelled
faces.

Example:
    >>> model = RTParser(num_classes=3, input_size=(256, 256), dilation=4)
    >>> normalized_receptive_field(model, 256)
    >>> student = RTParser(num_classes=3, input_size=(256, 256), width=0.4)
    >>> multiply_adds(student) * 4 <= multiply_adds(model)
    True
"""

import keras
import numpy as np
from keras import layers, ops

from facezoo.losses import PixelCrossEntropy, soft_dice_of_probabilities
from facezoo.models.base import FaceModel


def _conv_bn(x, filters, kernel, strides=1, name=None):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _separable(x, filters, strides=1, dilation=1, name=None):
    """Depthwise 3x3 (strided or dilated) then pointwise, each with BN and ReLU."""
    x = layers.DepthwiseConv2D(3, strides=strides, dilation_rate=dilation, padding="same", use_bias=False,
                               name=f"{name}_dw")(x)
    x = layers.ReLU(name=f"{name}_dw_relu")(layers.BatchNormalization(name=f"{name}_dw_bn")(x))
    return _conv_bn(x, filters, 1, name=f"{name}_pw")


@keras.saving.register_keras_serializable(package="facezoo")
class RTParser(FaceModel, keras.Model):
    """Light FCN: stem /2, separable blocks to /8, a dilated context block (its
    ``dilation`` sets the NRF), a decoder that fuses the context with the /4 and /2
    features, logits at /2, bilinear upsampling to the input size.

    Args:
        num_classes: output classes (logits).
        input_size: ``(H, W)``.
        heatmap_channel: one extra input channel with a landmark heatmap
            (:func:`landmark_heatmap`).
        width: channel multiplier (0.4 gives a student with 4.5x fewer multiply-adds at
            256x256; the depthwise layers shrink only linearly).
        dilation: dilation of the first context layer; the second uses twice it.
        embedding_dims: size of the embedding output for the SC loss (0: none). With it the
            model returns ``{"logits": ..., "embedding": ...}``.

    Example:
        >>> model = RTParser(num_classes=3, input_size=(256, 256))
        >>> model.compile()                            # Adam, pixel cross-entropy
        >>> model.fit(faces_in_0_1, label_maps, epochs=1)
    """

    HEAD_LAYERS = ("fine_logits",)

    def __init__(self, num_classes=3, input_size=(256, 256), heatmap_channel=False, width=1.0, dilation=4,
                 embedding_dims=0, name="rtparser", **kwargs):
        height, width_px = input_size
        channels = 3 + int(bool(heatmap_channel))
        c = lambda n: max(8, int(round(n * width)))  # noqa: E731
        inputs = keras.Input((height, width_px, channels), name="images")
        stem = _conv_bn(inputs, c(32), 3, strides=2, name="stem")                    # /2
        x = _separable(stem, c(48), strides=2, name="down4")                          # /4
        quarter = _separable(x, c(48), name="block4")
        x = _separable(quarter, c(96), strides=2, name="down8")                       # /8
        x = _separable(x, c(128), name="block8")
        x = _separable(x, c(128), name="block8b")
        x = _separable(x, c(128), dilation=dilation, name="context1")
        features = _separable(x, c(128), dilation=2 * dilation, name="context2")
        # Decoder: context features brought back to /4 and /2 and fused with the encoder's
        # features there, so that boundaries (hair, jaw) are drawn at /2, not guessed at /8.
        x = _conv_bn(features, c(48), 1, name="reduce")
        x = layers.UpSampling2D(2, interpolation="bilinear", name="up4")(x)
        x = _separable(layers.Concatenate(name="fuse4")([x, quarter]), c(48), name="refine4")
        x = layers.UpSampling2D(2, interpolation="bilinear", name="up2")(x)
        x = _separable(layers.Concatenate(name="fuse2")([x, stem]), c(32), name="refine2")
        logits = layers.Conv2D(num_classes, 1, name="fine_logits")(x)
        logits = layers.UpSampling2D(2, interpolation="bilinear", name="logits")(logits)
        outputs = logits
        if embedding_dims:
            embedding = layers.Conv2D(embedding_dims, 1, name="embedding")(features)
            outputs = {"logits": logits, "embedding": embedding}
        super().__init__(inputs, outputs, name=name, **kwargs)
        self.num_classes, self.input_size, self.heatmap_channel = num_classes, tuple(input_size), bool(heatmap_channel)
        self.width, self.dilation, self.embedding_dims = float(width), int(dilation), int(embedding_dims)

    def without_embedding(self):
        """The same parser without the SC-loss embedding head (for inference and export),
        sharing nothing but copies of the weights."""
        return RTParser.from_config({**self.get_config(), "embedding_dims": 0}).copy_weights_from(self)

    def copy_weights_from(self, source):
        """Copy every layer's weights from ``source``, an RTParser of the same shape, matched
        by layer name; an SC embedding head that ``source`` lacks keeps its initialisation.
        Raises ValueError when the shapes differ. Returns ``self``.

        Example:
            >>> RTParser(num_classes=19, input_size=(512, 512), embedding_dims=16).copy_weights_from(trained)
        """
        names = {layer.name for layer in source.layers}
        for layer in self.layers:
            if not layer.weights or (layer.name == "embedding" and layer.name not in names):
                continue
            try:
                layer.set_weights(source.get_layer(layer.name).get_weights())
            except ValueError as error:
                raise ValueError(f"layer {layer.name}: {error}") from None
        return self

    def get_config(self):
        return {"num_classes": self.num_classes, "input_size": list(self.input_size),
                "heatmap_channel": self.heatmap_channel, "width": self.width, "dilation": self.dilation,
                "embedding_dims": self.embedding_dims, "name": self.name, **self.info_config()}

    def default_loss(self):
        if self.embedding_dims:
            raise ValueError("an RTParser with an SC-loss embedding has two outputs: compile it with a loss per "
                             "output (see recipes/rtparser.py), or use without_embedding()")
        return PixelCrossEntropy()


def multiply_adds(model):
    """Multiply-adds of one forward pass (convolutions and dense layers; the rest is
    negligible), counted from each layer's output size."""
    total = 0
    for layer in _all_layers(model):
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D)) and not isinstance(layer, layers.Conv2DTranspose):
            out_h, out_w = layer.output.shape[1:3]
            kh, kw = layer.kernel_size
            if isinstance(layer, layers.DepthwiseConv2D):
                per_pixel = kh * kw * layer.input.shape[-1] * layer.depth_multiplier
            else:
                per_pixel = kh * kw * layer.input.shape[-1] * layer.filters
            total += out_h * out_w * per_pixel
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def landmark_heatmap(points, size, half_width=1, sigma=2.0):
    """One heatmap channel ``(H, W)`` float32 in [0, 1]: a ``(2*half_width+1)`` pixel
    square at each landmark ``(N, 2)`` (x, y pixels), Gaussian-blurred with ``sigma``
    and scaled to a peak of 1. Points outside the image are skipped."""
    height, width = size
    heat = np.zeros((height, width), np.float32)
    for x, y in np.round(np.asarray(points, np.float64)).astype(int):
        if 0 <= x < width and 0 <= y < height:
            heat[max(0, y - half_width):y + half_width + 1, max(0, x - half_width):x + half_width + 1] = 1.0
    if sigma > 0:
        radius = int(3 * sigma + 0.5)
        kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        kernel /= kernel.sum()
        heat = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, heat)
        heat = np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="same"), 0, heat)
    peak = heat.max()
    return (heat / peak if peak > 0 else heat).astype(np.float32)


@keras.saving.register_keras_serializable(package="facezoo")
class Distiller(keras.Model):
    """Semi-supervised distillation with ``model.fit``: the ``student`` learns from labels
    where there are any and from the frozen ``teacher``'s soft labels everywhere.

        L = CE(student, y) over labelled pixels (y >= 0)
          + alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) over all pixels
          + dice_weight * (1 - mean_k soft_dice_k(softmax(student), q))

    where ``q`` is the one-hot label on labelled pixels and ``softmax(teacher)`` on the
    others (:func:`facezoo.losses.soft_dice_of_probabilities`): the Dice term that makes a
    many-class teacher care for its small parts (``DiceCrossEntropy``), for the student too.

    Unlabelled faces are fed with label maps of -1. Both models take the same input and
    return logits of the same classes (a teacher that wants another input size is
    resized to). ``distiller.student`` is the model to keep.

    Example:
        >>> distiller = Distiller(student, teacher, temperature=2.0, alpha=1.0, dice_weight=0.0)
        >>> distiller.compile(optimizer="adam")
        >>> distiller.fit(faces, labels_or_minus_one, epochs=10)
    """

    def __init__(self, student, teacher, temperature=2.0, alpha=1.0, dice_weight=0.0, **kwargs):
        super().__init__(**kwargs)
        self.student, self.teacher = student, teacher
        self.teacher.trainable = False
        self.temperature, self.alpha, self.dice_weight = float(temperature), float(alpha), float(dice_weight)

    def call(self, images, training=False):
        return self.student(images, training=training)

    def _teacher_logits(self, images, size):
        teacher_size = tuple(self.teacher.input_shape[1:3])
        if None not in teacher_size and teacher_size != tuple(images.shape[1:3]):
            images = ops.image.resize(images, teacher_size, interpolation="bilinear")
        logits = self.teacher(images, training=False)
        if isinstance(logits, dict):
            logits = logits["logits"]
        if tuple(logits.shape[1:3]) != tuple(size):
            logits = ops.image.resize(logits, size, interpolation="bilinear")
        return ops.stop_gradient(logits)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        student = y_pred["logits"] if isinstance(y_pred, dict) else y_pred
        teacher = self._teacher_logits(x, student.shape[1:3])
        labels = ops.cast(y, "int32")
        labelled = ops.cast(labels >= 0, "float32")
        log_probs = ops.log_softmax(student, axis=-1)
        onehot = ops.one_hot(ops.maximum(labels, 0), student.shape[-1])
        ce = -ops.sum(ops.sum(onehot * log_probs, axis=-1) * labelled) / ops.maximum(ops.sum(labelled), 1.0)
        t = self.temperature
        soft_teacher = ops.softmax(teacher / t, axis=-1)
        kl = ops.sum(soft_teacher * (ops.log(soft_teacher + 1e-8) - ops.log_softmax(student / t, axis=-1)), axis=-1)
        loss = ce + self.alpha * t * t * ops.mean(kl)
        if self.dice_weight:
            targets = ops.where(labelled[..., None] > 0, onehot, ops.softmax(teacher, axis=-1))
            dice = soft_dice_of_probabilities(ops.softmax(student, axis=-1), targets)
            loss = loss + self.dice_weight * (1.0 - ops.mean(dice))
        return loss

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "alpha": self.alpha,
                "dice_weight": self.dice_weight,
                "student": keras.saving.serialize_keras_object(self.student),
                "teacher": keras.saving.serialize_keras_object(self.teacher)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        student = keras.saving.deserialize_keras_object(config.pop("student"))
        teacher = keras.saving.deserialize_keras_object(config.pop("teacher"))
        return cls(student, teacher, **config)

"""iCNN: interlinked convolutional networks for face parsing (Zhou, Hu, Zhang 2015).

Faithful to the re-implementation by the STN-iCNN authors (Yin et al. 2021):

* an input pyramid at full, 1/2, 1/4 and 1/8 resolution (3x3 max-pool, stride 2);
* one row per scale with 8/16/24/32 channels and 5x5 convolutions, BatchNorm, tanh;
* three interlink layers: each row concatenates its neighbours (the finer one max-pooled,
  the coarser one nearest-upsampled), then conv-BN-ReLU twice, never downsampling;
* coarse-to-fine output integration: from the coarsest row up, upsample, concatenate
  with the finer row, conv-BN-tanh;
* an output head: conv 5x5 to 2L+8 channels (BN, tanh), conv 5x5 to L, conv 9x9 to L.

The model outputs per-pixel *logits* ``(B, H, W, L)`` at the input resolution.
"""

import keras
from keras import layers, ops

from facezoo.losses import PixelCrossEntropy
from facezoo.models._validation import check_channels, check_positive_int
from facezoo.models.base import FaceModel


def _conv(filters, kernel_size, name):
    return layers.Conv2D(filters, kernel_size, padding="same", name=name)


def _bn(name):
    # PyTorch's BatchNorm2d defaults (momentum 0.1 there is 0.9 here).
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


def _downsample(name):
    return layers.MaxPooling2D(pool_size=3, strides=2, padding="same", name=name)


@keras.saving.register_keras_serializable(package="facezoo")
class NearestUpsample2x(layers.Layer):
    """Nearest-neighbour x2 upsampling as one resize op (UpSampling2D's repeat lowers to
    ExpandDims/Tile/Reshape, which int8 TFLite quantization cannot calibrate)."""

    def call(self, x):
        return ops.image.resize(x, (2 * x.shape[1], 2 * x.shape[2]), interpolation="nearest")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[1], 2 * input_shape[2], input_shape[3])

    def receptive_field_step(self, field):
        """For facezoo.receptive_field: upsampling halves the jump between units."""
        return tuple((r, j / 2) for r, j in field)


def _row_sizes(height, width, num_rows):
    sizes = [(height, width)]
    for _ in range(num_rows - 1):
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))  # what a stride-2 "same" pool gives
    return sizes


@keras.saving.register_keras_serializable(package="facezoo")
class ICNN(FaceModel, keras.Model):
    """iCNN face parser (logits at the input resolution).

    With the defaults (11 classes, 128x128x3 input, rows of 8/16/24/32 channels,
    3 interlink layers) it has 567,663 parameters.

    Args:
        num_classes: number of label classes L.
        input_shape: ``(H, W, C)``, C in {1, 3, 4} (grey, RGB, RGB + an extra channel
            such as a landmark heatmap).
        channels: channels of each row, finest first; its length is the number of rows.
        num_interlink: number of interlink layers.
        kernel_size: kernel of every convolution but the last.
        output_kernel_size: kernel of the last convolution.

    Example:
        >>> model = ICNN(num_classes=3, input_shape=(128, 128, 3))
        >>> model.compile()                           # Adam, pixel cross-entropy (labels < 0 unknown)
        >>> model.fit(images, label_maps, epochs=1)   # images in [0, 1]
        >>> probabilities = keras.ops.softmax(model.predict(images), axis=-1)
    """

    HEAD_LAYERS = ("head_conv_1", "head_bn_1", "head_conv_2", "head_conv_3")

    def __init__(
        self,
        num_classes=11,
        input_shape=(128, 128, 3),
        channels=(8, 16, 24, 32),
        num_interlink=3,
        kernel_size=5,
        output_kernel_size=9,
        name="icnn",
        **kwargs,
    ):
        check_positive_int(num_classes, "num_classes")
        check_positive_int(num_interlink, "num_interlink")
        check_positive_int(kernel_size, "kernel_size")
        check_positive_int(output_kernel_size, "output_kernel_size")
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or not all(isinstance(d, int) and d > 0 for d in input_shape[:2]):
            raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
        check_channels(input_shape[-1])
        channels = tuple(channels)
        if len(channels) < 2 or not all(isinstance(c, int) and c > 0 for c in channels):
            raise ValueError(f"channels must list at least two positive ints, got {channels!r}")

        num_rows = len(channels)
        sizes = _row_sizes(input_shape[0], input_shape[1], num_rows)

        # === Layers ===
        input_pools = [_downsample(f"input_pool_{r}") for r in range(1, num_rows)]
        input_convs = [_conv(c, kernel_size, f"input_conv_{r}") for r, c in enumerate(channels)]
        input_bns = [_bn(f"input_bn_{r}") for r in range(num_rows)]

        def upsample_to(r, name):
            # x2 nearest, then drop the extra row/column of odd sizes: integer-scale resizes
            # export exactly (ONNX mis-infers 41 -> 81) and match PyTorch's floor(i*in/out).
            (h, w), (sh, sw) = sizes[r], sizes[r + 1]
            up = NearestUpsample2x(name=f"{name}_x2")
            crop = layers.Cropping2D(((0, 2 * sh - h), (0, 2 * sw - w)), name=f"{name}_crop")
            return lambda x: crop(up(x))

        # === Functional model ===
        image = keras.Input(shape=input_shape, name="image")
        pyramid = [image]
        for pool in input_pools:
            pyramid.append(pool(pyramid[-1]))
        rows = [
            layers.Activation("tanh")(bn(conv(x)))
            for x, conv, bn in zip(pyramid, input_convs, input_bns)
        ]

        for k in range(num_interlink):
            new_rows = []
            for r in range(num_rows):
                parts = []
                if r > 0:
                    parts.append(_downsample(f"link{k}_pool_{r}")(rows[r - 1]))
                parts.append(rows[r])
                if r < num_rows - 1:
                    parts.append(upsample_to(r, f"link{k}_up_{r}")(rows[r + 1]))
                x = layers.Concatenate(name=f"link{k}_concat_{r}")(parts)
                x = layers.ReLU()(_bn(f"link{k}_bn_a_{r}")(_conv(channels[r], kernel_size, f"link{k}_conv_a_{r}")(x)))
                x = layers.ReLU()(_bn(f"link{k}_bn_b_{r}")(_conv(channels[r], kernel_size, f"link{k}_conv_b_{r}")(x)))
                new_rows.append(x)
            rows = new_rows

        # Coarse-to-fine output integration.
        x = rows[-1]
        for r in range(num_rows - 2, -1, -1):
            x = layers.Concatenate(name=f"integrate_concat_{r}")([rows[r], upsample_to(r, f"integrate_up_{r}")(x)])
            x = _conv(channels[r], kernel_size, f"integrate_conv_{r}")(x)
            x = layers.Activation("tanh")(_bn(f"integrate_bn_{r}")(x))

        x = _conv(2 * num_classes + 8, kernel_size, "head_conv_1")(x)
        x = layers.Activation("tanh")(_bn("head_bn_1")(x))
        x = _conv(num_classes, kernel_size, "head_conv_2")(x)
        logits = _conv(num_classes, output_kernel_size, "head_conv_3")(x)

        super().__init__(inputs=image, outputs=logits, name=name, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.image_shape = input_shape
        self.channels = channels
        self.num_interlink = num_interlink
        self.kernel_size = kernel_size
        self.output_kernel_size = output_kernel_size

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "input_shape": list(self.image_shape),
            "channels": list(self.channels),
            "num_interlink": self.num_interlink,
            "kernel_size": self.kernel_size,
            "output_kernel_size": self.output_kernel_size,
            **self.info_config(),
        }

    def nominal_input_size(self):
        return tuple(self.image_shape[:2])

    def copy_widened_from(self, narrow, seed=0):
        """Set this iCNN's weights so that it computes what the narrower ``narrow`` does
        (same classes, input channels and depth; every row at least as wide; any input
        size, since none of the weights depends on it): Net2Net's widening
        (Chen et al. 2016). A wide channel ``j`` of a layer copies the narrow channel
        ``j mod C``; where a layer reads a channel's copies, their weights split the
        narrow weight in random shares that sum to one, so the output is the same while the
        copies get different gradients and can learn apart. Returns ``self``.

        Example:
            >>> wide = ICNN(num_classes=4, input_shape=(81, 81, 3), channels=(16, 32, 48, 64))
            >>> wide.copy_widened_from(narrow)          # narrow: channels=(8, 16, 24, 32)
        """
        import numpy as np

        # the spatial size shapes no weight: a part iCNN of one crop size widens another's
        same = ("num_classes", "num_interlink", "kernel_size", "output_kernel_size")
        mismatch = [k for k in same if getattr(self, k) != getattr(narrow, k)]
        if self.image_shape[-1] != narrow.image_shape[-1]:
            mismatch.append("input channels")
        if mismatch or len(self.channels) != len(narrow.channels) or any(
                w < n for w, n in zip(self.channels, narrow.channels)):
            raise ValueError(f"{self.name} cannot be widened from {narrow.name}: it must differ only by rows at "
                             f"least as wide (channels {self.channels} from {narrow.channels}; differing: {mismatch})")
        rng = np.random.default_rng(seed)
        maps = {}  # op name -> for each channel of its output, the narrow channel it copies
        for op in self.operations:
            inputs = [t._keras_history.operation.name for t in op._inbound_nodes[0].input_tensors]
            if not inputs:
                maps[op.name] = np.arange(op.output.shape[-1])
                continue
            source = maps[inputs[0]]
            if isinstance(op, layers.Concatenate):
                offsets = np.cumsum([0] + [maps[i].max() + 1 for i in inputs[:-1]])
                maps[op.name] = np.concatenate([maps[i] + o for i, o in zip(inputs, offsets)])
            elif isinstance(op, layers.Conv2D):
                kernel, bias = narrow.get_layer(op.name).get_weights()
                out = np.arange(op.filters) % kernel.shape[-1]
                shares = rng.uniform(0.9, 1.1, len(source))
                shares /= np.bincount(source, shares)[source]  # the shares of each narrow channel sum to one
                op.set_weights([kernel[:, :, source][..., out] * shares[:, None].astype(kernel.dtype), bias[out]])
                maps[op.name] = out
            elif isinstance(op, layers.BatchNormalization):
                op.set_weights([w[source] for w in narrow.get_layer(op.name).get_weights()])
                maps[op.name] = source
            elif op.weights:
                raise ValueError(f"copy_widened_from does not know how to widen {type(op).__name__} {op.name!r}")
            else:  # pooling, resizing, cropping, activations: channel by channel
                maps[op.name] = source
        return self

    def default_loss(self):
        return PixelCrossEntropy()

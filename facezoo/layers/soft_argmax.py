"""Differentiable landmark positions from heatmaps."""

import keras
from keras import ops

from facezoo.layers.spatial_crop import unit_grid


def to_float32_if_half(x):
    """``x`` in float32 if it is float16 or bfloat16 (a mixed-precision network's output), else
    as it is (float32, or float64 under ``floatx="float64"``)."""
    if keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16"):
        return ops.cast(x, "float32")
    return x


def soft_argmax(heatmaps, beta=1.0):
    """Expected position of each heatmap under its spatial softmax.

    ``heatmaps`` ``(B, h, w, K)`` -> ``(B, K, 2)`` as ``(x, y)`` in ``[-1, 1]``
    (``-1`` / ``1`` are the centres of the first / last pixel, as ``SpatialCrop``'s
    ``align_corners=True`` grid):

        p_k(i, j) = softmax_ij(beta * H_k(i, j)),   x_k = sum_ij p_k(i, j) * (2 j / (w - 1) - 1)
    """
    heatmaps = to_float32_if_half(heatmaps)  # positions in float32 under a mixed-precision policy
    shape = ops.shape(heatmaps)
    height, width, points = heatmaps.shape[1] or shape[1], heatmaps.shape[2] or shape[2], heatmaps.shape[3]
    flat = ops.reshape(ops.transpose(heatmaps, (0, 3, 1, 2)), (-1, points, height * width))
    weights = ops.softmax(beta * flat, axis=-1)
    ys, xs = ops.meshgrid(unit_grid(height), unit_grid(width), indexing="ij")
    x = ops.sum(weights * ops.reshape(xs, (1, 1, -1)), axis=-1)
    y = ops.sum(weights * ops.reshape(ys, (1, 1, -1)), axis=-1)
    return ops.stack([x, y], axis=-1)


@keras.saving.register_keras_serializable(package="facezoo")
class SoftArgmax(keras.layers.Layer):
    """Layer form of :func:`soft_argmax`."""

    def __init__(self, beta=1.0, **kwargs):
        super().__init__(**kwargs)
        self.beta = float(beta)

    def call(self, heatmaps):
        return soft_argmax(heatmaps, self.beta)

    def compute_output_shape(self, shape):
        return (shape[0], shape[3], 2)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}

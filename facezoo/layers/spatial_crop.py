"""Differentiable affine crops (a Spatial Transformer sampler) and the inverse paste.

Coordinates follow the ``align_corners=True`` convention of PyTorch's ``affine_grid`` /
``grid_sample``, which the STN-iCNN authors use: in normalised coordinates -1 and +1 are
the *centres* of the first and last pixel. A crop of ``h x w`` pixels samples, for each
output pixel with normalised position ``v = (vx, vy, 1)``, the source position
``u = theta @ v`` (``theta`` is ``2 x 3``). Samples outside the image read zeros, so
cropping from the zero-padded image (as the paper does) needs no padded copy in memory.

The sampler is written with ``keras.ops`` only: the image is flattened to
``(B*H*W, C)``, the four neighbours of every sample are gathered with ``ops.take`` and
blended. Unlike ``ops.image.affine_transform`` this gives gradients to ``theta`` on every
backend, and it exports to TFLite with builtin ops only (GATHER, no Flex) and to ONNX,
keeping a dynamic batch size.

Example:
    >>> crop = SpatialCrop((81, 81))
    >>> parts = crop(image, theta)          # image (B,H,W,C), theta (B,P,2,3)
    >>> parts.shape                         # (B, P, 81, 81, C)
    >>> back = SpatialPaste((H, W))(parts, theta)   # (B, P, H, W, C), zeros outside
"""

import keras
import numpy as np
from keras import ops

_INTERPOLATIONS = ("bilinear", "nearest")


def unit_grid(size, dtype=None):
    """``size`` pixel centres in ``[-1, 1]`` coordinates (``align_corners=True``; one pixel is
    at 0), as a constant: ``ops.linspace`` traces ops of its own, one of which the TFLite
    converter's optimiser logs an error about (a same-type cast). ``dtype`` defaults to Keras'
    ``floatx``, as ``ops.linspace``'s."""
    dtype = dtype or keras.config.floatx()
    if size is None:
        raise ValueError("unit_grid needs a size (an int, or a scalar tensor for a dynamic one)")
    if not isinstance(size, (int, np.integer)):  # a dynamic size (a tensor): computed in the graph
        return ops.linspace(-1.0, 1.0, size, dtype=dtype)
    grid = np.linspace(-1.0, 1.0, size) if size > 1 else np.zeros(1)
    return ops.convert_to_tensor(grid.astype(keras.backend.standardize_dtype(dtype)))


def _pair(value, name):
    """A positive int pair from an int or a 2-sequence; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a positive int or a pair of positive ints, got {value!r}")
    if isinstance(value, int):
        value = (value, value)
    try:
        pair = tuple(value)
    except TypeError:
        raise ValueError(
            f"{name} must be a positive int or a pair of positive ints, got {value!r}"
        ) from None
    if len(pair) != 2 or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair
    ):
        raise ValueError(f"{name} must be a positive int or a pair of positive ints, got {value!r}")
    return pair


def _check_interpolation(interpolation):
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}"
        )
    return interpolation


def _check_theta_shape(theta_shape):
    if len(theta_shape) != 4 or tuple(theta_shape[-2:]) != (2, 3):
        raise ValueError(
            "theta must have shape (batch, parts, 2, 3) (one 2x3 affine matrix per part), "
            f"got shape {tuple(theta_shape)}"
        )


def _check_image_shape(image_shape, name="image"):
    if len(image_shape) != 4:
        raise ValueError(
            f"{name} must have shape (batch, height, width, channels), got shape {tuple(image_shape)}"
        )
    if any(d is None for d in image_shape[1:]):
        raise ValueError(f"{name} needs static height, width and channels, got shape {tuple(image_shape)}")
    if image_shape[-1] < 1:
        raise ValueError(f"{name} must have at least one channel, got shape {tuple(image_shape)}")


def invert_affine(theta):
    """Inverse of a batch of ``2 x 3`` affine matrices ``(..., 2, 3)`` (keras.ops only)."""
    a, b, tx = theta[..., 0, 0], theta[..., 0, 1], theta[..., 0, 2]
    c, d, ty = theta[..., 1, 0], theta[..., 1, 1], theta[..., 1, 2]
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    itx = -(ia * tx + ib * ty)
    ity = -(ic * tx + id_ * ty)
    row0 = ops.stack([ia, ib, itx], axis=-1)
    row1 = ops.stack([ic, id_, ity], axis=-1)
    return ops.stack([row0, row1], axis=-2)


def crop_theta(center_xy, image_size, crop_size, scale=1.0):
    """The constrained theta ``[[s*kx, 0, tx], [0, s*ky, ty]]`` of a crop centred on a pixel.

    ``center_xy`` (..., 2) is in pixels of an image of ``image_size = (H, W)``; with
    ``scale=1`` the crop samples the image at its own resolution (``kx = (w-1)/(W-1)``), so
    an odd crop centred on an integer pixel reads exactly the array slice
    ``[cy - h//2 : cy + h//2 + 1, cx - w//2 : cx + w//2 + 1]``.
    """
    height, width = _pair(image_size, "image_size")
    crop_h, crop_w = _pair(crop_size, "crop_size")
    center_xy = ops.convert_to_tensor(center_xy, "float32")
    scale = ops.convert_to_tensor(scale, "float32")
    sx = scale * (crop_w - 1) / max(width - 1, 1)
    sy = scale * (crop_h - 1) / max(height - 1, 1)
    tx = 2.0 * center_xy[..., 0] / max(width - 1, 1) - 1.0
    ty = 2.0 * center_xy[..., 1] / max(height - 1, 1) - 1.0
    return scale_translation_theta(ops.broadcast_to(sx, ops.shape(tx)), ops.broadcast_to(sy, ops.shape(tx)), tx, ty)


def scale_translation_theta(sx, sy, tx, ty):
    """``[[sx, 0, tx], [0, sy, ty]]`` of shape ``(..., 2, 3)`` from four ``(...)`` tensors.

    The zeros come from padding, never from a tensor (or a weight channel) of zeros: int8
    quantization gives an all-zero tensor a denormal scale (4.6e-41), on which LiteRT's
    XNNPACK delegate (ai-edge-litert 2.3) segfaults while allocating the graph
    (``benchmarks/litert_zero_tensor_crash.py`` reproduces it), and it refuses a
    per-channel weight whose channel is all zeros (scale 0). The values are exactly the
    stacked ones.
    """
    def row(diagonal, shift, zeros_before):
        width = [(0, 0)] * len(diagonal.shape) + [(zeros_before, 1 - zeros_before)]
        return ops.concatenate([ops.pad(ops.expand_dims(diagonal, -1), width), ops.expand_dims(shift, -1)], axis=-1)

    return ops.stack([row(sx, tx, 0), row(sy, ty, 1)], axis=-2)


def _snap_to_grid(coords, size):
    """Snap coordinates within float32 rounding error of an integer onto it, continuously.

    float32 rounding puts a sample meant for pixel 40 at 39.99999; snapping makes a crop
    whose theta lands on the pixel grid *exactly* the array slice (the reason STN-iCNN
    uses odd crop sizes). Within ``tolerance`` of an integer the coordinate is snapped;
    between one and two tolerances the snap fades out linearly, so the sampler stays a
    continuous function of theta: a hard cut-off made two runtimes whose coordinates
    differ by a float32 rounding step (TFLite, ONNX, another backend) disagree by the whole
    snap, ``tolerance`` pixels times the image's gradient, whenever a coordinate sat at the
    cut-off. The straight-through form keeps the gradient to theta.
    """
    tolerance = 16 * 1.2e-7 * max(size, 1)  # a few float32 ulps at this image size
    gap = ops.round(coords) - coords
    strength = ops.clip(2.0 - ops.abs(gap) * (1.0 / tolerance), 0.0, 1.0)
    return coords + ops.stop_gradient(gap * strength)


def _interpolation_matrix(coords, size):
    """Bilinear weights ``(..., n, size)`` of ``n`` sample positions on a ``size``-pixel axis.

    Row ``k`` holds ``max(0, 1 - |coords[k] - j|)`` for pixels ``j = 0 .. size-1``: the two
    bilinear weights of the neighbours inside the axis and zero elsewhere, so a sample
    outside the axis reads zeros exactly as the gathering sampler does.
    """
    pixels = ops.arange(size, dtype=coords.dtype)
    return ops.relu(1.0 - ops.abs(ops.expand_dims(coords, -1) - pixels))


def paste_planes(planes, theta, output_size):
    """Paste ``K`` single-channel crops back with scale + translation thetas, by matmul.

    The fast path of :class:`SpatialPaste` (``axis_aligned=True``) for thetas of the form
    ``[[sx, 0, tx], [0, sy, ty]]`` (STN-iCNN's constraint): bilinear sampling is then
    separable, ``canvas = Wy @ crop @ Wx^T`` with the interpolation matrices of the two
    axes, which is the gathering sampler's result (same coordinates, same snap, same
    weights) in two batched matrix products instead of four gathers per canvas pixel.
    The off-diagonal entries of ``theta`` are ignored.

    Args:
        planes: ``(B, K, h, w)`` float crops.
        theta: ``(B, K, 2, 3)``, the thetas that cut them.
        output_size: ``(H, W)`` of the canvas.
    Returns:
        ``(B, K, H, W)``, zero outside each crop's window.

    Example:
        >>> canvases = paste_planes(part_probabilities, thetas, (512, 512))
    """
    out_h, out_w = _pair(output_size, "output_size")
    _check_theta_shape(theta.shape)
    if len(planes.shape) != 4 or any(d is None for d in planes.shape[2:]):
        raise ValueError(f"planes must have shape (batch, planes, height, width), got shape {tuple(planes.shape)}")
    crop_h, crop_w = planes.shape[2], planes.shape[3]
    theta = ops.cast(theta, "float32")
    axes = []
    for n_out, n_in, row in ((out_w, crop_w, 0), (out_h, crop_h, 1)):
        grid = unit_grid(n_out, "float32")
        # The inverse of u = s v + t, per axis (no all-zero off-diagonal, see scale_translation_theta).
        inverse_scale = 1.0 / theta[:, :, row, row]
        source = ops.expand_dims(inverse_scale, -1) * (grid - ops.expand_dims(theta[:, :, row, 2], -1))
        coords = _snap_to_grid((source + 1.0) * (0.5 * (n_in - 1)), max(crop_h, crop_w))
        axes.append(_interpolation_matrix(coords, n_in))  # (B, K, n_out, n_in)
    weights_x, weights_y = axes
    columns = ops.matmul(ops.cast(planes, "float32"), ops.swapaxes(weights_x, -1, -2))  # (B, K, h, W)
    return ops.matmul(weights_y, columns)  # (B, K, H, W)


def affine_sample(image, theta, output_size, interpolation="bilinear"):
    """Sample ``P`` affine windows of ``output_size`` from each image.

    Args:
        image: ``(B, H, W, C)`` float tensor (static H, W, C; any batch size).
        theta: ``(B, P, 2, 3)`` affine matrices in normalised coordinates.
        output_size: ``(h, w)`` of every window.
        interpolation: ``"bilinear"`` (differentiable in image and theta) or
            ``"nearest"`` (for label maps).
    Returns:
        ``(B, P, h, w, C)``; samples outside the image are zero.
    """
    out_h, out_w = _pair(output_size, "output_size")
    _check_interpolation(interpolation)
    _, height, width, channels = image.shape
    num_parts = theta.shape[1]
    dtype = image.dtype if "float" in str(image.dtype) else "float32"
    image = ops.cast(image, dtype)
    theta = ops.cast(theta, dtype)

    # Normalised target grid, align_corners=True: -1 and 1 are pixel centres.
    ys, xs = unit_grid(out_h, dtype), unit_grid(out_w, dtype)
    grid_y, grid_x = ops.meshgrid(ys, xs, indexing="ij")  # (h, w)
    grid = ops.stack(
        [ops.reshape(grid_x, (-1,)), ops.reshape(grid_y, (-1,)), ops.ones((out_h * out_w,), dtype)],
        axis=0,
    )  # (3, h*w)
    source = ops.einsum("bpij,jn->bpin", theta, grid)  # (B, P, 2, h*w)
    # Back to pixel coordinates of the source image.
    x = _snap_to_grid((source[:, :, 0, :] + 1.0) * (0.5 * (width - 1)), max(height, width))
    y = _snap_to_grid((source[:, :, 1, :] + 1.0) * (0.5 * (height - 1)), max(height, width))

    batch = ops.shape(image)[0]
    flat = ops.reshape(image, (-1, channels))
    base = ops.reshape(ops.arange(batch, dtype="int32") * (height * width), (-1, 1, 1))

    def gather(xi, yi):
        inside = (xi >= 0) & (xi <= width - 1) & (yi >= 0) & (yi <= height - 1)
        xi = ops.clip(xi, 0, width - 1)
        yi = ops.clip(yi, 0, height - 1)
        index = base + yi * width + xi  # (B, P, h*w)
        values = ops.take(flat, ops.reshape(index, (-1,)), axis=0)
        values = ops.reshape(values, (-1, num_parts, out_h * out_w, channels))
        return values, ops.expand_dims(ops.cast(inside, image.dtype), -1)

    if interpolation == "nearest":
        xi = ops.cast(ops.floor(x + 0.5), "int32")
        yi = ops.cast(ops.floor(y + 0.5), "int32")
        values, inside = gather(xi, yi)
        out = values * inside
    else:
        x0f = ops.stop_gradient(ops.floor(x))
        y0f = ops.stop_gradient(ops.floor(y))
        wx1 = ops.expand_dims(x - x0f, -1)
        wy1 = ops.expand_dims(y - y0f, -1)
        wx0, wy0 = 1.0 - wx1, 1.0 - wy1
        x0, y0 = ops.cast(x0f, "int32"), ops.cast(y0f, "int32")
        x1, y1 = x0 + 1, y0 + 1
        out = 0.0
        for xi, yi, weight in (
            (x0, y0, wx0 * wy0),
            (x1, y0, wx1 * wy0),
            (x0, y1, wx0 * wy1),
            (x1, y1, wx1 * wy1),
        ):
            values, inside = gather(xi, yi)
            out = out + values * (weight * inside)
    return ops.reshape(out, (-1, num_parts, out_h, out_w, channels))


@keras.saving.register_keras_serializable(package="facezoo")
class SpatialCrop(keras.layers.Layer):
    """Crop ``P`` affine windows per image: ``(B,H,W,C)`` + ``(B,P,2,3)`` -> ``(B,P,h,w,C)``.

    Bilinear by default, differentiable with respect to the image and ``theta``; any
    affine ``theta`` is supported (STN-iCNN constrains it to scale + translation, see
    :func:`crop_theta`). ``interpolation="nearest"`` crops label maps.

    Example:
        >>> crop = SpatialCrop(81)
        >>> theta = crop_theta(centers_xy, image_size=(512, 512), crop_size=81)  # (B,P,2,3)
        >>> parts = crop(images, theta)   # (B, P, 81, 81, 3)
    """

    def __init__(self, crop_size, interpolation="bilinear", **kwargs):
        super().__init__(**kwargs)
        self.crop_size = _pair(crop_size, "crop_size")
        self.interpolation = _check_interpolation(interpolation)

    def build(self, image_shape, theta_shape):
        _check_image_shape(image_shape)
        _check_theta_shape(theta_shape)
        self.built = True

    def call(self, image, theta):
        _check_image_shape(image.shape)
        _check_theta_shape(theta.shape)
        return affine_sample(image, theta, self.crop_size, self.interpolation)

    def compute_output_shape(self, image_shape, theta_shape):
        return (image_shape[0], theta_shape[1], *self.crop_size, image_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(crop_size=list(self.crop_size), interpolation=self.interpolation)
        return config


@keras.saving.register_keras_serializable(package="facezoo")
class SpatialPaste(keras.layers.Layer):
    """Inverse of :class:`SpatialCrop`: paste crops back where they were cut from.

    ``(B,P,h,w,C)`` crops and the ``(B,P,2,3)`` theta that cut them give
    ``(B,P,H,W,C)`` canvases of ``output_size``, zero outside each crop window. Each
    canvas pixel samples its crop at the inverted transform, so a crop followed by a
    paste returns the original pixels inside the window.

    ``axis_aligned=True`` is for scale + translation thetas only (``[[sx, 0, tx], [0, sy,
    ty]]``, as STN-iCNN's): the same bilinear result by two matrix products per crop
    (:func:`paste_planes`), much faster at full resolution and in TFLite; the
    off-diagonal entries of theta are then ignored.

    Example:
        >>> canvases = SpatialPaste((512, 512))(part_probabilities, theta)
        >>> canvases = SpatialPaste((512, 512), axis_aligned=True)(part_probabilities, theta)
    """

    def __init__(self, output_size, interpolation="bilinear", axis_aligned=False, **kwargs):
        super().__init__(**kwargs)
        self.output_size = _pair(output_size, "output_size")
        self.interpolation = _check_interpolation(interpolation)
        if axis_aligned and interpolation != "bilinear":
            raise ValueError("axis_aligned=True pastes bilinearly; use interpolation='bilinear'")
        self.axis_aligned = bool(axis_aligned)

    def build(self, crops_shape, theta_shape):
        self._check(crops_shape, theta_shape)
        self.built = True

    @staticmethod
    def _check(crops_shape, theta_shape):
        if len(crops_shape) != 5:
            raise ValueError(
                "crops must have shape (batch, parts, height, width, channels), "
                f"got shape {tuple(crops_shape)}"
            )
        _check_theta_shape(theta_shape)
        if crops_shape[1] is not None and theta_shape[1] is not None and crops_shape[1] != theta_shape[1]:
            raise ValueError(
                f"crops hold {crops_shape[1]} parts but theta holds {theta_shape[1]}"
            )

    def call(self, crops, theta):
        self._check(crops.shape, theta.shape)
        _, num_parts, crop_h, crop_w, channels = crops.shape
        if self.axis_aligned:
            planes = ops.reshape(ops.transpose(crops, (0, 1, 4, 2, 3)), (-1, num_parts * channels, crop_h, crop_w))
            thetas = ops.reshape(ops.repeat(ops.expand_dims(theta, 2), channels, axis=2), (-1, num_parts * channels, 2, 3))
            canvas = paste_planes(planes, thetas, self.output_size)
            canvas = ops.reshape(canvas, (-1, num_parts, channels, *self.output_size))
            return ops.transpose(canvas, (0, 1, 3, 4, 2))
        crops = ops.reshape(crops, (-1, crop_h, crop_w, channels))
        inverse = ops.reshape(invert_affine(ops.cast(theta, "float32")), (-1, 1, 2, 3))
        canvas = affine_sample(crops, inverse, self.output_size, self.interpolation)
        return ops.reshape(canvas, (-1, num_parts, *self.output_size, channels))

    def compute_output_shape(self, crops_shape, theta_shape):
        return (crops_shape[0], crops_shape[1], *self.output_size, crops_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(output_size=list(self.output_size), interpolation=self.interpolation,
                      axis_aligned=self.axis_aligned)
        return config

"""SpatialCrop / SpatialPaste against a NumPy reference, finite differences and exact slices."""

import numpy as np
import pytest
import tensorflow as tf

from facezoo.layers import (
    SpatialCrop,
    SpatialPaste,
    affine_sample,
    crop_theta,
    invert_affine,
    paste_planes,
    scale_translation_theta,
)


def reference_sample(image, theta, out_h, out_w):
    """Plain-loop bilinear grid_sample (align_corners=True, zero padding)."""
    batch, height, width, channels = image.shape
    parts = theta.shape[1]
    out = np.zeros((batch, parts, out_h, out_w, channels))
    ys = np.linspace(-1, 1, out_h)
    xs = np.linspace(-1, 1, out_w)
    for b in range(batch):
        for p in range(parts):
            for i, vy in enumerate(ys):
                for j, vx in enumerate(xs):
                    ux, uy = theta[b, p] @ np.array([vx, vy, 1.0])
                    x = (ux + 1) * (width - 1) / 2
                    y = (uy + 1) * (height - 1) / 2
                    x0, y0 = int(np.floor(x)), int(np.floor(y))
                    for xi, yi in ((x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)):
                        weight = (1 - abs(x - xi)) * (1 - abs(y - yi))
                        if 0 <= xi < width and 0 <= yi < height:
                            out[b, p, i, j] += weight * image[b, yi, xi]
    return out


def random_theta(rng, batch, parts):
    theta = rng.uniform(-0.6, 0.6, (batch, parts, 2, 3))
    theta[..., 0, 0] += 0.8  # keep it a mild full affine: rotation/shear/scale/shift
    theta[..., 1, 1] += 0.8
    return theta.astype("float32")


def test_matches_numpy_reference_for_full_affine():
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(2, 13, 17, 3)).astype("float32")
    theta = random_theta(rng, 2, 3)
    got = SpatialCrop((7, 9))(image, theta).numpy()
    want = reference_sample(image, theta, 7, 9)
    assert got.shape == (2, 3, 7, 9, 3)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_dynamic_batch_in_a_traced_function():
    crop = SpatialCrop(5)
    fn = tf.function(crop, input_signature=[tf.TensorSpec((None, 10, 10, 1)), tf.TensorSpec((None, 2, 2, 3))])
    rng = np.random.default_rng(1)
    for batch in (1, 4):
        image = rng.uniform(size=(batch, 10, 10, 1)).astype("float32")
        theta = random_theta(rng, batch, 2)
        np.testing.assert_allclose(fn(image, theta).numpy(), reference_sample(image, theta, 5, 5), atol=1e-5)


def test_gradient_wrt_theta_matches_finite_differences():
    rng = np.random.default_rng(2)
    image = tf.constant(rng.uniform(size=(1, 12, 12, 2)), tf.float64)
    theta0 = random_theta(rng, 1, 2).astype("float64")
    weights = tf.constant(rng.normal(size=(1, 2, 6, 6, 2)), tf.float64)

    def objective(theta):
        return tf.reduce_sum(affine_sample(image, theta, (6, 6)) * weights)

    theta = tf.Variable(theta0)
    with tf.GradientTape() as tape:
        value = objective(theta)
    analytic = tape.gradient(value, theta).numpy()
    numeric = np.zeros_like(theta0)
    eps = 1e-6
    for index in np.ndindex(theta0.shape):
        plus, minus = theta0.copy(), theta0.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (objective(tf.constant(plus)) - objective(tf.constant(minus))).numpy() / (2 * eps)
    assert np.abs(analytic).max() > 1e-3  # the gradient is really there
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)


def test_gradient_wrt_image_is_the_bilinear_weights():
    image = tf.Variable(np.zeros((1, 4, 4, 1), "float32"))
    theta = crop_theta(np.array([[[1.5, 2.0]]], "float32"), (4, 4), 1)  # one sample at x=1.5, y=2
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(SpatialCrop(1)(image, theta))
    grad = tape.gradient(value, image).numpy()[0, :, :, 0]
    want = np.zeros((4, 4))
    want[2, 1] = want[2, 2] = 0.5
    np.testing.assert_allclose(grad, want, atol=1e-6)


def test_odd_crop_on_the_pixel_grid_is_exactly_the_slice():
    rng = np.random.default_rng(3)
    image = rng.uniform(size=(2, 64, 48, 3)).astype("float32")
    centers = np.array([[[20, 30], [5, 60]], [[47, 0], [24, 32]]], "float32")  # (x, y)
    crops = SpatialCrop(11)(image, crop_theta(centers, (64, 48), 11)).numpy()
    padded = np.pad(image, ((0, 0), (5, 5), (5, 5), (0, 0)))  # the paper crops from a padded image
    for b in range(2):
        for p in range(2):
            x, y = centers[b, p].astype(int)
            np.testing.assert_array_equal(crops[b, p], padded[b, y : y + 11, x : x + 11])


def test_crop_then_paste_returns_the_original_pixels_in_the_window():
    rng = np.random.default_rng(4)
    image = rng.uniform(size=(1, 40, 40, 2)).astype("float32")
    centers = np.array([[[12, 20], [30, 9]]], "float32")
    theta = crop_theta(centers, (40, 40), 9)
    pasted = SpatialPaste((40, 40))(SpatialCrop(9)(image, theta), theta).numpy()
    for p, (x, y) in enumerate(centers[0].astype(int)):
        window = (slice(y - 4, y + 5), slice(x - 4, x + 5))
        np.testing.assert_array_equal(pasted[0, p][window], image[0][window])
        outside = np.ones((40, 40), bool)
        outside[window] = False
        assert np.all(pasted[0, p][outside] == 0)


def test_crop_then_paste_with_a_scaled_theta():
    # Scale 0.5: the crop is a 2x zoom; pasting it back reproduces the smooth image.
    yy, xx = np.mgrid[0:32, 0:32].astype("float32")
    image = (0.1 * xx + 0.05 * yy)[None, :, :, None]  # bilinear is exact on a linear ramp
    theta = crop_theta(np.array([[[15.5, 15.5]]], "float32"), (32, 32), 17, scale=0.5)
    pasted = SpatialPaste((32, 32))(SpatialCrop(17)(image, theta), theta).numpy()[0, 0, :, :, 0]
    np.testing.assert_allclose(pasted[12:20, 12:20], image[0, 12:20, 12:20, 0], atol=1e-4)


def test_nearest_interpolation_keeps_label_values():
    labels = np.arange(25, dtype="float32").reshape(1, 5, 5, 1)
    theta = crop_theta(np.array([[[2.3, 1.6]]], "float32"), (5, 5), 3)
    out = SpatialCrop(3, interpolation="nearest")(labels, theta).numpy()[0, 0, :, :, 0]
    np.testing.assert_array_equal(out, labels[0, 1:4, 1:4, 0])


def test_invert_affine():
    rng = np.random.default_rng(5)
    theta = random_theta(rng, 3, 2)
    inverse = invert_affine(theta).numpy()
    full = np.concatenate([theta, np.broadcast_to([[[[0, 0, 1]]]], (3, 2, 1, 3))], axis=2)
    full_inv = np.concatenate([inverse, np.broadcast_to([[[[0, 0, 1]]]], (3, 2, 1, 3))], axis=2)
    np.testing.assert_allclose(full @ full_inv, np.broadcast_to(np.eye(3), (3, 2, 3, 3)), atol=1e-5)


@pytest.mark.parametrize("crop_size", [0, -3, (5,), (5, 0), (5.0, 5), "81", True, None])
def test_bad_crop_size_is_refused(crop_size):
    with pytest.raises(ValueError, match="crop_size"):
        SpatialCrop(crop_size)


@pytest.mark.parametrize("shape", [(1, 2, 3), (1, 2, 2, 2), (1, 2, 3, 2), (2, 3)])
def test_bad_theta_shape_is_refused(shape):
    with pytest.raises(ValueError, match=r"theta must have shape \(batch, parts, 2, 3\)"):
        SpatialCrop(3)(np.zeros((1, 8, 8, 3), "float32"), np.zeros(shape, "float32"))


def test_image_without_channels_is_refused():
    with pytest.raises(ValueError, match="at least one channel"):
        SpatialCrop(3)(np.zeros((1, 8, 8, 0), "float32"), np.zeros((1, 1, 2, 3), "float32"))


def test_paste_refuses_mismatched_parts_and_bad_interpolation():
    with pytest.raises(ValueError, match="crops hold 2 parts but theta holds 3"):
        SpatialPaste(8)(np.zeros((1, 2, 3, 3, 1), "float32"), np.zeros((1, 3, 2, 3), "float32"))
    with pytest.raises(ValueError, match="interpolation"):
        SpatialCrop(3, interpolation="cubic")


def test_layers_round_trip_their_config():
    for layer in (SpatialCrop((5, 7), interpolation="nearest"), SpatialPaste((9, 11)), SpatialPaste(9, axis_aligned=True)):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


def scale_translation_thetas(rng, batch, parts):
    scale = rng.uniform(0.2, 0.6, (batch, parts))
    shift = rng.uniform(-0.9, 0.9, (batch, parts, 2))  # some windows reach past the border
    zero = np.zeros_like(scale)
    return np.stack([np.stack([scale * 1.1, zero, shift[..., 0]], -1), np.stack([zero, scale, shift[..., 1]], -1)],
                    -2).astype("float32")


def test_axis_aligned_paste_is_the_gathering_paste():
    rng = np.random.default_rng(6)
    crops = rng.uniform(size=(2, 3, 9, 11, 2)).astype("float32")
    theta = scale_translation_thetas(rng, 2, 3)
    want = SpatialPaste((40, 36))(crops, theta).numpy()
    got = SpatialPaste((40, 36), axis_aligned=True)(crops, theta).numpy()
    assert np.abs(want).max() > 0.5 and (want == 0).mean() > 0.3  # windows inside and zeros around them
    np.testing.assert_allclose(got, want, atol=1e-5)
    planes = np.moveaxis(crops, -1, 2).reshape(2, 6, 9, 11)
    got = paste_planes(planes, np.repeat(theta, 2, axis=1), (40, 36)).numpy().reshape(2, 3, 2, 40, 36)
    np.testing.assert_allclose(np.moveaxis(got, 2, -1), want, atol=1e-5)


def test_sampling_is_a_continuous_function_of_theta_across_the_snap():
    """Crossing the edge of the snap zone in steps of a float32 rounding error never
    moves a sample by more than a few steps (a hard cut-off jumped by the whole snap)."""
    image = np.tile(np.arange(64, dtype="float32")[None, None, :, None], (1, 64, 1, 1))  # value = x
    tolerance = 16 * 1.2e-7 * 64
    centres = 20 + np.linspace(0, 3 * tolerance, 400)
    xs = np.stack([centres, np.full_like(centres, 31.0)], -1)[None].astype("float32")  # (1, 400, 2)
    samples = SpatialCrop(1)(image, crop_theta(xs, (64, 64), 1)).numpy()[0, :, 0, 0, 0]
    steps = np.abs(np.diff(samples))
    assert samples[0] == 20.0  # snapped onto the pixel
    assert abs(samples[-1] - centres[-1]) < 2e-5  # beyond the zone, not snapped
    assert steps.max() < 4 * (centres[1] - centres[0]) + 4e-6, steps.max()


def test_scale_translation_theta_is_the_stacked_matrix():
    sx, sy, tx, ty = (np.array([[0.5, 0.25]], "float32") * k for k in (1, 2, -1, 3))
    theta = scale_translation_theta(sx, sy, tx, ty).numpy()
    want = np.zeros((1, 2, 2, 3), "float32")
    want[..., 0, 0], want[..., 1, 1], want[..., 0, 2], want[..., 1, 2] = sx, sy, tx, ty
    np.testing.assert_array_equal(theta, want)

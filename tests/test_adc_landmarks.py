"""Soft-argmax, ADCLandmarks and the holistic baseline: shapes, pixels, end-to-end training."""

import numpy as np
import pytest

from facezoo.layers import affine_sample
from facezoo.layers.soft_argmax import soft_argmax
from facezoo.models.adc_landmarks import ADCLandmarks, HolisticLandmarks

TINY_ADC = dict(num_points=5, global_size=32, global_channels=(4, 4, 8), crop_size=16, regional_channels=(4, 4, 8),
                region_fraction=0.12)


def test_soft_argmax_finds_a_sharp_peak_and_averages_a_flat_map():
    heatmaps = np.zeros((1, 5, 7, 2), np.float32)
    heatmaps[0, 1, 5, 0] = 50.0  # row 1 of 5, column 5 of 7
    points = np.asarray(soft_argmax(heatmaps))
    np.testing.assert_allclose(points[0, 0], [2 * 5 / 6 - 1, 2 * 1 / 4 - 1], atol=1e-4)
    np.testing.assert_allclose(points[0, 1], [0.0, 0.0], atol=1e-6)  # flat map: the centre


def test_adc_outputs_pixels_at_any_resolution_and_crops_at_a_fixed_size():
    model = ADCLandmarks(**TINY_ADC)
    for size in (48, 96):
        images = np.random.default_rng(size).uniform(size=(2, size, size, 3)).astype("float32")
        points = np.asarray(model(images))
        assert points.shape == (2, 5, 2)
        assert np.all(points >= -size * 0.2) and np.all(points <= size * 1.2)
    thetas = np.asarray(model.regions(np.zeros((2, 5, 2), np.float32)))
    assert thetas.shape == (2, 5, 2, 3) and np.allclose(thetas[..., 0, 0], 0.12)


def test_adc_and_holistic_train_end_to_end_with_fit():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(4, 64, 64, 3)).astype("float32")
    points = rng.uniform(10, 54, size=(4, 5, 2)).astype("float32")
    for model in (ADCLandmarks(**TINY_ADC), HolisticLandmarks(num_points=5, network_size=32, channels=(4, 4, 8))):
        model.compile(optimizer="adam")
        model(images)
        before = [np.array(w) for w in model.trainable_weights]
        history = model.fit(images, points, epochs=2, batch_size=2, verbose=0)
        assert np.all(np.isfinite(history.history["loss"]))
        changed = {w.path.split("/")[0] for w, b in zip(model.trainable_weights, before) if not np.allclose(w, b)}
        expected = {"global", "regional"} if isinstance(model, ADCLandmarks) else {"holistic"}
        assert expected <= {name.split("_")[0] for name in changed}, changed


def test_adc_round_trips_through_a_keras_file(tmp_path):
    import keras

    model = ADCLandmarks(**TINY_ADC)
    images = np.random.default_rng(3).uniform(size=(1, 40, 40, 3)).astype("float32")
    expected = np.asarray(model(images))
    model.save(tmp_path / "adc.keras")
    np.testing.assert_allclose(np.asarray(keras.models.load_model(tmp_path / "adc.keras")(images)), expected,
                               atol=1e-5)


@pytest.mark.parametrize("kind", ["adc", "holistic"])
def test_a_mixed_bfloat16_model_trains_and_gives_float32_points_near_the_float32_ones(kind):
    """Built as facezoo.load builds a checkpoint after set_dtype_policy("mixed_bfloat16"): the
    networks take the policy (bfloat16 convolutions, fast on CPUs with AMX), the model itself
    stays float32 (its config says so), so crop positions, points and losses are float32."""
    import keras

    rng = np.random.default_rng(5)
    images = rng.uniform(size=(2, 64, 64, 3)).astype("float32")
    points = rng.uniform(10, 54, size=(2, 5, 2)).astype("float32")
    cls, config = ((ADCLandmarks, TINY_ADC) if kind == "adc"
                   else (HolisticLandmarks, dict(num_points=5, network_size=32, channels=(4, 4, 8))))
    keras.utils.set_random_seed(5)
    reference = cls(**config)
    expected = np.asarray(reference(images))
    previous = keras.config.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = cls(**config, dtype="float32")
        mixed(images)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    mixed.set_weights(reference.get_weights())
    networks = [layer for layer in mixed.layers if isinstance(layer, keras.Model)]
    assert networks and all(conv.compute_dtype == "bfloat16" for network in networks for conv in network.layers
                            if isinstance(conv, keras.layers.Conv2D))
    got = keras.ops.convert_to_numpy(mixed(images))
    assert got.dtype == np.float32 and np.isfinite(got).all()
    assert 0 < np.abs(got - expected).max() < 1.0  # bfloat16 convolutions move the points by a fraction of a pixel
    mixed.compile(optimizer="adam")
    assert np.isfinite(mixed.fit(images, points, epochs=1, batch_size=2, verbose=0).history["loss"][0])


@pytest.mark.parametrize("kind", ["adc", "holistic"])
def test_flip_test_averages_with_the_mirrored_face(kind):
    """With flip_test the prediction is mirror-equivariant: flipping the face flips the points
    and swaps their indices; and it is the mean of the plain prediction and the mirrored one."""
    mirror = [4, 3, 2, 1, 0]  # 5 points on a line: left-right mirror images of each other
    config = (dict(TINY_ADC) if kind == "adc"
              else dict(num_points=5, network_size=32, channels=(4, 4, 8)))
    cls = ADCLandmarks if kind == "adc" else HolisticLandmarks
    plain = cls(**config)
    flipping = cls(**config, flip_test=True, mirror=mirror)
    images = np.random.default_rng(7).uniform(size=(2, 64, 64, 3)).astype("float32")
    plain(images), flipping(images)
    flipping.set_weights(plain.get_weights())
    a, b = np.asarray(flipping(images)), np.asarray(flipping(images[:, :, ::-1].copy()))
    np.testing.assert_allclose(b[:, mirror, 0], 63 - a[:, :, 0], atol=1e-3)
    np.testing.assert_allclose(b[:, mirror, 1], a[:, :, 1], atol=1e-3)
    p, q = np.asarray(plain(images)), np.asarray(plain(images[:, :, ::-1].copy()))[:, mirror]
    q[..., 0] = 63 - q[..., 0]
    np.testing.assert_allclose(a, (p + q) / 2, atol=1e-3)
    assert np.abs(p - q).max() > 0.01  # an untrained model is not symmetric: the test can tell
    with pytest.raises(ValueError, match="permutation"):
        cls(**config, flip_test=True, mirror=[0, 0, 1, 2, 3])
    with pytest.raises(ValueError, match="mirror"):
        cls(**config, flip_test=True)  # 5 points: no default mirror


def test_refine_passes_average_estimates_from_crops_recentred_on_the_previous_pass():
    import keras

    images = np.random.default_rng(9).uniform(size=(2, 64, 64, 3)).astype("float32")
    one = ADCLandmarks(**TINY_ADC)
    one(images)
    two = ADCLandmarks(**TINY_ADC, refine_passes=2)
    two(images)
    two.set_weights(one.get_weights())
    first = one.stages(images)["refined"]
    offsets, _ = one._regional_offsets(images, first, (1.0, 1.0), 2, False)  # a crop around each first estimate
    second = first + TINY_ADC["region_fraction"] * offsets
    np.testing.assert_allclose(np.asarray(two.stages(images)["refined"]), np.asarray((first + second) / 2),
                               atol=1e-5)
    assert not np.allclose(np.asarray(second), np.asarray(first), atol=1e-4)  # the second pass moved the points
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(two)).refine_passes == 2
    with pytest.raises(ValueError, match="refine_passes"):
        ADCLandmarks(**TINY_ADC, refine_passes=0)


@pytest.mark.parametrize("kind", ["adc", "holistic"])
def test_compiled_inference_is_the_eager_function_and_refuses_unknown_sizes(kind):
    model = (ADCLandmarks(**TINY_ADC) if kind == "adc"
             else HolisticLandmarks(num_points=5, network_size=32, channels=(4, 4, 8)))
    rng = np.random.default_rng(3)
    images = rng.uniform(size=(1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(model.predict_on_batch(images), np.asarray(model(images)), atol=1e-4)
    # A second size makes predict_on_batch trace for (1, None, None, 3); the box filter and
    # ADC's crops need the size, so that must fail loudly, not crop wrongly or skip the filter.
    with pytest.raises(ValueError, match="static input height and width"):
        model.predict_on_batch(rng.uniform(size=(1, 80, 80, 3)).astype("float32"))


def test_adc_refuses_a_region_that_is_not_a_fraction():
    with pytest.raises(ValueError, match="fraction"):
        ADCLandmarks(region_fraction=1.5)


def test_downsample_is_a_box_filter_for_integer_factors():
    from facezoo.models.adc_landmarks import downsample

    stripes = np.zeros((1, 64, 64, 3), np.float32)
    stripes[:, :, ::2] = 1.0
    small = np.asarray(downsample(stripes, 16))
    np.testing.assert_allclose(small, 0.5, atol=1e-6)  # plain bilinear would alias to 0 or 1


def test_heatmap_loss_prefers_a_peak_on_the_target_and_skips_targets_outside():
    from facezoo.models.adc_landmarks import heatmap_loss

    on, off = np.zeros((1, 9, 9, 1), np.float32), np.zeros((1, 9, 9, 1), np.float32)
    on[0, 4, 6, 0] = off[0, 1, 1, 0] = 1.0
    target = np.array([[[0.5, 0.0]]], np.float32)  # column 6, row 4 of a 9x9 grid
    assert float(heatmap_loss(on, target, beta=10.0)) < float(heatmap_loss(off, target, beta=10.0))
    outside = np.array([[[3.0, 0.0]]], np.float32)
    assert float(heatmap_loss(on, outside, beta=10.0)) == 0.0


def test_contour_neighbours_follow_open_and_closed_contours():
    from facezoo.models.adc_landmarks import contour_neighbours

    before, after = contour_neighbours(((0, 2, False), (3, 6, True)), 7)
    np.testing.assert_array_equal(before, [0, 0, 1, 6, 3, 4, 5])  # an open end is its own neighbour
    np.testing.assert_array_equal(after, [1, 2, 2, 4, 5, 6, 3])   # a closed contour wraps around


def test_the_along_contour_weight_discounts_only_error_along_the_targets_contour():
    from facezoo.models.adc_landmarks import contour_neighbours, landmark_loss, point_error

    pairs = contour_neighbours(((0, 4, False),), 5)
    target = np.arange(5, dtype=np.float32)[None, :, None] * np.float32([0.15, 0.2])  # a line along (0.6, 0.8)
    inner = np.float32([0, 1, 1, 1, 0])[None, :, None]
    along = target + inner * np.float32([0.06, 0.08])     # the three inner points 0.1 along the line
    across = target + np.float32([-0.08, 0.06])            # every point 0.1 across it
    assert float(point_error(along, target, pairs, 0.0)) == pytest.approx(0.0, abs=1e-7)
    assert float(point_error(along, target, pairs, 0.25)) == pytest.approx(0.25 * 0.3 / 10, abs=1e-6)
    assert float(point_error(across, target, pairs, 0.0)) == pytest.approx(0.05, abs=1e-6)  # (0.1 + 0) / 2
    end = target + (1 - inner) * np.float32([0.06, 0.08])  # the two ends slid along: the line's length
    assert float(point_error(end, target, pairs, 0.0)) == pytest.approx(0.2 / 10, abs=1e-6)
    assert float(point_error(across, target, pairs, 1.0)) == pytest.approx(0.05, abs=1e-6)  # L1 in that frame
    assert float(point_error(across, target)) == pytest.approx(0.07, abs=1e-6)  # no pairs: L1 in x and y
    closed_mouth = target.copy()
    closed_mouth[0, 3] = closed_mouth[0, 1]  # point 2's neighbours coincide: no direction, plain L1
    moved = closed_mouth + np.float32([0, 0, 1, 0, 0])[None, :, None] * np.float32([0.06, 0.08])
    assert float(point_error(moved, closed_mouth, pairs, 0.0)) == pytest.approx(0.14 / 10, abs=1e-6)
    images = np.zeros((1, 3, 3, 3), np.float32)  # the loss takes targets in pixels: -1 -> 0, 1 -> side - 1
    loss = lambda p, w: float(landmark_loss(images, target + 1.0, {"refined": p}, tangent_pairs=pairs,  # noqa: E731
                                            along_weight=w))
    assert loss(along, 0.25) == pytest.approx(0.25 * loss(along, 1.0), rel=1e-4)
    assert loss(across, 0.25) == pytest.approx(loss(across, 1.0), rel=1e-4)


def test_a_models_along_contour_weight_is_a_training_setting_of_a_known_scheme(tmp_path):
    import keras

    model = ADCLandmarks(along_contour_weight=0.25, **{**TINY_ADC, "num_points": 68})
    assert "along_contour_weight" not in model.weights_config()  # shapes no weight: fits the same preset
    model(np.zeros((1, 64, 64, 3), np.float32))
    model.save(tmp_path / "m.keras")
    assert keras.models.load_model(tmp_path / "m.keras").along_contour_weight == 0.25
    assert "along_contour_weight" not in ADCLandmarks(**TINY_ADC).get_config()  # published configs unchanged
    with pytest.raises(ValueError, match="known scheme"):
        ADCLandmarks(along_contour_weight=0.5, **TINY_ADC)  # 5 points: no contours to follow
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ADCLandmarks(num_points=68, along_contour_weight=2.0)


def test_the_wing_loss_is_logarithmic_for_small_errors_and_l1_beyond_its_width():
    import math

    from facezoo.losses import wing
    from facezoo.models.adc_landmarks import WING, point_error

    errors = np.float32([0.0, -1.0, 5.0, 10.0, -20.0])
    values = np.asarray(wing(errors, 10.0, 2.0))
    join = 10.0 - 10.0 * math.log(6.0)  # 10 log(1 + 10 / 2) at the width, continuous
    np.testing.assert_allclose(values, [0.0, 10 * math.log(1.5), 10 * math.log(3.5), 10 * math.log(6.0),
                                        20.0 - join], rtol=1e-5)
    small, large = np.float32([[[0.001, 0.0]]]), np.float32([[[0.2, 0.0]]])
    zero = np.zeros((1, 1, 2), np.float32)
    # near the target a point is pulled width / curvature (5x) as hard as by L1, far from it as hard
    ratio = float(point_error(small, zero, point_loss="wing")) / float(point_error(small, zero))
    assert ratio == pytest.approx(WING[0] / (WING[1] + 0.0005), rel=0.05)
    assert np.allclose(np.float64(WING) * 255.5, (10.0, 2.0))  # width 10, curvature 2 px of a 512-px face
    offset = -WING[0] * (1 - math.log1p(WING[0] / WING[1])) / 2  # beyond the width: L1 plus a constant
    assert float(point_error(large, zero, point_loss="wing")) == pytest.approx(float(point_error(large, zero)) + offset,
                                                                               rel=1e-4)


def test_a_models_point_loss_is_a_training_setting(tmp_path):
    import keras

    model = ADCLandmarks(point_loss="wing", **TINY_ADC)
    assert "point_loss" not in model.weights_config()  # shapes no weight: fits the same preset
    images = np.random.default_rng(3).uniform(size=(2, 64, 64, 3)).astype("float32")
    points = np.float32(np.random.default_rng(4).uniform(8, 56, (2, 5, 2)))
    predictions = model(images, training=True)
    l1 = ADCLandmarks(**TINY_ADC)
    assert float(model.compute_loss(images, points, predictions)) != pytest.approx(
        float(l1.compute_loss(images, points, predictions)), rel=1e-3)  # the model's loss is the Wing loss
    model.save(tmp_path / "m.keras")
    assert keras.models.load_model(tmp_path / "m.keras").point_loss == "wing"
    assert "point_loss" not in ADCLandmarks(**TINY_ADC).get_config()  # published configs unchanged
    with pytest.raises(ValueError, match="point_loss must be one of"):
        ADCLandmarks(point_loss="l2", **TINY_ADC)
    from facezoo.models.adc_landmarks import point_error

    with pytest.raises(ValueError, match="point_loss must be one of"):
        point_error(points, points, point_loss="L1")


def test_global_networks_see_the_whole_face_and_regional_ones_stay_local():
    """Designed with facezoo.receptive_field: a global heatmap unit must see all of its
    input to tell left from right; a regional one sees part of its crop."""
    from facezoo.receptive_field import normalized_receptive_field

    adc, holistic = ADCLandmarks(), HolisticLandmarks()
    assert normalized_receptive_field(adc.global_network, adc.global_size) >= 1.0
    assert normalized_receptive_field(holistic.network, holistic.network_size) >= 1.0
    assert normalized_receptive_field(adc.regional_network, adc.crop_size) < 1.0


def test_small_images_and_regions_past_the_border_do_not_crash():
    model = ADCLandmarks(**TINY_ADC)
    tiny = np.random.default_rng(6).uniform(size=(1, 20, 24, 3)).astype("float32")  # smaller than global_size
    assert np.isfinite(np.asarray(model(tiny))).all()
    corner = np.full((1, 5, 2), 0.98, np.float32)  # regions centred at the corner reach outside
    crops = np.asarray(affine_sample(tiny, model.regions(corner), (16, 16)))
    assert np.isfinite(crops).all() and (crops[0, :, -1, -1] == 0).all()  # zeros outside the image


def test_pooled_coordinates_follow_the_pooled_pixel_centres():
    from facezoo.models.adc_landmarks import pooled_coordinates

    full, factor = 259, 4  # 64 pooled pixels, 3 original ones left over
    a, b = pooled_coordinates(full, factor)
    for i in (0, 17, 63):
        original = factor * i + (factor - 1) / 2                      # its centre in original pixels
        u = 2 * original / (full - 1) - 1
        assert a * u + b == pytest.approx(2 * i / 63 - 1)


def test_a_box_filtered_source_crops_the_same_region():
    """With source_size, a 4x larger image is averaged down before cropping; the crop
    covers the same part of the image as cropping the full image directly."""
    yy, xx = np.mgrid[0:256, 0:256].astype("float32")
    smooth = 0.5 + 0.5 * np.stack([np.sin(xx / 23.0), np.cos(yy / 17.0), np.sin((xx + yy) / 31.0)], -1)[None]
    config = {**TINY_ADC, "crop_size": 16}
    direct, filtered = ADCLandmarks(**config), ADCLandmarks(**config, source_size=64)
    direct(smooth)
    filtered.set_weights(direct.get_weights())
    a, b = np.asarray(direct(smooth)), np.asarray(filtered(smooth))
    assert np.abs(a - b).max() < 0.5  # the same regions, seen through a box filter


def test_the_shipped_checkpoint_exports_to_tflite_with_builtin_ops(tmp_path):
    """Outputs are pixels (up to ~512): the check allows rtol x the output size, not 1e-4 px."""
    import facezoo

    result = facezoo.export("adc_landmarks_300w", tmp_path / "adc.tflite", verbose=False)
    assert result.max_abs_diff <= result.atol < 0.01
    assert not [op for op in result.ops if op.startswith("Flex")]


def test_a_deepened_adc_computes_what_the_shallow_one_did_and_its_blocks_are_in_the_path(tmp_path):
    import keras
    from helpers import randomised

    shallow = randomised(ADCLandmarks(**TINY_ADC), seed=4)
    deep = ADCLandmarks(**TINY_ADC, global_blocks=2, regional_blocks=1).copy_deepened_from(shallow)
    images = np.random.default_rng(5).uniform(size=(2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(deep(images)), np.asarray(shallow(images)), atol=1e-5)
    assert deep.count_params() > shallow.count_params()
    for stage in ("coarse", "refined"):  # batch statistics too: a new block adds exactly nothing
        np.testing.assert_allclose(np.asarray(deep(images, training=True)[stage]),
                                   np.asarray(shallow(images, training=True)[stage]), atol=1e-5)
    # the blocks are on the path: once their last scale is not zero, the output moves
    for network in (deep.global_network, deep.regional_network):
        moved = np.asarray(deep(images))
        bn = network.get_layer(f"{network.name}_res0_b_bn")
        bn.gamma.assign(np.ones(bn.gamma.shape, "float32"))
        assert np.abs(np.asarray(deep(images)) - moved).max() > 1e-3, network.name
    deep.save(tmp_path / "deep.keras")  # the blocks travel in the config
    again = keras.models.load_model(tmp_path / "deep.keras")
    assert (again.global_blocks, again.regional_blocks) == (2, 1)
    assert "global_blocks" not in shallow.get_config()  # published configs are unchanged
    with pytest.raises(ValueError, match="must differ only by more residual blocks"):
        shallow.copy_deepened_from(deep)
    # inference settings shape no weight: a preset-style shallow model deepens all the same
    settings = ADCLandmarks(**{**TINY_ADC, "input_size": (32, 32)}, refine_passes=2, source_size=256)
    ADCLandmarks(**TINY_ADC, global_blocks=1).copy_deepened_from(settings)
    with pytest.raises(ValueError, match=r"differing: \['regional_channels'\]"):
        ADCLandmarks(**{**TINY_ADC, "regional_channels": (4, 4, 4)}, global_blocks=1).copy_deepened_from(shallow)
    # a corrected model deepens under its correction (the recipe's deepening of a shipped model)
    corrected = randomised(ADCLandmarks(**TINY_ADC, shape_correction=True), seed=7)
    predicted = np.asarray(corrected(images))  # a fitted correction (a random one fades out on non-faces)
    corrected.shape_correction.fit(predicted, predicted + np.array([1.5, -2.0]), ridge=0.3)
    assert np.abs(np.asarray(corrected(images)) - predicted).max() > 0.5
    deep_corrected = ADCLandmarks(**TINY_ADC, shape_correction=True, global_blocks=1)
    deep_corrected(images)
    deep_corrected.copy_deepened_from(corrected)
    np.testing.assert_allclose(np.asarray(deep_corrected(images)), np.asarray(corrected(images)), atol=1e-4)
    with pytest.raises(ValueError, match=r"differing: \['shape_correction'\]"):  # both have one, or neither
        ADCLandmarks(**TINY_ADC, global_blocks=1).copy_deepened_from(corrected)


def test_a_model_for_other_points_starts_from_mixes_of_the_trained_models_heatmaps():
    from helpers import randomised

    other = randomised(ADCLandmarks(**TINY_ADC), seed=6)
    images = np.random.default_rng(7).uniform(size=(2, 64, 64, 3)).astype("float32")
    before = other(images, training=True)  # also builds it
    # three new points: two of the old ones as they are, and a mix of two
    combination = np.zeros((3, 5))
    combination[0, 2] = combination[1, 0] = 1.0
    combination[2, [1, 3]] = 0.5
    new = ADCLandmarks(**{**TINY_ADC, "num_points": 3})
    new(images)
    new.copy_with_points_from(other, combination)
    after = new(images, training=True)
    coarse_before, coarse_after = np.asarray(before["coarse"]), np.asarray(after["coarse"])
    np.testing.assert_allclose(coarse_after[:, :2], coarse_before[:, [2, 0]], atol=1e-5)
    # a regional head at zero: flat crops' heatmaps, so the refined points start at the coarse ones
    np.testing.assert_allclose(np.asarray(after["refined"]), coarse_after, atol=1e-5)
    # the body is the trained one: the global network's last features are equal
    name = "global_2_conv"  # the last convolution before the head
    np.testing.assert_array_equal(new.global_network.get_layer(name).get_weights()[0],
                                  other.global_network.get_layer(name).get_weights()[0])
    with pytest.raises(ValueError, match="sum to 1"):
        new.copy_with_points_from(other, combination * 2)
    with pytest.raises(ValueError, match=r"must be \(3, 5\)"):
        new.copy_with_points_from(other, combination[:, :4])
    with pytest.raises(ValueError, match="regional_channels"):
        ADCLandmarks(**{**TINY_ADC, "num_points": 3, "regional_channels": (4, 4, 4)}).copy_with_points_from(
            other, combination)


def test_with_settings_keeps_the_weights_under_other_inference_settings_and_refuses_a_new_network():
    """What lets adc_landmarks_300w_fast share adc_landmarks_300w's checkpoint: the same
    weights with one regional pass and no flip average compute what a model built that way
    computes, and a setting that is part of the network is refused."""
    from helpers import randomised

    trained = randomised(ADCLandmarks(**TINY_ADC, flip_test=True, mirror=[4, 3, 2, 1, 0], refine_passes=2), seed=6)
    fast = trained.with_settings(flip_test=False, refine_passes=1, name="fast")
    built = ADCLandmarks(**TINY_ADC, name="built")
    built.set_weights(trained.get_weights())
    images = np.random.default_rng(7).uniform(size=(2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(fast(images)), np.asarray(built(images)), atol=1e-6)
    assert (fast.flip_test, fast.refine_passes, fast.name) == (False, 1, "fast")
    assert np.abs(np.asarray(fast(images)) - np.asarray(trained(images))).max() > 1e-3  # the settings did change
    with pytest.raises(ValueError, match="regional_blocks belong to what"):
        trained.with_settings(regional_blocks=1)


def test_the_holistic_model_takes_its_flip_average_on_and_off_with_the_same_weights():
    """holistic_landmarks_300w ships with the flip average on; turning it off (or the nominal
    input size) changes no weight, so with_settings allows it and a new channel count does not."""
    from helpers import randomised

    tiny = dict(num_points=5, network_size=32, channels=(4, 4, 8))
    trained = randomised(HolisticLandmarks(**tiny, flip_test=True, mirror=[4, 3, 2, 1, 0]), seed=8)
    plain = trained.with_settings(flip_test=False, input_size=(256, 256))
    built = HolisticLandmarks(**tiny)
    built.set_weights(trained.get_weights())
    images = np.random.default_rng(9).uniform(size=(2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(plain(images)), np.asarray(built(images)), atol=1e-6)
    assert not plain.flip_test and plain.input_size == (256, 256)
    with pytest.raises(ValueError, match="channels belong to what"):
        trained.with_settings(channels=(4, 4, 4))


def _similar(points, scale, angle, shift):
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return scale * points @ rotation.T + shift


def test_shape_correction_starts_as_the_identity_and_removes_a_systematic_error_wherever_the_face_is():
    from facezoo.layers.shape_correction import ShapeCorrection

    rng = np.random.default_rng(0)
    base = rng.uniform(-1, 1, (12, 2))
    bias = rng.normal(0, 0.08, (12, 2))  # the "convention" error, in the face's own frame

    def faces(count):
        true = base + rng.normal(0, 0.05, (count, 12, 2))
        predicted = true + bias + rng.normal(0, 0.005, true.shape)
        poses = [(rng.uniform(20, 200), rng.uniform(-0.5, 0.5), rng.uniform(0, 500, 2)) for _ in range(count)]
        return (np.stack([_similar(p, *pose) for p, pose in zip(predicted, poses)]),
                np.stack([_similar(t, *pose) for t, pose in zip(true, poses)]), np.array([s for s, _, _ in poses]))

    layer = ShapeCorrection(12)
    predicted, true, scales = faces(200)
    np.testing.assert_allclose(np.asarray(layer(predicted.astype("float32"))), predicted, atol=1e-3)  # identity
    before, after = layer.fit(predicted, true, ridge=0.1)
    assert after < 0.3 * before
    held_out, held_true, held_scales = faces(50)
    corrected = np.asarray(layer(held_out.astype("float32")))
    error_before = (np.linalg.norm(held_out - held_true, axis=-1).mean(1) / held_scales).mean()
    error_after = (np.linalg.norm(corrected - held_true, axis=-1).mean(1) / held_scales).mean()
    assert error_after < 0.3 * error_before, (error_before, error_after)
    # equivariant: moving, scaling and turning the face moves the corrected points with it
    moved = np.asarray(layer(_similar(held_out, 1.7, 0.3, np.array([40.0, -9.0])).astype("float32")))
    np.testing.assert_allclose(moved, _similar(corrected, 1.7, 0.3, np.array([40.0, -9.0])), rtol=1e-4, atol=1e-2)
    # a shape nothing like the faces it was fitted on (noise, a mirrored face) is left alone
    odd = np.stack([rng.normal(0, 100, (12, 2)), _similar(base * [-1, 1], 100, 0, 50)]).astype("float32")
    np.testing.assert_allclose(np.asarray(layer(odd)), odd, atol=1e-3)
    assert np.asarray(layer.face_likeness(held_out)).min() > 0.9 and np.asarray(layer.face_likeness(odd)).max() < 0.5
    with pytest.raises(ValueError, match=r"\(N, 12, 2\)"):
        layer.fit(predicted[:, :10], true[:, :10])
    layer.reset()
    np.testing.assert_allclose(np.asarray(layer(held_out.astype("float32"))), held_out, atol=1e-3)


@pytest.mark.parametrize("kind", ["adc", "holistic"])
def test_a_models_shape_correction_is_its_last_stage_in_inference_training_files_and_checkpoints(kind, tmp_path):
    import keras

    from facezoo.checkpoints import load_checkpoint, save_checkpoint

    config = TINY_ADC if kind == "adc" else dict(num_points=5, network_size=32, channels=(4, 4, 8))
    cls = ADCLandmarks if kind == "adc" else HolisticLandmarks
    keras.utils.set_random_seed(1)
    plain, corrected = cls(**config), cls(**config, shape_correction=True)
    images = np.random.default_rng(2).uniform(size=(2, 48, 48, 3)).astype("float32")
    plain(images), corrected(images)
    for layer in plain.layers:
        corrected.get_layer(layer.name).set_weights(layer.get_weights())
    raw = np.asarray(plain(images))
    np.testing.assert_allclose(np.asarray(corrected(images)), raw, atol=1e-4)  # not fitted yet: the identity
    rng = np.random.default_rng(3)
    shapes = raw[np.arange(40) % 2] + rng.normal(0, 0.05, (40, 5, 2))  # shapes like both faces'
    widened = lambda p: 1.2 * p - 0.2 * p.mean(-2, keepdims=True)  # noqa: E731  1.2x about the centre
    corrected.shape_correction.fit(shapes, widened(shapes), ridge=1e-3)
    out = np.asarray(corrected(images))
    np.testing.assert_allclose(out, np.asarray(corrected.shape_correction(raw)), atol=1e-4)
    effect = np.abs(widened(raw) - raw).mean()  # it learnt the widening
    assert np.abs(out - widened(raw)).mean() < 0.25 * effect, (np.abs(out - widened(raw)).mean(), effect)
    assert corrected.get_config()["shape_correction"] and "shape_correction" not in plain.get_config()
    corrected.save(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(keras.models.load_model(tmp_path / "m.keras")(images)), out, atol=1e-4)
    save_checkpoint(corrected, tmp_path / "m.npz", dtype="float32")
    np.testing.assert_allclose(np.asarray(load_checkpoint(tmp_path / "m.npz")(images)), out, atol=1e-4)
    # in training the last stage (ADC's refined points, the holistic model's only ones) is corrected
    from facezoo.models.adc_landmarks.adc_landmarks import _corrected

    training = corrected(images, training=True)
    stage = "refined" if kind == "adc" else "coarse"
    if kind == "adc":
        raw = corrected.stages(images, training=True)["refined"]
    else:
        from facezoo.models.adc_landmarks.adc_landmarks import downsample

        raw = soft_argmax(corrected.network(downsample(images, corrected.network_size), training=True), corrected.beta)
    # (refitted on shapes like these: BatchNorm's batch statistics move an untrained model's points)
    shapes = (np.asarray(raw)[np.arange(40) % 2] + 1.0) * 23.5 + rng.normal(0, 0.05, (40, 5, 2))
    corrected.shape_correction.fit(shapes, widened(shapes), ridge=1e-3)
    training = corrected(images, training=True)
    np.testing.assert_allclose(np.asarray(training[stage]),
                               np.asarray(_corrected(corrected.shape_correction, raw, 48, 48)), atol=1e-4)
    assert not np.allclose(np.asarray(training[stage]), np.asarray(raw), atol=1e-3)
    # fine-tuning trains the networks under the fitted correction (the loss is on the corrected
    # points) and leaves the correction as fitted
    corrected.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = [np.array(w) for w in corrected.weights]
    corrected.fit(images, out + 3.0, epochs=1, batch_size=2, verbose=0)
    moved = {w.path.split("/")[0] for w, b in zip(corrected.weights, before) if not np.allclose(w, b)}
    assert moved and "shape_correction" not in moved, moved
    # a shape correction computes in float32 under a mixed-precision policy (pixels survive)
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        again = cls(**config, shape_correction=True)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert again.shape_correction.compute_dtype == "float32"

"""ICNN and STNiCNN: shapes, configs, saving, part sharing, losses and bad input."""

import keras
import numpy as np
import pytest

from facezoo.classmaps import HELEN
from facezoo.layers import crop_theta
from facezoo.models import ICNN, STNiCNN
from facezoo.models.stn_icnn import part_centroid_thetas
from helpers import SMALL_STN, randomised, small_stn


def test_icnn_default_parameter_count_matches_its_docstring():
    model = ICNN()
    assert model.count_params() == 567_663
    assert "567,663 parameters" in ICNN.__doc__


@pytest.mark.parametrize("shape", [(64, 64, 3), (81, 81, 3), (40, 56, 1), (48, 48, 4)])
def test_icnn_outputs_logits_at_input_resolution(shape):
    model = ICNN(num_classes=5, input_shape=shape, channels=(4, 8, 8, 8))
    out = model(np.zeros((2, *shape), "float32"))
    assert out.shape == (2, shape[0], shape[1], 5)


@pytest.mark.parametrize("channels", [0, 2, 5])
def test_icnn_refuses_images_with_unsupported_channels(channels):
    with pytest.raises(ValueError, match="1 \\(grey\\), 3 \\(RGB\\) or 4"):
        ICNN(input_shape=(32, 32, channels))


def test_icnn_refuses_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        ICNN(num_classes=0)
    with pytest.raises(ValueError, match="channels"):
        ICNN(channels=(8,))


@pytest.mark.parametrize("wide", [(16, 32, 48, 64), (9, 20, 24, 40)])
def test_a_widened_icnn_computes_what_the_narrow_one_did_and_can_learn_apart(wide):
    narrow = randomised(ICNN(num_classes=4, input_shape=(41, 41, 3)))
    model = ICNN(num_classes=4, input_shape=(41, 41, 3), channels=wide).copy_widened_from(narrow)
    assert model.count_params() > narrow.count_params()
    x = np.random.default_rng(1).uniform(0, 1, (2, 41, 41, 3)).astype("float32")
    reference = keras.ops.convert_to_numpy(narrow(x))
    # float rounding, amplified through random weights: oneDNN's convolutions (TensorFlow's default on x86)
    # reached 1.05e-3 of the range on an AVX-512 CPU (1.7e-4 with TF_ENABLE_ONEDNN_OPTS=0); a wrong copy is off by O(1)
    tolerance = 3e-3 * np.abs(reference).max()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), reference, atol=tolerance)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x, training=True)),  # batch statistics too
                               keras.ops.convert_to_numpy(narrow(x, training=True)), atol=tolerance)
    # a copied channel's readers weigh it differently from the original's (symmetry broken)
    kernel = model.get_layer("link0_conv_b_0").get_weights()[0]
    assert not np.allclose(kernel[:, :, 0], kernel[:, :, 8])


def test_an_icnn_is_widened_only_from_a_narrower_one_of_the_same_shape():
    narrow = randomised(ICNN(num_classes=4, input_shape=(41, 41, 3)))
    with pytest.raises(ValueError, match="at least as wide"):
        ICNN(num_classes=4, input_shape=(41, 41, 3), channels=(4, 16, 24, 32)).copy_widened_from(narrow)
    with pytest.raises(ValueError, match="num_classes"):
        ICNN(num_classes=3, input_shape=(41, 41, 3), channels=(16, 32, 48, 64)).copy_widened_from(narrow)
    with pytest.raises(ValueError, match="input channels"):
        ICNN(num_classes=4, input_shape=(41, 41, 4), channels=(16, 32, 48, 64)).copy_widened_from(narrow)
    # another input size is fine (no weight depends on it): a lite network's part from a full one's
    small = ICNN(num_classes=4, input_shape=(33, 33, 3), channels=(16, 32, 48, 64)).copy_widened_from(narrow)
    np.testing.assert_allclose(small.get_layer("head_conv_3").get_weights()[0],
                               narrow.get_layer("head_conv_3").get_weights()[0], rtol=1e-6)


def test_wider_part_icnns_are_part_of_the_config_only_when_set(tmp_path):
    assert "part_channels" not in small_stn().get_config()  # the published files' configs are unchanged
    model = randomised(small_stn(part_channels=(8, 16, 16, 16)))
    assert [net.channels for net in model.part_models] == [(8, 16, 16, 16)] * len(model.part_models)
    assert model.stage1.channels == SMALL_STN["channels"]
    model.save(tmp_path / "wide.keras")
    again = keras.saving.load_model(tmp_path / "wide.keras")
    assert again.get_config()["part_channels"] == [8, 16, 16, 16]
    faces = np.random.default_rng(2).uniform(0, 1, (1, 96, 96, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(again(faces)), np.asarray(model(faces)), atol=1e-6)


@pytest.fixture(scope="module")
def stn():
    return small_stn()


def test_stn_icnn_predicts_a_probability_map_at_input_resolution(stn):
    x = np.random.default_rng(0).uniform(size=(2, 96, 96, 3)).astype("float32")
    probs = keras.ops.convert_to_numpy(stn(x))
    assert probs.shape == (2, 96, 96, len(HELEN.names))
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-4)
    assert probs.min() >= 0


def test_stn_icnn_shares_part_models_across_sides(stn):
    assert sorted(m.name for m in stn.part_models) == ["part_brow", "part_eye", "part_mouth", "part_nose"]
    # A left-right symmetric face: mirrored crops must give mirrored part predictions.
    rng = np.random.default_rng(1)
    half = rng.uniform(size=(1, 96, 48, 3)).astype("float32")
    face = np.concatenate([half, half[:, :, ::-1]], axis=2)
    centers = np.array([[[30, 30], [65, 30], [30, 45], [65, 45], [47.5, 60], [47.5, 75]]], "float32")
    thetas = crop_theta(centers, (96, 96), 21)
    out = stn({"images": face, "thetas": thetas}, training=True)
    left, right = (keras.ops.convert_to_numpy(out["part_logits"][i]) for i in (0, 1))
    np.testing.assert_allclose(right, left[:, :, ::-1], atol=1e-5)
    assert not np.allclose(left, left[:, :, ::-1], atol=1e-3)  # the test is not trivially true


def test_stn_icnn_inference_fast_paths_compute_the_reference_pipeline():
    """Inference batches the shared part models and pastes by matmul; the reference is one
    part model call per part and the gathering SpatialPaste. Trained-like weights (BN
    statistics and kernels scaled up) make the parts' outputs far from flat."""
    keras.utils.set_random_seed(3)
    model = small_stn()
    for weight in model.weights:
        if "moving_variance" in weight.path:
            weight.assign(0.05 * keras.ops.ones_like(weight))
        elif "kernel" in weight.path and "localizer" not in weight.path:
            weight.assign(3 * weight)
    x = np.random.default_rng(4).uniform(size=(2, 96, 96, 3)).astype("float32")
    probs = keras.ops.softmax(model.stage1(model.to_stage1(x), training=False), axis=-1)
    thetas = model.localizer(probs, training=False)
    crops = model.crop(x, thetas)
    reference = [model._label_part(i, crops[:, i], False) for i in range(len(model.parts))]
    grouped = model._label_parts(crops, training=False)
    for ref, got in zip(reference, grouped):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(ref), atol=1e-5)
    slow = keras.ops.convert_to_numpy(model._assemble(probs, thetas, reference, axis_aligned=False))
    fast = keras.ops.convert_to_numpy(model(x))
    assert np.std(slow[..., 2:10]) > 0.02  # part classes are really pasted
    np.testing.assert_allclose(fast, slow, atol=1e-5)


def test_stn_icnn_merge_is_the_documented_per_pixel_formula():
    """Each part class takes its pasted probability; background, skin and hair share what no
    part claims, prod(1 - part's claim), in the proportions of their own upsampled stage-1
    probabilities; the result is normalised. Written out class by class here, against the
    model's merge, which resizes the uncovered classes together and stacks planes first."""
    keras.utils.set_random_seed(5)
    model = small_stn()
    rng = np.random.default_rng(6)
    probs = rng.uniform(size=(2, 48, 48, 11)).astype("float32")
    probs /= probs.sum(-1, keepdims=True)
    thetas = crop_theta(rng.uniform(30, 66, size=(2, len(model.parts), 2)).astype("float32"), (96, 96), 21)
    logits = [rng.normal(0, 3, size=(2, 21, 21, len(spec.classes) + 1)).astype("float32") for spec in model.parts]
    got = keras.ops.convert_to_numpy(model._assemble(probs, thetas, logits))

    expected = np.zeros((2, 96, 96, 11), np.float32)
    unclaimed = np.ones((2, 96, 96), np.float32)
    for index, spec in enumerate(model.parts):
        foreground = keras.ops.softmax(logits[index], axis=-1)[..., 1:]
        pasted = keras.ops.convert_to_numpy(model.paste(foreground[:, None], thetas[:, index:index + 1]))[:, 0]
        for k, name in enumerate(spec.classes):
            expected[..., model.class_names.index(name)] = pasted[..., k]
        unclaimed *= 1.0 - pasted.sum(-1)
    uncovered = [i for i, name in enumerate(model.class_names)
                 if not any(name in spec.classes for spec in model.parts)]
    assert [model.class_names[i] for i in uncovered] == ["background", "skin", "hair"]
    coarse = {i: keras.ops.convert_to_numpy(model.from_stage1(probs[..., i:i + 1]))[..., 0] for i in uncovered}
    for i in uncovered:
        expected[..., i] = unclaimed * coarse[i] / (sum(coarse.values()) + 1e-6)
    expected /= expected.sum(-1, keepdims=True) + 1e-6
    assert np.std(got[..., 2:10]) > 0.02  # the parts are really pasted
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_stn_icnn_paste_at_a_smaller_canvas_approximates_the_full_paste():
    """``paste_size`` half the input merges at 48x48 and upsamples: a blurrier map at the
    parts' borders, the same labels almost everywhere, still probabilities."""
    rng = np.random.default_rng(7)
    full, half = small_stn(), small_stn(paste_size=48)
    assert half.get_config()["paste_size"] == [48, 48]
    assert STNiCNN.from_config(half.get_config()).paste_size == (48, 48)

    def smooth(shape, scale):  # blobs, like real maps, not per-pixel noise
        coarse = rng.normal(0, scale, size=(shape[0], 6, 6, shape[-1])).astype("float32")
        return keras.ops.convert_to_numpy(keras.ops.image.resize(coarse, shape[1:3]))

    probs = keras.ops.convert_to_numpy(keras.ops.softmax(smooth((2, 48, 48, 11), 2.0)))
    thetas = crop_theta(rng.uniform(30, 66, size=(2, len(full.parts), 2)).astype("float32"), (96, 96), 21)
    logits = [smooth((2, 21, 21, len(spec.classes) + 1), 3.0) for spec in full.parts]
    exact = keras.ops.convert_to_numpy(full._assemble(probs, thetas, logits))
    approx = keras.ops.convert_to_numpy(half._assemble(probs, thetas, logits))
    assert approx.shape == exact.shape == (2, 96, 96, 11)
    np.testing.assert_allclose(approx.sum(-1), 1.0, atol=1e-4)
    assert np.abs(approx - exact).max() > 1e-3  # really merged on the smaller canvas
    assert np.abs(approx - exact).mean() < 0.02
    assert (approx.argmax(-1) == exact.argmax(-1)).mean() > 0.95
    with pytest.raises(ValueError, match="paste_size"):
        small_stn(paste_size=128)


def test_stn_icnn_training_outputs_and_loss(stn):
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(2, 96, 96, 3)).astype("float32")
    y = rng.integers(0, 11, (2, 96, 96)).astype("int32")
    out = stn(x, training=True)
    assert set(out) == {"stage1_logits", "thetas", "part_logits"}
    assert out["stage1_logits"].shape == (2, 48, 48, 11)
    assert out["thetas"].shape == (2, 6, 2, 3)
    assert [p.shape[-1] for p in out["part_logits"]] == [2, 2, 2, 2, 2, 4]
    loss = float(stn.compute_loss(x=x, y=y, y_pred=out))
    assert np.isfinite(loss) and loss > 0
    # Each term can be switched off and they add up.
    terms = {}
    for key in ("stage1", "theta", "parts"):
        stn.loss_weights = {k: float(k == key) for k in ("stage1", "theta", "parts")}
        terms[key] = float(stn.compute_loss(x=x, y=y, y_pred=out))
    stn.loss_weights = {"stage1": 1.0, "theta": 1.0, "parts": 1.0}
    assert abs(sum(terms.values()) - loss) < 1e-4
    assert all(v > 0 for v in terms.values())


def test_the_part_dice_term_is_one_minus_each_parts_mean_dice_on_its_own_classes(stn):
    from facezoo.layers import affine_sample

    rng = np.random.default_rng(3)
    x = rng.uniform(size=(2, 96, 96, 3)).astype("float32")
    y = rng.integers(-1, 11, (2, 96, 96)).astype("int32")  # some unknown pixels too
    out = stn(x, training=True)
    stn.loss_weights = {"stage1": 0.0, "theta": 0.0, "parts": 0.0, "part_dice": 1.0}
    try:
        dice_term = float(stn.compute_loss(x=x, y=y, y_pred=out))
    finally:
        stn.loss_weights = {"stage1": 1.0, "theta": 1.0, "parts": 1.0, "part_dice": 0.0}
    crops = keras.ops.convert_to_numpy(affine_sample(y[..., None].astype("float32"), out["thetas"], stn.crop_size,
                                                     "nearest"))[..., 0].round().astype(int)
    expected = []
    for index, (table, logits) in enumerate(zip(stn._local_tables, out["part_logits"])):
        labels = np.where(crops[:, index] < 0, -1, np.asarray(table)[np.maximum(crops[:, index], 0)])
        logits = keras.ops.convert_to_numpy(logits)
        p = np.exp(logits - logits.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        dice = []
        for k in range(1, logits.shape[-1]):  # the part's own classes
            truth, known = labels == k, labels >= 0
            dice.append((2 * (p[..., k] * truth).sum() + 1) / ((p[..., k] * known).sum() + truth.sum() + 1))
        expected.append(1 - np.mean(dice))
    assert dice_term == pytest.approx(np.mean(expected), rel=1e-4)
    assert 0 < dice_term < 1


def test_localizer_starts_at_centred_unit_scale_crops(stn):
    x = np.zeros((1, 96, 96, 3), "float32")
    thetas = keras.ops.convert_to_numpy(stn(x, training=True)["thetas"])
    want = keras.ops.convert_to_numpy(crop_theta(np.full((1, 6, 2), 47.5, "float32"), (96, 96), 21))
    np.testing.assert_allclose(thetas, want, atol=1e-6)


def test_part_centroid_thetas_centre_on_each_part():
    labels = np.zeros((1, 40, 40), "int32")
    labels[0, 10:13, 4:9] = 2  # l_brow block centred at x=6, y=11
    labels[0, 30:33, 20:23] = 7  # u_lip
    labels[0, 34:35, 20:23] = 9  # l_lip: the mouth centroid mixes both
    thetas, valid = part_centroid_thetas(labels, [[2], [3], [7, 8, 9]], (40, 40), 9)
    thetas, valid = keras.ops.convert_to_numpy(thetas), keras.ops.convert_to_numpy(valid)
    np.testing.assert_array_equal(valid, [[1, 0, 1]])
    mouth_y = (30 * 3 + 31 * 3 + 32 * 3 + 34 * 3) / 12
    want = keras.ops.convert_to_numpy(crop_theta(np.array([[[6, 11], [19.5, 19.5], [21, mouth_y]]], "float32"), (40, 40), 9))
    np.testing.assert_allclose(thetas, want, atol=1e-6)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(parts=[{"name": "ear", "classes": ["l_ear"]}]), r"unknown class 'l_ear'.*needs its parts too: parts="),
        (dict(parts=[{"name": "a", "classes": ["nose"]}, {"name": "b", "classes": ["nose"]}]), "belongs to parts"),
        (dict(parts=[{"name": "bg", "classes": ["background"]}]), "background"),
        (dict(parts=[{"name": "x", "classes": ["nose"], "colour": 1}]), "unknown keys"),
        (dict(parts=[]), "at least one part"),
        (dict(crop_size=(20, 21)), "odd"),
        (dict(crop_size=(0, 21)), "crop_size"),
        (dict(loss_weights={"stage2": 1.0}), "unknown loss_weights"),
        (dict(class_names=["background"]), "class_names"),
    ],
)
def test_stn_icnn_refuses_bad_configuration(overrides, message):
    with pytest.raises(ValueError, match=message):
        STNiCNN(**{**SMALL_STN, **overrides})


def test_phases_freeze_what_they_do_not_train_and_compute_only_what_they_need():
    model = small_stn()
    rng = np.random.default_rng(4)
    x = rng.uniform(size=(1, 96, 96, 3)).astype("float32")
    y = rng.integers(0, 11, (1, 96, 96)).astype("int32")
    model.set_phase("stage1")
    assert model.stage1.trainable and not model.localizer.trainable
    assert not any(m.trainable for m in model.part_models)
    assert set(model(x, training=True)) == {"stage1_logits"}
    model.set_phase("localizer")
    assert set(model(x, training=True)) == {"stage1_logits", "thetas"}
    model.set_phase("parts")
    thetas = model.centroid_thetas(y)
    out = model({"images": x, "thetas": thetas}, training=True)
    assert set(out) == {"thetas", "part_logits"}  # stage 1 is skipped on given crops
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out["thetas"]), thetas)
    assert float(model.compute_loss(x=x, y=y, y_pred=out)) > 0
    model.set_phase("end_to_end")
    assert model.stage1.trainable and model.localizer.trainable and all(m.trainable for m in model.part_models)
    with pytest.raises(ValueError, match="unknown phase"):
        model.set_phase("stage2")
    with pytest.raises(ValueError, match="dict inputs take 'images'"):
        model({"image": x})


def test_centroid_cropper_follows_the_stage1_prediction():
    model = small_stn(cropper="centroid")
    assert model(np.zeros((1, 96, 96, 3), "float32")).shape == (1, 96, 96, 11)
    labels = np.zeros((1, 48, 48), "int32")  # a stage-1 map that sees a nose at x=30, y=40
    labels[0, 38:43, 28:33] = HELEN.index("nose")
    probs = keras.ops.softmax(keras.ops.one_hot(labels, 11) * 10.0, axis=-1)
    thetas = keras.ops.convert_to_numpy(model._stage1_centroid_thetas(probs))
    nose = [p.name for p in model.parts].index("nose")
    centre = np.array([[[(30 + 0.5) * 2 - 0.5, (40 + 0.5) * 2 - 0.5]]], "float32")  # 48 -> 96 pixels
    want = keras.ops.convert_to_numpy(crop_theta(centre, (96, 96), 21))
    np.testing.assert_allclose(thetas[0, nose], want[0, 0], atol=1e-5)


def test_crop_scale_widens_the_window():
    wide = small_stn(crop_scale=2.0)
    out = wide(np.zeros((1, 96, 96, 3), "float32"), training=True)
    thetas = keras.ops.convert_to_numpy(out["thetas"])
    np.testing.assert_allclose(thetas[..., 0, 0], 2.0 * 20 / 95, rtol=1e-6)
    with pytest.raises(ValueError, match="crop_scale"):
        small_stn(crop_scale=0)
    with pytest.raises(ValueError, match="cropper"):
        small_stn(cropper="oracle")

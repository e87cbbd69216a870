"""One harness over every architecture (in the spirit of keras-hub's run_backbone_test and
run_model_saving_test): a tiny config of each; forward pass; get_config, .keras and .npz
round trips with the model info; one fit step with the architecture's own compile
defaults; refused targets; a new head; TFLite and ONNX files run in their own runtimes;
the JAX backend. A new architecture adds one entry to ARCHITECTURES."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import facezoo
from facezoo.checkpoints import load_checkpoint, save_checkpoint
from facezoo.info import ModelInfo
from facezoo.models import ICNN, ADCLandmarks, HolisticLandmarks, RTParser, STNiCNN, TargetError
from facezoo.presets import ARCHITECTURES as REGISTERED
from helpers import SMALL_STN

TINY_ADC = dict(num_points=5, global_size=32, global_channels=(4, 4, 8), crop_size=16, regional_channels=(4, 4, 8),
                region_fraction=0.12, input_size=(64, 64))
#: name -> (class, tiny config, input shape). Every registered architecture must be here.
ARCHITECTURES = {
    "icnn": (ICNN, dict(num_classes=3, input_shape=(32, 32, 3), channels=(4, 8, 8, 8)), (32, 32, 3)),
    "stn_icnn": (STNiCNN, SMALL_STN, (96, 96, 3)),
    "rtparser": (RTParser, dict(num_classes=3, input_size=(32, 32), width=0.25), (32, 32, 3)),
    "adc_landmarks": (ADCLandmarks, TINY_ADC, (64, 64, 3)),
    "holistic_landmarks": (HolisticLandmarks, dict(num_points=5, network_size=32, channels=(4, 4, 8),
                                                   input_size=(64, 64)), (64, 64, 3)),
}
NAMES = sorted(ARCHITECTURES)
FIVE = ("background", "skin", "brows", "eyes", "mouth")
#: STN-iCNN's parts must name its classes: the five-class head needs its own.
FIVE_PARTS = {"stn_icnn": dict(parts=[{"name": "brows", "classes": ["brows"]}, {"name": "eyes", "classes": ["eyes"]},
                                      {"name": "mouth", "classes": ["mouth"]}])}


def build(name, seed=0):
    keras.utils.set_random_seed(seed)
    cls, config, shape = ARCHITECTURES[name]
    model = cls(**config)
    model(np.zeros((1, *shape), "float32"))
    return model


def inputs(name, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(size=(batch, *ARCHITECTURES[name][2])).astype("float32")


def targets(model, batch=2, seed=1, top=None):
    rng = np.random.default_rng(seed)
    height, width = model.info.input_size
    if model.info.task == "landmarks":
        return rng.uniform(5, min(height, width) - 5, (batch, model.num_points, 2)).astype("float32")
    return rng.integers(0, top or len(model.class_names), (batch, height, width)).astype("int32")


def with_info(model):
    """The model with an info of its own, as a fine-tune carries (names, colours, template)."""
    model.info = model.info.replace(name="mine", license="mine to give", face_crop="my crops",
                                    alignment={"keypoints": [[0.4, 0.45], [0.6, 0.45], [0.5, 0.55], [0.42, 0.65],
                                                             [0.58, 0.65]], "box": [0.3, 0.25, 0.7, 0.77]})
    return model


def outputs(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def test_every_registered_architecture_is_in_the_harness():
    assert set(REGISTERED) == set(ARCHITECTURES)
    assert all(REGISTERED[name][0] is ARCHITECTURES[name][0] for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_forward_pass_gives_what_the_info_says(name):
    model = build(name)
    out = outputs(model, inputs(name))
    info = model.info
    if info.task == "parsing":
        assert out.shape == (2, *info.input_size, len(info.class_names))
        if info.output == "probabilities":
            np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-4)
        else:  # the photo pipeline takes the softmax of what a parser calls logits
            assert info.output == "logits" and not np.allclose(out.sum(-1), 1.0, atol=1e-3)
    else:
        assert info.output == "points" and out.shape == (2, model.num_points, 2)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_config_keras_and_npz_round_trips_keep_weights_and_info(name, tmp_path):
    model = with_info(build(name))
    x = inputs(name)
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config() and clone.info == model.info
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded) is type(model) and loaded.info == model.info
    np.testing.assert_allclose(outputs(loaded, x), outputs(model, x), atol=1e-6)
    reloaded = load_checkpoint(save_checkpoint(model, tmp_path / "m.npz"))
    assert reloaded.info == model.info and reloaded.architecture_config() == model.architecture_config()
    assert all(w.dtype == np.float32 for w in reloaded.get_weights())
    for a, b in zip(model.get_weights(), reloaded.get_weights()):
        np.testing.assert_array_equal(b, a.astype(np.float16).astype(np.float32))


@pytest.mark.parametrize("name", NAMES)
def test_compile_defaults_train_one_step_and_refuse_targets_that_do_not_fit(name):
    model = build(name)
    model.compile()
    x, y = inputs(name), targets(model)
    before = [w.copy() for w in model.get_weights()]
    loss = model.fit(x, y, epochs=1, batch_size=2, verbose=0).history["loss"][0]
    assert np.isfinite(loss) and loss > 0
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    if model.info.task == "parsing":
        bad = targets(model, top=len(model.class_names) + 3)
        bad[0, 0, 0] = len(model.class_names) + 2
        with pytest.raises(TargetError, match=f"must lie in 0..{len(model.class_names) - 1}"):
            model.fit(x, bad, verbose=0)
        small = y[:, 1:, 1:]  # label maps a pixel short of the images: named, not a TensorFlow shape error
        with pytest.raises(TargetError, match=f"label maps of {small.shape[1]}x{small.shape[2]} pixels for images of"):
            model.fit(x, small, verbose=0)
        import keras

        class Batches(keras.utils.PyDataset):  # a dataset's batches are checked as they are read
            def __len__(self):
                return 1

            def __getitem__(self, index):
                return x, small

        with pytest.raises(TargetError, match="batch 0 of Batches: label maps of"):
            model.fit(Batches(), verbose=0)
    else:
        with pytest.raises(TargetError, match=f"predicts {model.num_points}"):
            model.fit(x, np.zeros((2, model.num_points + 1, 2), "float32"), verbose=0)


@pytest.mark.parametrize("name", NAMES)
def test_raw_pixels_are_refused_with_the_way_to_preprocess_them(name):
    model = build(name)
    model.compile()
    good = inputs(name)
    pixels = np.round(good * 255)
    calls = {"predict": lambda x: model.predict(x, verbose=0), "call": model,
             "fit": lambda x: model.fit(x, targets(model), epochs=1, verbose=0)}
    for call_name, call in calls.items():
        for bad, says in ((pixels.astype("uint8"), "got uint8 pixels"), (pixels.astype("float32"), "raw 0..255")):
            with pytest.raises(ValueError, match=says) as caught:
                call(bad)
            assert "model.preprocess" in str(caught.value), call_name
    with pytest.raises(ValueError, match=r"got one image .*images\[None\]"):
        model.predict(good[0], verbose=0)
    # parsers' inputs are resized to their input size; landmark models take crops as they are
    # (their points come back in the crop's own pixels)
    expected = (40, 50) if model.info.task == "landmarks" else tuple(model.info.input_size)
    assert model.preprocess(np.zeros((40, 50, 3), np.uint8)).shape == (1, *expected, 3)
    # what model.preprocess makes of those pixels is accepted, and predicts as the float input does
    preprocessed = model.preprocess(pixels.astype("uint8"), resize=False)
    np.testing.assert_allclose(model.predict(preprocessed, verbose=0), model.predict(good, verbose=0), atol=1e-3,
                               rtol=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_a_new_head_keeps_every_trained_layer(name):
    model = build(name)
    if model.info.task == "landmarks":
        with pytest.raises(ValueError, match="no classes"):
            model.with_classes(FIVE)
        return
    model.info = model.info.replace(name=f"my_{name}")  # as a preset names it
    five = model.with_classes(FIVE, **FIVE_PARTS.get(name, {}))
    assert five.info.class_names == FIVE and five.class_names == FIVE and len(five.class_colors) == 5
    assert outputs(five, inputs(name)).shape[-1] == 5
    # STN-iCNN's stage 1 is an iCNN whose head depends on the classes; the rest is checked the same way
    pairs, head = (model.weights, five.weights), type(model).HEAD_LAYERS
    if name == "stn_icnn":
        pairs, head = (model.stage1.weights, five.stage1.weights), ICNN.HEAD_LAYERS
    kept = fresh = 0
    for source, target in zip(*pairs):
        if source.path.split("/")[-2] in head or tuple(source.shape) != tuple(target.shape):
            fresh += 1
        else:
            np.testing.assert_array_equal(np.asarray(target), np.asarray(source), err_msg=f"{source.path} not copied")
            kept += 1
    assert kept > fresh > 0
    assert five.info.name == f"my_{name}"  # a fine-tune keeps its preset's name
    if name == "stn_icnn":  # a part whose classes changed keeps its trunk, its head starts fresh
        old_parts = {m.name: m for m in model.part_models}
        changed = [m for m in five.part_models
                   if m.name in old_parts and m.num_classes != old_parts[m.name].num_classes]
        assert changed
        for part in changed:
            for source, target in zip(old_parts[part.name].weights, part.weights):
                if source.path.split("/")[-2] not in ICNN.HEAD_LAYERS:
                    np.testing.assert_array_equal(np.asarray(target), np.asarray(source), err_msg=source.path)
    five.compile(run_eagerly=True)  # graph-mode training is test_compile_defaults_...'s (tracing: 30 s for STN-iCNN)
    assert np.isfinite(five.fit(inputs(name), targets(five), verbose=0).history["loss"][0])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_exported_files_run_in_their_own_runtime_and_carry_the_info(name, fmt, tmp_path):
    model = with_info(build(name))
    x = inputs(name)
    path = tmp_path / f"m.{fmt}"
    facezoo.export(model, path, format=fmt, sample_inputs=x, verbose=False)
    if fmt == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        detail = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(detail["index"], x.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    else:
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
    expected = outputs(model, x)
    np.testing.assert_allclose(got, expected, atol=1e-4 + 1e-5 * np.abs(expected).max())
    meta = facezoo.export.read_metadata(path)
    assert ModelInfo.from_dict({k: meta[k] for k in ModelInfo.__dataclass_fields__}) == model.info
    assert meta["sides"].startswith("subject") and meta["quantization"] == "none"


JAX_SCRIPT = textwrap.dedent("""
    import sys, tempfile
    sys.path.insert(0, {tests!r})
    import keras, numpy as np
    assert keras.backend.backend() == "jax", keras.backend.backend()
    import test_architectures as harness
    for name in harness.NAMES:
        # built by fit, symbolically: an eager call on JAX dispatches op by op (20 s for STN-iCNN)
        keras.utils.set_random_seed(0)
        cls, config, _ = harness.ARCHITECTURES[name]
        model = harness.with_info(cls(**config))
        model.compile()
        x, y = harness.inputs(name), harness.targets(model)
        loss = model.fit(x, y, epochs=1, verbose=0).history["loss"][0]
        assert np.isfinite(loss), (name, loss)
        path = tempfile.mkdtemp() + "/m.keras"
        model.save(path)
        again = keras.models.load_model(path)
        assert type(again) is type(model) and again.get_config() == model.get_config(), name
        assert again.info == model.info and len(again.weights) == len(model.weights) > 0, name
        for a, b in zip(again.weights, model.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path)
        # inference on JAX, compiled (jitted, not op by op), the same for the reloaded model
        np.testing.assert_allclose(again.predict_on_batch(x), model.predict_on_batch(x), atol=1e-5)
        print("JAX-OK", name, loss)
""")


def test_every_architecture_trains_and_saves_on_the_jax_backend():
    pytest.importorskip("jax")
    tests = str(Path(__file__).parent)
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", JAX_SCRIPT.format(tests=tests)], env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert all(f"JAX-OK {name}" in result.stdout for name in NAMES), result.stdout

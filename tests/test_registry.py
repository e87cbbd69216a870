"""Presets, facezoo.load and weights verification."""

import dataclasses
import os
import shutil

import keras
import numpy as np
import pytest

import facezoo
from facezoo import registry
from facezoo.checkpoints import save_checkpoint
from facezoo.models import ICNN, STNiCNN
from facezoo.registry import UnknownModelError, WeightsUnavailableError


def test_list_models():
    assert facezoo.list_models() == ["adc_landmarks_300w", "adc_landmarks_300w_fast", "adc_landmarks_helen194",
                                     "holistic_landmarks_300w", "icnn_lfw", "rtparser_celebamask", "rtparser_celebamask_student", "rtparser_helen",
                                     "rtparser_lfw", "rtparser_lfw_student", "stn_icnn_celebamask",
                                     "stn_icnn_celebamask_lite", "stn_icnn_helen", "stn_icnn_helen_lite"]
    assert facezoo.list_models(task="landmarks") == ["adc_landmarks_300w", "adc_landmarks_300w_fast",
                                                     "adc_landmarks_helen194", "holistic_landmarks_300w"]
    assert facezoo.list_models(task="parsing") == ["icnn_lfw", "rtparser_celebamask", "rtparser_celebamask_student",
                                                   "rtparser_helen", "rtparser_lfw", "rtparser_lfw_student",
                                                   "stn_icnn_celebamask", "stn_icnn_celebamask_lite", "stn_icnn_helen",
                                                   "stn_icnn_helen_lite"]


@pytest.mark.parametrize("teacher", ["rtparser_lfw", "rtparser_celebamask"])
def test_published_students_need_4x_fewer_multiply_adds_than_their_teachers(teacher):
    from facezoo.models.rtparser import multiply_adds

    big, small = (registry.build(registry.get_preset(name)) for name in (teacher, teacher + "_student"))
    assert multiply_adds(big) >= 4 * multiply_adds(small)  # per face, each at its own input size
    assert big.num_classes == small.num_classes


def test_unknown_name_lists_the_closest():
    with pytest.raises(UnknownModelError, match="unknown model 'stn_icnn_celeba'. Did you mean 'stn_icnn_celebamask'"):
        facezoo.load("stn_icnn_celeba")


def test_preset_without_weights_says_why_and_how_to_train(monkeypatch):
    # every shipped preset has weights now; a preset registered before its run finishes:
    untrained = dataclasses.replace(registry.PRESETS["stn_icnn_helen"], name="stn_icnn_next", weights_file=None,
                                    sha256=None, hub_repo=None, metrics={},
                                    unavailable="its HELEN run has not finished")
    monkeypatch.setitem(registry.PRESETS, "stn_icnn_next", untrained)
    with pytest.raises(WeightsUnavailableError, match=r"(?s)no published weights.*HELEN.*recipes/stn_icnn_helen.py"):
        facezoo.load("stn_icnn_next")
    model = facezoo.load("stn_icnn_next", weights=None, compile=False)  # the architecture is there
    assert isinstance(model, STNiCNN) and model.class_names[4] == "r_eye"


@pytest.fixture
def tiny_preset(tmp_path, monkeypatch):
    preset = dataclasses.replace(
        registry.PRESETS["icnn_lfw"], name="tiny", input_size=(32, 32), weights_file="tiny.npz", hub_repo=None,
        config={"num_classes": 3, "input_shape": (32, 32, 3), "channels": (2, 2, 2, 2)},
    )
    model = registry.build(preset)
    path = save_checkpoint(model, tmp_path / "weights" / "tiny.npz")
    preset = dataclasses.replace(preset, sha256=registry.sha256_of(path))
    monkeypatch.setitem(registry.PRESETS, "tiny", preset)
    monkeypatch.setattr(registry, "WEIGHTS_DIRS", (str(tmp_path / "weights"),))
    return preset, model, path


def test_load_verifies_and_attaches_preprocessing(tiny_preset):
    preset, original, _ = tiny_preset
    model = facezoo.load("tiny")
    assert model.class_names == ("background", "skin", "hair") and model.preset is preset
    face = np.random.default_rng(0).integers(0, 255, (50, 40, 3), dtype=np.uint8)
    batch = model.preprocess(face)
    assert batch.shape == (1, 32, 32, 3) and batch.dtype == np.float32 and batch.max() <= 1.0
    np.testing.assert_allclose(model.predict(batch, verbose=0), original.predict(batch, verbose=0), atol=5e-2)
    history = model.fit(batch, np.zeros((1, 32, 32), "int32"), epochs=1, verbose=0)  # compiled for fine-tuning
    assert np.isfinite(history.history["loss"][0])


def test_damaged_weights_are_refused(tiny_preset):
    _, _, path = tiny_preset
    with open(path, "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(WeightsUnavailableError, match="does not match the registry's"):
        facezoo.load("tiny")


def test_missing_weights_and_foreign_checkpoints(tiny_preset, tmp_path):
    _, _, path = tiny_preset
    other = save_checkpoint(ICNN(num_classes=5, input_shape=(32, 32, 3), channels=(2, 2, 2, 2)), tmp_path / "o.npz")
    with pytest.raises(ValueError, match="holds a different model than 'tiny'"):
        facezoo.load("tiny", weights=other)
    with pytest.raises(FileNotFoundError):
        facezoo.load("tiny", weights=tmp_path / "none.npz")
    shutil.move(path, tmp_path / "moved.npz")
    with pytest.raises(WeightsUnavailableError, match="not in this installation"):
        facezoo.load("tiny")
    assert isinstance(facezoo.load("tiny", weights=tmp_path / "moved.npz"), ICNN)


@pytest.mark.parametrize("name", [n for n, p in registry.PRESETS.items() if p.weights_file])
def test_shipped_weights_match_the_registry(name):
    preset = registry.PRESETS[name]
    path = registry.packaged_weights(preset)
    if path is None:
        pytest.skip(f"{preset.weights_file} is not shipped yet")
    assert preset.sha256 and registry.sha256_of(path) == preset.sha256
    assert preset.metrics, f"{name} ships weights but publishes no metrics"
    leaves = lambda d: [x for v in d.values() for x in (leaves(v) if isinstance(v, dict) else [v])]  # noqa: E731
    scores = [v for group in preset.metrics.values() if isinstance(group, dict) for v in leaves(group)]
    assert scores and all(isinstance(v, (int, float)) for v in scores), f"{name}: a metric without a number"


@pytest.mark.parametrize("name", [n for n, p in registry.PRESETS.items() if p.weights_file])
def test_shipped_checkpoints_carry_their_presets_config(name):
    """A checkpoint once shipped without the inference settings its preset promised (ADC's
    flip average and two regional passes). The file must hold its preset's config, but for
    settings that shape no weight where presets share one file (adc_landmarks_300w_fast):
    those load() applies, and the model it gives has them."""
    import json

    preset = registry.PRESETS[name]
    path = registry.packaged_weights(preset)
    if path is None:
        pytest.skip(f"{preset.weights_file} is not shipped yet")
    with np.load(path) as data:
        stored = json.loads(bytes(data["config"]).decode("utf-8"))["config"]
    promised = json.loads(json.dumps(preset.config))  # tuples as the file stores them
    differing = {k for k in promised if stored.get(k) != promised[k]}
    sharing = [p.name for p in registry.PRESETS.values() if p.weights_file == preset.weights_file and p is not preset]
    if differing:
        assert sharing, f"{name}'s checkpoint differs from its preset in {sorted(differing)}"
        model = facezoo.load(name, compile=False)
        assert differing <= set(model.architecture_config()) - set(model.weights_config()) | {"name"}, differing
        config = json.loads(json.dumps(model.get_config()))
        assert {k: config.get(k) for k in promised} == promised


def test_every_published_model_round_trips_through_a_keras_file_in_a_fresh_process(tmp_path):
    """Save each published model as .keras; a new process with facezoo imported reloads it
    and gives the same outputs."""
    import subprocess
    import sys
    import textwrap

    names = [n for n, p in registry.PRESETS.items() if p.weights_file]
    rng = np.random.default_rng(0)
    expected = {}
    for name in names:
        model = facezoo.load(name, compile=False)
        face = rng.integers(0, 256, (*model.preset.input_size, 3), dtype=np.uint8)
        x = model.preprocess(face)
        if getattr(model, "heatmap_channel", False):  # rtparser_helen: and a heatmap of 68 points
            from facezoo.models.rtparser import landmark_heatmap

            points = rng.uniform(0, model.preset.input_size[0], (68, 2))
            x = np.concatenate([x, landmark_heatmap(points, model.preset.input_size)[None, ..., None]], -1)
        np.save(tmp_path / f"{name}_in.npy", x)
        # a direct call, not predict (which traces a graph per model: minutes for seven models)
        expected[name] = keras.ops.convert_to_numpy(model(np.load(tmp_path / f"{name}_in.npy"), training=False))
        model.save(tmp_path / f"{name}.keras")
    script = textwrap.dedent(f"""
        import os, keras, numpy as np, facezoo
        for name in {names!r}:
            model = keras.models.load_model(os.path.join({str(tmp_path)!r}, name + ".keras"))
            x = np.load(os.path.join({str(tmp_path)!r}, name + "_in.npy"))
            np.save(os.path.join({str(tmp_path)!r}, name + "_out.npy"),
                    keras.ops.convert_to_numpy(model(x, training=False)))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in names:
        np.testing.assert_allclose(np.load(tmp_path / f"{name}_out.npy"), expected[name], atol=1e-5, err_msg=name)


def test_pip_install_in_a_fresh_environment_loads_the_packaged_weights(tmp_path):
    """A wheel installed into a new virtual environment, run outside the source tree with
    the Hub offline, finds and verifies its weights inside the installed package."""
    import subprocess
    import sys
    import sysconfig
    import venv
    import zipfile
    from pathlib import Path

    repo = Path(registry.PACKAGE_DIR).parent
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(repo)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = next(tmp_path.glob("facezoo-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (repo / "weights").iterdir() if p.suffix in (".npz", ".md")}
    assert shipped and {f"facezoo/weights/{n}" for n in shipped} <= names
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())
    # The dependencies (TensorFlow, ...) come from this environment; facezoo only from the wheel.
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                             str(wheel)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "empty_cache"))
    script = ("import facezoo, facezoo.registry as r; print(facezoo.__file__); "
              "print(*[r.resolve_weights(r.get_preset(n)) for n in facezoo.list_models() "
              "if r.get_preset(n).weights_file], sep='\\n'); facezoo.load('icnn_lfw')")
    result = subprocess.run([str(python), "-c", script], cwd=outside, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.split()
    assert lines[0].startswith(str(site / "facezoo")), lines
    assert len(lines) > 2 and all(line.startswith(str(site / "facezoo" / "weights")) for line in lines[1:]), lines


def test_a_checkpoint_with_other_stn_icnn_inference_settings_fits_its_preset(tmp_path):
    """Paste size and loss weights shape no weight: a lite file pasted at 512 (or trained with
    another theta weight) loads as the preset's weights and keeps its own settings; another
    crop size does not."""
    shipped = facezoo.load("stn_icnn_celebamask_lite", compile=False)
    config = {**shipped.get_config(), "paste_size": None, "loss_weights": {"theta": 100.0}}
    other = STNiCNN.from_config(config)
    other.set_weights(shipped.get_weights())
    save_checkpoint(other, tmp_path / "mine.npz")
    loaded = facezoo.load("stn_icnn_celebamask_lite", weights=str(tmp_path / "mine.npz"), compile=False)
    assert loaded.paste_size == (512, 512) and loaded.loss_weights["theta"] == 100.0
    save_checkpoint(STNiCNN.from_config({**config, "crop_size": [31, 31]}), tmp_path / "other.npz")
    with pytest.raises(ValueError, match="holds a different model"):
        facezoo.load("stn_icnn_celebamask_lite", weights=str(tmp_path / "other.npz"), compile=False)

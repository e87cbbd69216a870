"""Presets, facezoo.load and weights verification."""

import dataclasses
import shutil

import numpy as np
import pytest

import facezoo
from facezoo import registry
from facezoo.checkpoints import save_checkpoint
from facezoo.models import ICNN, STNiCNN
from facezoo.registry import UnknownModelError, WeightsUnavailableError


def test_list_models():
    assert facezoo.list_models() == ["icnn_lfw", "stn_icnn_celebamask", "stn_icnn_helen"]
    assert facezoo.list_models(task="landmarks") == []
    assert "icnn_lfw" in facezoo.list_models(task="parsing")


def test_unknown_name_lists_the_closest():
    with pytest.raises(UnknownModelError, match="unknown model 'stn_icnn_celeba'. Did you mean 'stn_icnn_celebamask'"):
        facezoo.load("stn_icnn_celeba")


def test_preset_without_weights_says_why_and_how_to_train():
    with pytest.raises(WeightsUnavailableError, match=r"(?s)no published weights.*HELEN.*recipes/stn_icnn_helen.py"):
        facezoo.load("stn_icnn_helen")
    model = facezoo.load("stn_icnn_helen", weights=None, compile=False)  # the architecture is there
    assert isinstance(model, STNiCNN) and model.class_names[4] == "l_eye"


@pytest.fixture
def tiny_preset(tmp_path, monkeypatch):
    preset = dataclasses.replace(
        registry.PRESETS["icnn_lfw"], name="tiny", input_size=(32, 32), weights_file="tiny.npz",
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


def test_a_built_wheel_carries_the_weights(tmp_path):
    """pip builds a wheel whose facezoo/weights holds every shipped checkpoint and card."""
    import subprocess
    import sys
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
    assert "facezoo/registry.py" in names and "facezoo/models/stn_icnn.py" in names

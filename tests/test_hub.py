"""Hugging Face Hub round trip against a Hub-compatible server on 127.0.0.1."""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import facezoo
from facezoo import hub, registry
from facezoo.registry import WeightsUnavailableError
from hub_server import validate_card


@pytest.fixture
def hub_only_preset(monkeypatch):
    """icnn_lfw as if the package shipped no weights: only its Hub repo can provide them."""
    preset = dataclasses.replace(registry.PRESETS["icnn_lfw"], hub_repo="facezoo-test/icnn_lfw")
    monkeypatch.setitem(registry.PRESETS, "icnn_lfw", preset)
    return preset


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_publish_then_load_in_a_fresh_process(hub_env, tmp_path):
    url = hub.publish("icnn_lfw", "facezoo-test/icnn_lfw")
    assert url.startswith(hub_env.url) and ("POST", "/api/validate-yaml") in hub_env.requests
    files = hub_env.repos["facezoo-test/icnn_lfw"]["files"]
    assert set(files) == {"icnn_lfw.npz", "config.json", "README.md"}
    card = files["README.md"].decode()
    assert validate_card(card) == [] and "library_name: facezoo" in card
    assert 'facezoo.load("hf://facezoo-test/icnn_lfw")' in card
    config = json.loads(files["config.json"])
    assert config["sha256"] == registry.PRESETS["icnn_lfw"].sha256 and config["class_names"][2] == "hair"

    face = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    np.save(tmp_path / "face.npy", face)
    script = textwrap.dedent(f"""
        import numpy as np, facezoo
        model = facezoo.load("icnn_lfw", weights="hf://facezoo-test/icnn_lfw")
        face = np.load({str(tmp_path / "face.npy")!r})
        np.save({str(tmp_path / "hub_out.npy")!r}, model.predict(model.preprocess(face), verbose=0))
    """)
    result = subprocess.run([sys.executable, "-c", script], env=dict(os.environ), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    local = facezoo.load("icnn_lfw", compile=False)
    np.testing.assert_array_equal(np.load(tmp_path / "hub_out.npy"), local.predict(local.preprocess(face), verbose=0))
    cached = list((tmp_path / "hf_cache").glob("models--facezoo-test--icnn_lfw/snapshots/*/icnn_lfw.npz"))
    assert len(cached) == 1, "the download went into the standard Hub cache layout"


def test_default_weights_come_from_the_cache_then_the_hub(hub_env, hub_only_preset, monkeypatch, tmp_path):
    hub.publish("icnn_lfw", hub_only_preset.hub_repo)
    monkeypatch.setattr(registry, "WEIGHTS_DIRS", (str(tmp_path / "nothing"),))  # as a package without weights
    hub_env.requests.clear()
    facezoo.load("icnn_lfw", compile=False)
    assert ("GET", "/facezoo-test/icnn_lfw/resolve/main/icnn_lfw.npz") in hub_env.requests
    hub_env.requests.clear()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_free_port()}")  # the Hub is gone: the cache serves
    facezoo.load("icnn_lfw", compile=False)
    assert hub_env.requests == []


@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "closed port", "unroutable"])
def test_no_network_and_nothing_cached_fails_within_a_second(hub_only_preset, monkeypatch, tmp_path, how):
    monkeypatch.setattr(registry, "WEIGHTS_DIRS", (str(tmp_path / "nothing"),))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    endpoint = f"http://127.0.0.1:{_free_port()}" if how == "closed port" else "http://10.255.255.1"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as error:
        facezoo.load("icnn_lfw", compile=False)
    assert time.perf_counter() - start < 1.0
    message = str(error.value)
    assert "HF_HUB_OFFLINE" in message and str(tmp_path / "empty_cache") in message and "icnn_lfw.npz" in message


def test_a_tampered_hub_file_is_refused(hub_env, hub_only_preset, monkeypatch, tmp_path):
    hub.publish("icnn_lfw", hub_only_preset.hub_repo)
    files = hub_env.repos[hub_only_preset.hub_repo]["files"]
    files["icnn_lfw.npz"] = files["icnn_lfw.npz"][:-10] + b"0123456789"
    hub_env.snapshots[(hub_only_preset.hub_repo, hub_env.repos[hub_only_preset.hub_repo]["commits"][-1])] = files
    monkeypatch.setattr(registry, "WEIGHTS_DIRS", (str(tmp_path / "nothing"),))
    with pytest.raises(WeightsUnavailableError, match="does not match the registry's"):
        facezoo.load("icnn_lfw", compile=False)
    with pytest.raises(WeightsUnavailableError, match="does not match"):
        facezoo.load("icnn_lfw", weights=f"hf://{hub_only_preset.hub_repo}", compile=False)


def test_fine_tuned_weights_publish_and_load_with_their_own_sha(hub_env, tmp_path):
    from facezoo.checkpoints import save_checkpoint

    model = facezoo.load("icnn_lfw", compile=False)
    model.set_weights([w * 0.5 for w in model.get_weights()])
    path = save_checkpoint(model, tmp_path / "mine.npz")
    from facezoo.cli import main

    assert main(["publish", "icnn_lfw", "--repo", "me/mine", "--weights", str(path)]) == 0
    loaded = facezoo.load("icnn_lfw", weights="hf://me/mine", compile=False)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-3)
    commit = hub_env.repos["me/mine"]["commits"][-1]
    assert isinstance(facezoo.load("icnn_lfw", weights=f"hf://me/mine@{commit}", compile=False), type(model))


def test_a_fine_tune_with_its_own_classes_publishes_and_loads_without_a_registry_entry(hub_env, tmp_path):
    five = ["background", "skin", "brows", "eyes", "mouth"]
    model = facezoo.load("icnn_lfw", class_names=five, compile=False)
    model.save(tmp_path / "five.keras")
    from facezoo.cli import main

    assert main(["publish", str(tmp_path / "five.keras"), "--repo", "me/five"]) == 0
    config = json.loads(hub_env.repos["me/five"]["files"]["config.json"])
    assert config["info"]["class_names"] == five and config["preset"] == model.info.name
    assert validate_card(hub_env.repos["me/five"]["files"]["README.md"].decode()) == []
    script = textwrap.dedent("""
        import json, facezoo
        model = facezoo.load("hf://me/five")
        print("INFO", json.dumps({"names": model.class_names, "alignment": model.info.alignment,
                                  "classes": model.output_shape[-1]}))
    """)
    result = subprocess.run([sys.executable, "-c", script], env=dict(os.environ), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout.split("INFO", 1)[1])
    assert info["names"] == five and info["classes"] == 5 and info["alignment"] == model.info.alignment


def test_hub_errors_are_clear(hub_env):
    for bad in ("hf://just-a-name", "hf://a/b/c", "hf://"):
        with pytest.raises(ValueError, match="hf://ORG/REPO"):
            facezoo.load("icnn_lfw", weights=bad)
    with pytest.raises(WeightsUnavailableError, match="RepositoryNotFound|EntryNotFound"):
        facezoo.load("icnn_lfw", weights="hf://nobody/nothing")
    with pytest.raises(FileNotFoundError, match="facezoo .npz checkpoint"):
        hub.publish("icnn_lfw", "me/x", weights="weights.h5")
    with pytest.raises(registry.UnknownModelError):
        hub.publish("icnn_lfv", "me/x")


def test_card_validator_catches_bad_metadata():
    assert validate_card("# no metadata\n") != []
    assert validate_card("---\nlicense: other\ntags: [a]\n---\n") != []  # license_name missing
    assert validate_card("---\nlicense: other\nlicense_name: x\ntags: a\n---\n") != []  # tags not a list
    assert validate_card("---\nlicense: apache-2.0\ntags: [a]\n---\n") == []


def test_a_preset_that_shares_a_checkpoint_publishes_and_loads_with_its_own_settings(hub_env):
    """adc_landmarks_300w_fast is adc_landmarks_300w's file under other inference settings:
    publishing it must not hand out the slow model under the fast name."""
    hub.publish("adc_landmarks_300w_fast", "me/fast")
    fast = facezoo.load("hf://me/fast", compile=False)
    assert (fast.flip_test, fast.refine_passes, fast.info.name) == (False, 1, "adc_landmarks_300w_fast")
    hub.publish("adc_landmarks_300w", "me/slow")  # files that match their preset go up unchanged
    config = json.loads(hub_env.repos["me/slow"]["files"]["config.json"])
    assert config["sha256"] == registry.PRESETS["adc_landmarks_300w"].sha256
    # either file fits either preset as its weights=, keeping the file's own settings (as for
    # any checkpoint given so); their names differ, which does not make them other models
    mixed = facezoo.load("adc_landmarks_300w", weights="hf://me/fast", compile=False)
    assert (mixed.flip_test, mixed.refine_passes) == (False, 1)
    slow = facezoo.load("adc_landmarks_300w_fast", weights="hf://me/slow", compile=False)
    assert (slow.flip_test, slow.refine_passes) == (True, 2)
    for a, b in zip(slow.get_weights(), fast.get_weights()):
        np.testing.assert_array_equal(a, b)

"""Compact float16 checkpoints round-trip every facezoo model."""

import numpy as np
import pytest

from facezoo.export import model_input_shape
from facezoo.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from facezoo.models import ICNN
from helpers import small_stn


@pytest.mark.parametrize("build", [lambda: ICNN(num_classes=3, input_shape=(32, 32, 3), channels=(4, 8, 8, 8)),
                                   lambda: small_stn(crop_scale=1.5)])
def test_checkpoint_round_trip(tmp_path, build):
    model = build()
    x = np.random.default_rng(0).uniform(size=(1, *model_input_shape(model)[1:])).astype("float32")
    path = save_checkpoint(model, tmp_path / "m.npz")
    loaded = load_checkpoint(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    assert all(w.dtype == np.float32 for w in loaded.get_weights())
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(b, a.astype(np.float16).astype(np.float32))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=5e-2)
    assert list(tmp_path.iterdir()) == [tmp_path / "m.npz"]


def test_bad_checkpoints_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a facezoo checkpoint"):
        load_checkpoint(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match=".npz"):
        save_checkpoint(ICNN(num_classes=2, input_shape=(16, 16, 3)), tmp_path / "m.h5")


def test_atomic_output_leaves_nothing_on_failure_and_replaces_on_success(tmp_path):
    from facezoo.utils import atomic_output

    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temp:
            open(temp, "w").write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    with atomic_output(target) as temp:
        open(temp, "w").write("new")
    assert target.read_text() == "new" and oct(target.stat().st_mode & 0o777) == "0o644"

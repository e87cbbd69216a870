"""Bad checkpoints are refused; atomic writes. (Round trips of every architecture: test_architectures.py.)"""

import pytest

from facezoo.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from facezoo.models import ICNN


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

"""The models are keras.ops only: they build, run and train one step on TF and JAX."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    import keras, numpy as np
    from facezoo.models import ICNN
    from helpers import small_stn
    assert keras.backend.backend() == {backend!r}, keras.backend.backend()
    rng = np.random.default_rng(0)

    icnn = ICNN(num_classes=3, input_shape=(32, 32, 3), channels=(4, 8, 8, 8))
    icnn.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = rng.uniform(size=(2, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 3, (2, 32, 32)).astype("int32")
    assert icnn(x).shape == (2, 32, 32, 3)
    before = [w.copy() for w in icnn.get_weights()]
    loss = float(icnn.train_on_batch(x, y))
    assert np.isfinite(loss), loss
    assert any(not np.allclose(a, b) for a, b in zip(before, icnn.get_weights()))

    stn = small_stn()
    stn.compile(optimizer="adam")
    x = rng.uniform(size=(2, 96, 96, 3)).astype("float32")
    y = rng.integers(0, 11, (2, 96, 96)).astype("int32")
    assert stn.predict(x, verbose=0).shape == (2, 96, 96, 11)
    before = keras.ops.convert_to_numpy(stn.localizer.head.kernel).copy()
    loss = float(stn.train_on_batch(x, y))
    assert np.isfinite(loss), loss
    assert not np.allclose(before, keras.ops.convert_to_numpy(stn.localizer.head.kernel)), "theta got no gradient"
    print("BACKEND-OK", keras.backend.backend(), loss)
    """
)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_models_forward_and_train_step(backend):
    if backend == "jax":
        pytest.importorskip("jax")
    tests = str(Path(__file__).parent)
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(tests=tests, backend=backend)],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"BACKEND-OK {backend}" in result.stdout

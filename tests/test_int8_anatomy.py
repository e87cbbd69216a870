"""The int8 speed benchmark's helpers (benchmarks/int8_anatomy.py, benchmarks/timing.py):
convolution work counted from a TFLite file's tensor shapes, and runners timed in turn."""

import keras
import pytest

from helpers import script_module


@pytest.fixture(scope="module")
def anatomy():
    return script_module("benchmarks", "int8_anatomy")


def test_convolution_macs_are_counted_from_the_file(anatomy, tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)             # 8*8*4 outputs x 3*3*3 = 6,912
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)            # 8*8*4 outputs x 3*3 = 2,304
    x = keras.layers.UpSampling2D(2, interpolation="bilinear")(x)     # 16*16*4 = 1,024 elements, no MACs
    model = keras.Model(inputs, x)
    path = str(tmp_path / "tiny.tflite")
    face = keras.random.uniform((1, 8, 8, 3), seed=1)
    anatomy._export(model, path, 1, None, keras.ops.convert_to_numpy(face))
    macs, other_share = anatomy._anatomy(path)
    assert macs == 6912 + 2304
    assert other_share == pytest.approx(1024 / (256 + 256 + 1024))


def test_runners_are_timed_in_turn():
    timing = script_module("benchmarks", "timing")
    calls = []
    ms = timing.interleaved_median_ms({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 4, warmup=2)
    assert calls == ["a", "b"] * 6
    assert set(ms) == {"a", "b"} and all(v >= 0 for v in ms.values())

"""Exports load in their own runtime, match Keras, use builtin TFLite ops, and fail cleanly."""

import os

import numpy as np
import pytest

import facezoo
from facezoo.export import ExportError
from facezoo.models import ICNN, STNiCNN

FORMATS = [("tflite", ".tflite"), ("onnx", ".onnx"), ("saved_model", "")]


@pytest.fixture(scope="module")
def icnn():
    return ICNN(num_classes=3, input_shape=(32, 32, 3), channels=(4, 8, 8, 8))


@pytest.mark.parametrize("fmt, ext", FORMATS)
def test_icnn_exports_and_matches_keras(icnn, tmp_path, fmt, ext):
    path = tmp_path / f"icnn{ext}"
    result = facezoo.export(icnn, path, format=fmt, verbose=False)
    assert os.path.exists(path)
    assert result.max_abs_diff <= 1e-4
    assert not any(p.name.startswith(".facezoo-export-") for p in tmp_path.iterdir())
    if fmt == "tflite":
        assert "CONV_2D" in result.ops
        assert not [op for op in result.ops if op.startswith("Flex")]


def test_stn_icnn_with_defaults_exports_to_tflite_and_onnx(tmp_path):
    """The whole default STN-iCNN (512x512 faces) on phones and in onnxruntime."""
    model = STNiCNN()
    face = np.random.default_rng(0).uniform(size=(1, 512, 512, 3)).astype("float32")
    tflite = facezoo.export(model, tmp_path / "stn.tflite", format="tflite", sample_inputs=face, verbose=False)
    assert tflite.max_abs_diff <= 1e-4
    assert "GATHER" in tflite.ops and not [op for op in tflite.ops if op.startswith("Flex")]
    onnx = facezoo.export(model, tmp_path / "stn.onnx", format="onnx", sample_inputs=face, verbose=False)
    assert onnx.max_abs_diff <= 1e-4

    # The ONNX file keeps a dynamic batch.
    import onnxruntime as ort

    session = ort.InferenceSession(str(tmp_path / "stn.onnx"), providers=["CPUExecutionProvider"])
    batch = np.concatenate([face, face[:, ::-1]], axis=0)
    out = session.run(None, {session.get_inputs()[0].name: batch})[0]
    np.testing.assert_allclose(out, model.predict(batch, verbose=0), atol=1e-4)


def test_failed_check_leaves_nothing_on_disk(icnn, tmp_path):
    path = tmp_path / "icnn.onnx"
    with pytest.raises(ExportError, match="differs from the Keras model"):
        facezoo.export(icnn, path, format="onnx", atol=-1.0, verbose=False)
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_unknown_format_and_wrong_extension(icnn, tmp_path):
    with pytest.raises(ValueError, match="unknown export format 'coreml'"):
        facezoo.export(icnn, tmp_path / "m.mlmodel", format="coreml")
    with pytest.raises(ValueError, match="'.tflite' file"):
        facezoo.export(icnn, tmp_path / "m.onnx", format="tflite")
    assert list(tmp_path.iterdir()) == []

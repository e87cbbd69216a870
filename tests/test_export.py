"""Exports load in their own runtime, match Keras, use builtin TFLite ops, and fail cleanly."""

import os
import shutil

import keras
import numpy as np
import pytest

import facezoo
from facezoo.export import ExportError
from facezoo.models import ICNN, STNiCNN

# TFLite and ONNX files of every architecture are checked in test_architectures.py.
FORMATS = [("saved_model", "")]


@pytest.fixture(scope="module")
def icnn():
    # Seeded: an untrained model's int8 label agreement depends on its random weights
    # (unseeded, it fell below the 0.9 check in about one run in several).
    keras.utils.set_random_seed(0)
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


@pytest.mark.parametrize("quantize", ["fp16", "int8"])
def test_quantized_tflite_is_checked_by_label_agreement(icnn, tmp_path, quantize):
    faces = np.random.default_rng(1).uniform(size=(8, 32, 32, 3)).astype("float32")
    result = facezoo.export(icnn, tmp_path / "q.tflite", format="tflite", quantize=quantize,
                            representative_data=faces, sample_inputs=faces[:2], verbose=False)
    assert result.agreement >= {"fp16": 0.99, "int8": 0.9}[quantize]
    assert not [op for op in result.ops if op.startswith("Flex")]
    if quantize == "int8":
        assert "QUANTIZE" in result.ops and "DEQUANTIZE" in result.ops and "CONV_2D" in result.ops
    float_size = facezoo.export(icnn, tmp_path / "f.tflite", format="tflite", verbose=False)
    assert os.path.getsize(tmp_path / "q.tflite") < os.path.getsize(float_size.path)


def test_int8_without_real_faces_warns(icnn, tmp_path):
    with pytest.warns(UserWarning, match="representative_data of real faces"):
        facezoo.export(icnn, tmp_path / "q.tflite", quantize="int8", verbose=False)


def test_int8_icnn_lfw_on_real_faces_keeps_its_labels(data_root, tmp_path):
    """Calibrated on 32 LFW-PL validation faces, checked on 16 others: >= 99 % of the
    pixels keep the float model's label. The CLI does the same from a folder of photos."""
    from facezoo.cli import main
    from facezoo.data import LFWPartLabels

    faces = LFWPartLabels(data_root / "lfw_pl", "val")
    model = facezoo.load("icnn_lfw", compile=False)
    batch = model.preprocess(np.stack([faces[i].image for i in range(48)]))
    result = facezoo.export(model, tmp_path / "q.tflite", quantize="int8", representative_data=batch[:32],
                            sample_inputs=batch[32:], verbose=False)
    assert result.agreement >= 0.99
    assert os.path.getsize(result.path) < 0.5 * os.path.getsize(facezoo.export(model, tmp_path / "f.tflite").path)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(6):
        shutil.copy(faces.records[i][1], folder)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    assert main(["export", "icnn_lfw", "--quantize", "int8", "--calibration", str(folder),
                 "-o", str(tmp_path / "cli.tflite")]) == 0
    assert (tmp_path / "cli.tflite").exists()


@pytest.mark.parametrize("fmt, ext", FORMATS)
def test_exports_carry_metadata(icnn, tmp_path, fmt, ext):
    path = tmp_path / f"m{ext}"
    facezoo.export(icnn, path, format=fmt, verbose=False)
    meta = facezoo.export.read_metadata(path)  # the documented spelling: facezoo.export is the module too
    assert meta["input_shape"] == [32, 32, 3] and meta["model"] == icnn.name and meta["class_names"][0] == "background"


def test_quantize_only_for_tflite(icnn, tmp_path):
    with pytest.raises(ValueError, match="for TFLite files"):
        facezoo.export(icnn, tmp_path / "m.onnx", format="onnx", quantize="fp16")
    with pytest.raises(ValueError, match="quantize must be"):
        facezoo.export(icnn, tmp_path / "m.tflite", quantize="int4")


def test_a_runtime_failure_is_an_export_error_not_a_crash(tmp_path):
    from facezoo.export import _run_litert

    path = tmp_path / "broken.tflite"
    path.write_bytes(b"TFL3" + bytes(200))
    with pytest.raises(ExportError, match="LiteRT runtime failed"):
        _run_litert(str(path), np.zeros((1, 8, 8, 3), "float32"))

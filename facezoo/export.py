"""Export a facezoo model to TFLite (builtin ops only), ONNX or a TF SavedModel.

Every export is verified before it is kept: the file is written under a temporary name,
loaded in its own runtime (ai-edge-litert, onnxruntime, TensorFlow), run on sample
inputs and compared with the Keras model. A file that fails the check (or any error on
the way) is deleted, so nothing half-written is left behind.

Example:
    >>> import facezoo
    >>> from facezoo.models import ICNN
    >>> result = facezoo.export(ICNN(num_classes=3), "icnn.tflite", format="tflite")
    >>> result.max_abs_diff <= result.atol
    True
"""

import os
import shutil
import tempfile
from dataclasses import dataclass, field

import numpy as np

FORMATS = {"tflite": ".tflite", "onnx": ".onnx", "saved_model": ""}


class ExportError(RuntimeError):
    """The exported file did not load or did not match the Keras model."""


@dataclass
class ExportResult:
    path: str
    format: str
    max_abs_diff: float
    atol: float
    ops: list = field(default_factory=list)

    def __str__(self):
        return (
            f"exported {self.format} to {self.path}: max |runtime - keras| = "
            f"{self.max_abs_diff:.2e} (tolerance {self.atol:.0e})"
        )


def model_input_shape(model):
    """``(None, H, W, C)`` of a facezoo model (functional or subclassed)."""
    inputs = getattr(model, "inputs", None)
    if inputs:
        return (None, *tuple(inputs[0].shape[1:]))
    size = getattr(model, "input_size", None)
    if size is None:
        raise ValueError(f"cannot tell the input shape of {type(model).__name__}: it has no inputs and no input_size")
    return (None, *size, 3)


def export(model, path, format="tflite", *, sample_inputs=None, atol=1e-4, verbose=True):
    """Write ``model`` to ``path`` in ``format`` and verify it against Keras.

    Args:
        model: a built Keras model (inputs ``(B, H, W, C)`` float32).
        path: output file (``.tflite``/``.onnx``) or directory (``saved_model``).
        format: ``"tflite"`` (builtin ops only), ``"onnx"`` (opset 17) or ``"saved_model"``.
        sample_inputs: array ``(B, H, W, C)`` for the parity check; seeded uniform noise
            in [0, 1] (batch 2) when omitted.
        atol: largest accepted ``max |runtime - keras|``.
    Returns:
        :class:`ExportResult` with the measured difference.
    Raises:
        ValueError: unknown format or wrong extension.
        ExportError: the file did not load or differs from Keras by more than ``atol``
            (the file is deleted).
    """
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    path = os.fspath(path)
    suffix = FORMATS[format]
    if suffix and not path.endswith(suffix):
        raise ValueError(f"a {format} export must be written to a '{suffix}' file, got {path!r}")

    import keras

    shape = model_input_shape(model)
    if sample_inputs is None:
        sample_inputs = np.random.default_rng(0).uniform(0, 1, (2, *shape[1:])).astype("float32")
    sample_inputs = np.asarray(sample_inputs, dtype="float32")
    expected = keras.ops.convert_to_numpy(model(sample_inputs, training=False))

    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix=".facezoo-export-", dir=parent)
    staged = os.path.join(workdir, "model" + suffix)
    try:
        signature = [keras.InputSpec(shape=shape, dtype="float32")]
        _write(model, staged, format, signature)
        actual, ops = _run(staged, format, sample_inputs)
        if format == "tflite":
            flex = sorted({op for op in ops if op.startswith("Flex") or op == "DELEGATE"})
            if flex:
                raise ExportError(f"the TFLite file needs non-builtin ops {flex}")
        diff = float(np.max(np.abs(actual - expected)))
        if not np.isfinite(diff) or diff > atol:
            raise ExportError(
                f"{format} export differs from the Keras model: max |diff| = {diff:.3e} > {atol:.0e}"
            )
        _replace(staged, path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = ExportResult(path, format, diff, atol, ops)
    if verbose:
        print(result)
    return result


def _write(model, path, format, signature):
    if format == "tflite":
        import tensorflow as tf

        model.export(
            path,
            format="litert",
            verbose=False,
            input_signature=signature,
            target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]},
        )
    elif format == "onnx":
        model.export(path, format="onnx", verbose=False, input_signature=signature, opset_version=17)
    else:
        model.export(path, format="tf_saved_model", verbose=False, input_signature=signature)


def _run(path, format, inputs):
    """Run the exported file in its own runtime; returns (outputs, op names)."""
    if format == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        from ai_edge_litert.interpreter import OpResolverType

        interpreter = Interpreter(model_path=path)
        detail = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(detail["index"], inputs.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(detail["index"], inputs)
        interpreter.invoke()
        output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        # Op names from an interpreter without XNNPACK, which would show as DELEGATE.
        plain = Interpreter(
            model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
        return output, [op["op_name"] for op in plain._get_ops_details()]
    if format == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        output = session.run(None, {name: inputs})[0]
        return output, [node.op_type for node in _onnx_nodes(path)]
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    return np.asarray(loaded.serve(tf.constant(inputs))), []


def _onnx_nodes(path):
    import onnx

    return onnx.load(path).graph.node


def _replace(staged, path):
    """Move the verified export into place (a directory replaces a directory)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    os.replace(staged, path)

"""Export a facezoo model to TFLite (builtin ops only), ONNX or a TF SavedModel.

Every export is verified before it is kept: the file is written under a temporary name,
loaded in its own runtime (ai-edge-litert, onnxruntime, TensorFlow), run on sample
inputs and compared with the Keras model. A file that fails the check (or any error on
the way) is deleted, so nothing half-written is left behind.

TFLite files can be quantized (``"fp16"`` weights; ``"dynamic"``: int8 weights, activations
quantized at run time, no calibration; or ``"int8"`` with a representative set of faces) and every file carries facezoo's metadata (model name, class names and
colours, input size, normalisation, license) as JSON: in a TFLite file, the entry named
``facezoo`` of the flatbuffer's ``metadata`` table; in an ONNX file, the model property
``facezoo``; next to a SavedModel, ``facezoo.json``. :func:`read_metadata` reads it back.

Example:
    >>> import facezoo
    >>> result = facezoo.export("icnn_lfw", "icnn_lfw.tflite", format="tflite", quantize="fp16")
    >>> facezoo.export.read_metadata("icnn_lfw.tflite")["class_names"]
    ['background', 'skin', 'hair']

``facezoo.export`` is this module, and calling it calls :func:`export`.
"""

import json
import os
import shutil
import sys
import tempfile
import types
import warnings
from dataclasses import dataclass, field

import numpy as np

from facezoo.outputs import EXPORT_PREFIX, remove_stale_temporaries, temp_prefix

FORMATS = {"tflite": ".tflite", "onnx": ".onnx", "saved_model": ""}
QUANTIZATIONS = (None, "fp16", "dynamic", "int8")
#: Quantized files are checked by how often they agree with Keras on the arg-max label.
# (dynamic and int8 alike compute in int8; on the noise of the default sample inputs, where
# labels are near-ties, a dynamic STN-iCNN agrees on 0.97-0.98 and keeps 99.8 % on real faces.)
MIN_AGREEMENT = {"fp16": 0.99, "dynamic": 0.90, "int8": 0.90}
#: ...and, for parsers, by every class the Keras model gives at least LOST_CLASS_SHARE of the
# pixels keeping at least LOST_CLASS_KEPT of them: calibrated int8 STN-iCNNs keep 92-96 % of
# all labels (background, skin, hair) and none of the brows, eyes and lips; every class of the
# other files keeps 0.856 or more on real faces and 0.55 or more on the default noise
# (benchmarks/quantized_class_agreement.py).
LOST_CLASS_SHARE, LOST_CLASS_KEPT = 0.001, 0.5
#: A landmark model's quantized file (its outputs are points, which have no label to agree on)
#: may move them by at most this fraction of the input's longer side on average: 2 px at 512.
#: Dynamic int8 ADC files move them 0.80 px on real faces (the fast preset's validation NME 3.427 ->
#: 3.494 %) and 1.11 px on the default noise; calibrated int8 ones by tens to hundreds of pixels (the crops'
#: positions and the soft-argmax do not survive 8 bits).
MAX_POINT_SHIFT = 0.004
#: What a refused int8 file's error suggests instead.
DYNAMIC_HINT = ("; try dynamic quantization (quantize='dynamic', --quantize dynamic), which needs no calibration "
                "and keeps activations in float")
METADATA_NAME = "facezoo"
#: What a SavedModel export puts in its folder: TensorFlow's entries and the metadata.
SAVED_MODEL_ENTRIES = frozenset({"saved_model.pb", "fingerprint.pb", "variables", "assets", "facezoo.json"})


class ExportError(RuntimeError):
    """The exported file did not load or did not match the Keras model."""


@dataclass
class ExportResult:
    path: str
    format: str
    max_abs_diff: float
    atol: float
    ops: list = field(default_factory=list)
    quantize: str = None
    agreement: float = None
    point_shift: float = None  # landmark models: mean point shift from Keras, in pixels

    def __str__(self):
        if self.quantize and self.point_shift is not None:
            return (
                f"exported {self.format} ({self.quantize}) to {self.path}: points {self.point_shift:.2f} px from "
                f"keras's on average (tolerance {MAX_POINT_SHIFT:.1%} of the input side), max |diff| "
                f"{self.max_abs_diff:.2e}"
            )
        if self.quantize:
            return (
                f"exported {self.format} ({self.quantize}) to {self.path}: arg-max agreement with keras "
                f"{self.agreement:.4f} (at least {MIN_AGREEMENT[self.quantize]}), max |diff| {self.max_abs_diff:.2e}"
            )
        return (
            f"exported {self.format} to {self.path}: max |runtime - keras| = "
            f"{self.max_abs_diff:.2e} (tolerance {self.atol:.1e})"
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


def model_metadata(model, quantize=None):
    """The metadata a file of ``model`` carries: its :class:`~facezoo.info.ModelInfo`
    (task, class names and colours, input size, normalisation, alignment template, side
    convention, output) for any facezoo model, a fine-tuned one included, and how the file
    was quantized (``"none"``, ``"fp16"``, ``"dynamic"`` or ``"int8"``)."""
    import facezoo

    shape = model_input_shape(model)
    meta = {"facezoo_version": facezoo.__version__, "model": model.name, "input_shape": list(shape[1:]),
            "input": "float32 RGB, batch first (B, H, W, 3)", "quantization": quantize or "none"}
    info = getattr(model, "info", None)
    if info is not None:
        from facezoo.info import OUTPUTS

        meta.update(info.to_dict())
        meta.update(model=info.name, normalization=info.preprocessing, output_description=OUTPUTS[info.output])
    return meta


def export(model, path, format=None, *, quantize=None, representative_data=None, sample_inputs=None,
           atol=1e-4, rtol=1e-5, verbose=True):
    """Write ``model`` to ``path`` in ``format`` and verify it against Keras.

    Args:
        model: a built Keras model (inputs ``(B, H, W, C)`` float32), or a preset name
            (its published weights are loaded).
        path: output file (``.tflite``/``.onnx``) or directory (``saved_model``).
        format: ``"tflite"`` (builtin ops only), ``"onnx"`` (opset 17) or ``"saved_model"``;
            by default from ``path``'s suffix (:func:`check_arguments`).
        quantize: TFLite only: ``None``, ``"fp16"`` (half-size weights), ``"dynamic"``
            (int8 weights, a quarter of the size; XNNPACK quantizes each convolution's
            input at run time and runs it in int8, so no calibration and float thetas
            and probabilities: the int8 file for models whose activations calibrate
            badly, such as STN-iCNN) or ``"int8"`` (integer kernels, float
            input/output, calibrated on ``representative_data``).
        representative_data: array ``(N, H, W, C)`` of real, preprocessed faces for int8
            calibration (a few dozen are enough). The default is ``sample_inputs``, which
            are noise unless given: pass real faces (``facezoo export --calibration DIR``).
        sample_inputs: array ``(B, H, W, C)`` for the parity check; two seeded random
            images with a photo's local statistics (:func:`default_sample_inputs`) when
            omitted.
        atol, rtol: float exports must satisfy ``max |runtime - keras| <= atol + rtol *
            max |keras|`` (``rtol`` matters for outputs in pixels, like landmarks); quantized files
            must agree with Keras on the arg-max label of at least 99 % (fp16) or
            90 % (dynamic, int8) of the outputs (of a parser's non-background pixels too),
            and a parser's file must keep at least half of the pixels of every class Keras
            gives 0.1 % of them (:func:`lost_classes`: a file that lost the thin facial parts
            still agrees on most pixels); a landmark model's file must keep its points within
            ``MAX_POINT_SHIFT`` of the input side of Keras's on average (calibrated int8 ADC
            and holistic files do not: use ``"dynamic"``).
    Returns:
        :class:`ExportResult` with the measured difference.
    Raises:
        ValueError: unknown format or wrong extension (:func:`check_arguments`).
        FileExistsError: ``path`` would replace something facezoo did not write
            (:func:`check_target`); checked before any work.
        ExportError: the file did not load or differs from Keras by more than ``atol``
            (the file is deleted).
    """
    path = os.fspath(path)
    format = check_arguments(path, format, quantize)

    import keras

    if isinstance(model, str):
        from facezoo.registry import load

        model = load(model, compile=False)
    shape = model_input_shape(model)
    if sample_inputs is None:
        sample_inputs = default_sample_inputs(shape[1:])
    sample_inputs = np.asarray(sample_inputs, dtype="float32")
    fixed = [(a, b) for a, b in zip(sample_inputs.shape[1:], shape[1:]) if b is not None]
    if sample_inputs.ndim != len(shape) or any(a != b for a, b in fixed):
        raise ValueError(f"sample_inputs {sample_inputs.shape} do not fit the file's input {shape}: an exported file "
                         "takes faces at the model's input size (LandmarkDetector/FaceParser.face_inputs give "
                         "photos' faces so)")
    expected = keras.ops.convert_to_numpy(model(sample_inputs, training=False))
    tolerance = atol + rtol * float(np.max(np.abs(expected)))

    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    remove_stale_temporaries(parent, EXPORT_PREFIX)  # what an export killed there left
    workdir = tempfile.mkdtemp(prefix=temp_prefix(EXPORT_PREFIX), dir=parent)
    staged = os.path.join(workdir, "model" + FORMATS[format])
    try:
        signature = [keras.InputSpec(shape=shape, dtype="float32")]
        calibration = sample_inputs if representative_data is None else np.asarray(representative_data, "float32")
        if quantize == "int8" and representative_data is None:
            warnings.warn("int8 export calibrated on the sample inputs (noise unless given); pass "
                          "representative_data of real faces for a useful int8 model", stacklevel=2)
        _write(model, staged, format, signature, quantize, calibration)
        _write_metadata(staged, format, model_metadata(model, quantize))
        actual, ops = _run(staged, format, sample_inputs)
        if format == "tflite":
            flex = sorted({op for op in ops if op.startswith("Flex") or op == "DELEGATE"})
            if flex:
                raise ExportError(f"the TFLite file needs non-builtin ops {flex}")
        diff = float(np.max(np.abs(actual - expected)))
        agreement = point_shift = None
        if quantize and getattr(model, "OUTPUT", None) == "points":
            point_shift = float(np.mean(np.linalg.norm(actual - expected, axis=-1)))
            limit = MAX_POINT_SHIFT * max(sample_inputs.shape[1:3])
            if not np.isfinite(point_shift) or point_shift > limit:
                raise ExportError(
                    f"{quantize} TFLite export moves the points {point_shift:.1f} px from the Keras model's on "
                    f"average, over {limit:.1f} px ({MAX_POINT_SHIFT:.1%} of the input side)"
                    + (DYNAMIC_HINT if quantize == "int8" else "")
                )
        elif quantize:
            same = np.argmax(actual, -1) == np.argmax(expected, -1)
            agreement = overall = float(np.mean(same))
            parts = np.argmax(expected, -1) != 0
            if actual.ndim == 4 and parts.any():
                # A parser's background dominates its pixels: an int8 file that lost every
                # facial part still agrees on most of them, so the parts must agree too.
                agreement = min(agreement, float(np.mean(same[parts])))
            if agreement < MIN_AGREEMENT[quantize]:
                raise ExportError(
                    f"{quantize} TFLite export agrees with the Keras model on {agreement:.3f} of the labels, "
                    f"below {MIN_AGREEMENT[quantize]}"
                )
            lost = lost_classes(actual, expected) if actual.ndim == 4 else []
            if lost:
                names = getattr(getattr(model, "info", None), "class_names", ()) or ()
                named = [names[c] if c < len(names) else str(c) for c in lost]
                raise ExportError(
                    f"{quantize} TFLite export loses class(es) {', '.join(named)}: under {LOST_CLASS_KEPT:.0%} "
                    f"of their pixels keep the Keras model's label (it agrees on {overall:.3f} of all labels)"
                    + (DYNAMIC_HINT if quantize == "int8" else "")
                )
        elif not np.isfinite(diff) or diff > tolerance:
            raise ExportError(
                f"{format} export differs from the Keras model: max |diff| = {diff:.3e} > {tolerance:.1e}"
            )
        _replace(staged, path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = ExportResult(path, format, diff, tolerance, ops, quantize, agreement, point_shift)
    if verbose:
        print(result)
    return result


def class_agreement(actual, expected, min_share=LOST_CLASS_SHARE):
    """``{class: share of its pixels whose label the file keeps}`` for every class the Keras
    model's arg-max gives at least ``min_share`` of the pixels. ``actual``, ``expected``:
    ``(..., classes)`` scores of the exported file and of Keras."""
    labels, expected_labels = np.argmax(actual, -1), np.argmax(expected, -1)
    shares = {}
    for label in np.unique(expected_labels):
        pixels = expected_labels == label
        if pixels.mean() >= min_share:
            shares[int(label)] = float(np.mean(labels[pixels] == label))
    return shares


def lost_classes(actual, expected, min_share=LOST_CLASS_SHARE, min_kept=LOST_CLASS_KEPT):
    """The classes a parser's exported file loses: those of :func:`class_agreement` of which
    under ``min_kept`` of the pixels keep their label.

    Example:
        >>> lost_classes(file_probabilities, keras_probabilities)   # e.g. [2, 3, 4, 5]: brows and eyes
    """
    return [label for label, kept in class_agreement(actual, expected, min_share).items() if kept < min_kept]


def conversion_options(quantize=None, calibration=None):
    """Keyword arguments for :func:`write_tflite` (or ``model.export(path, format="litert", ...)``):
    builtin ops only.

    ``quantize`` is ``None`` (float32), ``"fp16"``, ``"dynamic"`` or ``"int8"``; for int8, ``calibration``
    is a sequence of samples, each a batch-of-one array (one input) or a list of them (one
    per input).

    Example:
        >>> model.export("m.tflite", format="litert", **conversion_options("int8", [face[None] for face in faces]))
    """
    import tensorflow as tf

    builtins = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize is None:
        return {"target_spec": {"supported_ops": builtins}}
    if quantize == "fp16":
        return {"optimizations": [tf.lite.Optimize.DEFAULT],
                "target_spec": {"supported_ops": builtins, "supported_types": [tf.float16]}}
    if quantize == "dynamic":  # the default optimization without a representative set
        return {"optimizations": [tf.lite.Optimize.DEFAULT], "target_spec": {"supported_ops": builtins}}

    def representative():
        for sample in calibration:
            sample = sample if isinstance(sample, (list, tuple)) else [sample]
            yield [np.asarray(x, "float32") for x in sample]

    # int8 kernels where they exist, float builtins elsewhere; float input/output. The
    # MLIR quantizer refuses iCNN (a nearest upsample feeding a concatenation cannot meet
    # its "same scale" constraint); the older calibrator requantizes there instead.
    return {"optimizations": [tf.lite.Optimize.DEFAULT], "representative_dataset": representative,
            "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]},
            "experimental_new_quantizer": False}


def default_sample_inputs(shape, batch=2, seed=0):
    """Seeded random images in [0, 1] with a photo's local statistics, for parity checks.

    Uniform noise on a grid 8 pixels apart, bilinearly interpolated, plus +-2 % pixel noise:
    neighbouring pixels differ by about 0.05, as in a face photo, where pixel-by-pixel
    uniform noise differs by 0.33 on average. The difference matters for models whose
    sampling positions depend on the input (STN-iCNN's crops): there an output moves with
    the image's gradient times the position, and float32 rounding of the position (two
    runtimes' thetas differ by 1-3 ulps) is amplified to 3e-4 on pixel noise, over the
    check's tolerance, while real faces and these images agree to about 1e-5. Errors of
    an export (a wrong op, a shifted sample, a lost channel) show at any of these inputs.

    Example:
        >>> faces = default_sample_inputs((512, 512, 3))   # (2, 512, 512, 3) float32
    """
    height, width, channels = shape
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (batch, height // 8 + 2, width // 8 + 2, channels))

    def along(axis, size, values):
        position = np.arange(size) / 8.0
        low = np.floor(position).astype(int)
        weight = (position - low).reshape([-1 if a == axis else 1 for a in range(4)])
        return np.take(values, low, axis) * (1 - weight) + np.take(values, low + 1, axis) * weight

    smooth = along(2, width, along(1, height, coarse))
    return np.clip(smooth + rng.uniform(-0.02, 0.02, smooth.shape), 0, 1).astype("float32")


def write_tflite(model, path, signature, **options):
    """Convert ``model(x, training=False)`` to a ``.tflite`` file at ``path`` for ``signature``
    (a list of one ``keras.InputSpec`` per input), with the converter settings ``options``
    (:func:`conversion_options`). No parity check: :func:`export` runs the file against Keras.

    The file ``model.export(path, format="litert", ...)`` writes (the same signature and input
    names, the same LiteRT outputs), in less than half the time: Keras traces the model for a
    SavedModel archive, saves it, loads it back and converts that; here the model is traced once
    and the converter lowers that one function (18 against 43 s for stn_icnn_celebamask on a
    2-core CPU).

    Example:
        >>> write_tflite(model, "m.tflite", [keras.InputSpec(shape=(None, 512, 512, 3))], **conversion_options())
    """
    import tensorflow as tf

    specs = [tf.TensorSpec(spec.shape, spec.dtype or "float32", name=spec.name) for spec in signature]

    def serve(*args):  # named as Keras' export names them: args_0, args_1, ...
        return model(*args, training=False)

    concrete = tf.function(serve, input_signature=specs, autograph=False).get_concrete_function()  # builds it
    # The converter saves the function with the trackable it is given and freezes the variables
    # it reaches from there; given the model itself, its weights were read uninitialised (NaN
    # outputs), so a plain module holds the variables.
    holder = tf.Module()
    holder.weights = [variable.value for variable in model.variables]
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
    for name, value in options.items():
        target, settings = (converter.target_spec, value) if name == "target_spec" else (converter, {name: value})
        for key, setting in settings.items():
            if not hasattr(target, key):
                raise ValueError(f"unknown TFLite converter setting {key!r}")
            setattr(target, key, setting)
    with open(path, "wb") as file:
        file.write(converter.convert())


def _write(model, path, format, signature, quantize=None, calibration=None):
    if format == "tflite":
        from tensorflow.lite.python.convert_phase import ConverterError  # an Exception, not a RuntimeError

        samples = None if calibration is None else [sample[None] for sample in calibration]
        options = conversion_options(quantize, samples)
        try:
            write_tflite(model, path, signature, **options)
        except (RuntimeError, ConverterError) as error:  # the converter's own message went to stderr
            raise ExportError(
                f"the TFLite converter failed{' to quantize to ' + quantize if quantize else ''} "
                f"({error or 'see the converter log above'})"
            ) from error
    elif format == "onnx":
        model.export(path, format="onnx", verbose=False, input_signature=signature, opset_version=17)
    else:
        model.export(path, format="tf_saved_model", verbose=False, input_signature=signature)


def _run(path, format, inputs):
    """Run the exported file in its own runtime; returns (outputs, op names)."""
    if format == "tflite":
        return _run_litert(path, inputs)
    if format == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        output = session.run(None, {name: inputs})[0]
        return output, [node.op_type for node in _onnx_nodes(path)]
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    return np.asarray(loaded.serve(tf.constant(inputs))), []


def _run_litert(path, inputs):
    """Run a .tflite file in LiteRT in a child process: a crash of the native runtime
    (XNNPACK has segfaulted on some int8 graphs) becomes an ExportError, not a dead process."""
    import subprocess
    import sys

    folder = os.path.dirname(path)
    np.save(os.path.join(folder, "inputs.npy"), inputs)
    outputs = os.path.join(folder, "outputs.npz")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_litert_check.py")
    result = subprocess.run([sys.executable, script, path, os.path.join(folder, "inputs.npy"), outputs],
                            capture_output=True, text=True)
    if result.returncode != 0:
        how = f"crashed (signal {-result.returncode})" if result.returncode < 0 else "failed"
        detail = result.stderr.strip().splitlines()[-1:] or ["no message"]
        raise ExportError(f"the LiteRT runtime {how} running the TFLite file with its default XNNPACK delegate "
                          f"({detail[0]})")
    with np.load(outputs) as data:
        return data["output"], [str(op) for op in data["ops"]]


def _write_metadata(path, format, metadata):
    text = json.dumps(metadata, sort_keys=True)
    if format == "tflite":
        from tensorflow.lite.python import schema_py_generated as schema
        from tensorflow.lite.tools import flatbuffer_utils

        model = flatbuffer_utils.read_model(path)
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = METADATA_NAME
        entry.buffer = len(model.buffers) - 1
        model.metadata = (model.metadata or []) + [entry]
        flatbuffer_utils.write_model(model, path)
    elif format == "onnx":
        import onnx

        model = onnx.load(path)
        onnx.helper.set_model_props(model, {METADATA_NAME: text})
        onnx.save(model, path)
    else:
        with open(os.path.join(path, "facezoo.json"), "w", encoding="utf-8") as handle:
            handle.write(text)


def read_metadata(path):
    """The facezoo metadata dict stored in an exported file (or SavedModel directory)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        with open(os.path.join(path, "facezoo.json"), encoding="utf-8") as handle:
            return json.load(handle)
    if path.endswith(".onnx"):
        import onnx

        props = {p.key: p.value for p in onnx.load(path).metadata_props}
        return json.loads(props[METADATA_NAME])
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(path)
    for entry in model.metadata or []:
        name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
        if name == METADATA_NAME:
            return json.loads(bytes(model.buffers[entry.buffer].data).decode("utf-8"))
    raise ValueError(f"{path} carries no facezoo metadata")


def _onnx_nodes(path):
    import onnx

    return onnx.load(path).graph.node


def check_arguments(path, format=None, quantize=None):
    """The export format for ``path`` (``format``, or from the suffix: ``.tflite``, ``.onnx``,
    none for a ``saved_model`` folder), after checking the format, the quantization and the
    target (:func:`check_target`) together: ``facezoo export`` calls it before the model
    loads. ValueError names what does not fit."""
    path = os.fspath(path)
    if format is None:
        suffix = os.path.splitext(path.rstrip("/\\"))[1]
        format = {ending: name for name, ending in FORMATS.items()}.get(suffix)
        if format is None:
            raise ValueError(f"cannot tell the format from {path!r}: name it .tflite or .onnx (a name without a "
                             "suffix is a saved_model folder), or give the format")
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {quantize!r}")
    if quantize and format != "tflite":
        raise ValueError(f"quantize={quantize!r} is for TFLite files; {format} exports are float32")
    check_target(path, format)  # first: "is a folder" says more than a suffix would
    if FORMATS[format] and not path.endswith(FORMATS[format]):
        raise ValueError(f"{format} exports are written to a '{FORMATS[format]}' file, got {path!r}")
    return format


def check_target(path, format):
    """Refuse an export target that would destroy something facezoo did not write.

    A ``.tflite``/``.onnx`` file may replace an earlier file (as ``-o FILE`` does
    everywhere), but not a folder. A SavedModel goes into a new folder, an empty one, or
    a folder holding an earlier facezoo SavedModel and nothing else (its entries
    :data:`SAVED_MODEL_ENTRIES` are replaced); a folder holding anything else, or a file,
    is refused, so ``-o .`` never empties the current folder.

    Raises:
        FileExistsError: saying what is in the way and what to pass instead.
    """
    path = os.fspath(path)
    if format != "saved_model":
        if os.path.isdir(path):
            raise FileExistsError(f"{path!r} is a folder; a {format} export is a file: pass a file name such as "
                                  f"{os.path.join(path, 'model' + FORMATS[format])!r}")
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(f"{path!r} is an existing file; a SavedModel is a folder: pass a new folder name")
    entries = set(os.listdir(path)) if os.path.isdir(path) else set()
    foreign = sorted(entries - SAVED_MODEL_ENTRIES)
    if foreign or (entries and "facezoo.json" not in entries):
        shown = ", ".join(foreign[:5] or sorted(entries)[:5]) + (", ..." if len(foreign) > 5 else "")
        raise FileExistsError(
            f"{path!r} already holds files that are not a facezoo SavedModel ({shown}); an export never deletes "
            f"them: pass a new or empty folder, such as {os.path.join(path, 'saved_model')!r}")


def _replace(staged, path):
    """Move the verified export into place: a file replaces a file; a SavedModel folder
    fills a new or empty folder or replaces the entries of an earlier facezoo SavedModel
    (see :func:`check_target`), nothing else."""
    if not os.path.isdir(staged) or not os.path.exists(path):
        os.replace(staged, path)
        return
    check_target(path, "saved_model")  # again: the folder may have changed during the export
    for name in SAVED_MODEL_ENTRIES & set(os.listdir(path)):
        old = os.path.join(path, name)
        if os.path.isdir(old) and not os.path.islink(old):
            shutil.rmtree(old)
        else:
            os.remove(old)
    for name in os.listdir(staged):
        os.replace(os.path.join(staged, name), os.path.join(path, name))


class _CallableModule(types.ModuleType):
    """``facezoo.export(model, path)`` calls :func:`export`, while ``facezoo.export.read_metadata``
    and the rest of this module stay reachable under the same name."""

    def __call__(self, *args, **kwargs):
        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

"""Minimal reproduction: LiteRT's XNNPACK delegate segfaults on an int8 tensor that was all zeros.

    python benchmarks/litert_zero_tensor_crash.py [--keep DIR]

Two tiny Keras models, ``concatenate([x, zeros_like(x)])`` and ``stack([x, x * 0])``,
converted to int8 with the TFLite converter's calibrating quantizer
(``experimental_new_quantizer=False``, as facezoo's int8 export): the calibrator gives the
all-zero tensor a scale of 4.6e-41 (a denormal float32, zero point -128) and a QUANTIZE
op to requantize it. With the default XNNPACK delegate the interpreter crashes (SIGSEGV)
in ``allocate_tensors``. Without delegates the ``x * 0`` file runs and the
``zeros_like`` one fails cleanly (the converter made an int8 ZEROS_LIKE, which TFLite
has no kernel for). Measured with ai-edge-litert 2.3.0 and TensorFlow 2.21.

Workaround used by facezoo: no tensor of the graph is all zeros. STN-iCNN's thetas were
stacked from ``zeros_like`` off-diagonals (``[[s, 0, tx], [0, s, ty]]``); they are now
built by :func:`facezoo.layers.scale_translation_theta` (entries times constant one-hot
matrices, the same float values), and the separable paste inverts a theta per axis
instead of through its all-zero off-diagonals.

Prints the quantization of every tensor and the exit status of the file run with and
without the delegate, each in a child process.
"""

import argparse
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras import ops  # noqa: E402

RUN = """
import sys, numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
kind = OpResolverType.AUTO if sys.argv[2] == "xnnpack" else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
interpreter = Interpreter(model_path=sys.argv[1], experimental_op_resolver_type=kind)
interpreter.allocate_tensors()
interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.ones((1, 6), "float32"))
interpreter.invoke()
print(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).round(3).tolist())
"""

MODELS = {
    "zeros_like": lambda x: ops.concatenate([x, ops.zeros_like(x)], axis=-1),
    "times_zero": lambda x: ops.stack([x, x * 0.0], axis=-1),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", default=None, help="write zero_tensor_int8.tflite into this folder")
    args = parser.parse_args(argv)
    import keras
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from facezoo.export import conversion_options

    rng = np.random.default_rng(0)
    calibration = [rng.uniform(-1, 1, (1, 6)).astype("float32") for _ in range(8)]
    folder = args.keep or tempfile.mkdtemp(prefix="litert-crash-")
    for name, graph in MODELS.items():
        x = keras.Input((6,))
        path = os.path.join(folder, f"{name}_int8.tflite")
        keras.Model(x, graph(x)).export(path, format="litert", verbose=False, **conversion_options("int8", calibration))
        plain = Interpreter(model_path=path,
                            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        print(f"{name}: {path}\n  ops: {[op['op_name'] for op in plain._get_ops_details()]}")
        for tensor in plain.get_tensor_details():
            print(f"  tensor {tensor['name'][:44]:44s} {tensor['dtype'].__name__:8s} (scale, zero point) = "
                  f"{tensor['quantization']}")
        for delegate in ("none", "xnnpack"):
            result = subprocess.run([sys.executable, "-c", RUN, path, delegate], capture_output=True, text=True)
            status = f"killed by signal {-result.returncode}" if result.returncode < 0 else f"exit {result.returncode}"
            detail = result.stdout.strip() or (result.stderr.strip().splitlines() or ["-"])[-1][:110]
            print(f"  delegate {delegate:8s}: {status}; {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run a .tflite file in LiteRT, in a child process (see facezoo.export._run).

    python _litert_check.py MODEL.tflite INPUTS.npy OUTPUTS.npz

Runs the file with the runtime's default (XNNPACK) delegate, as an app would, and writes
the first output and the op names. It imports nothing from facezoo, so it starts fast and
a native crash in the runtime cannot take the exporting process down with it.
"""

import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType


def main(model_path, inputs_path, outputs_path):
    inputs = np.load(inputs_path)
    interpreter = Interpreter(model_path=model_path)
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], inputs.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], inputs)
    interpreter.invoke()
    output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    # Op names from an interpreter without XNNPACK, whose ops would show as DELEGATE.
    plain = Interpreter(model_path=model_path,
                        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ops = np.array([op["op_name"] for op in plain._get_ops_details()])
    np.savez(outputs_path, output=output, ops=ops)


if __name__ == "__main__":
    main(*sys.argv[1:4])

"""Why calibrated int8 barely pays off for some parsers on this CPU: the same network as
float32 and int8 TFLite, with and without XNNPACK, and with a fixed batch of one.

    python benchmarks/int8_anatomy.py [--models rtparser_celebamask icnn_lfw ...] [--threads 1]
                                      [--rounds 40] [--json benchmarks/results/int8_anatomy.json]

Per model, four files: float32 and int8 (calibrated on noise: speed, not accuracy), each
with the exporter's dynamic batch (what ``facezoo export`` writes) and with a fixed batch of
one. Each runs in LiteRT with its default XNNPACK delegate and with TFLite's own builtin
kernels (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``), one face per call; the eight runners of a
model are called in turn, round after round, so that a slow spell of the machine hits them
alike (median ms of ``--rounds`` after 8 untimed). Printed beside the times: the
multiply-accumulates of the convolutions (GMAC, from the float file's tensor shapes), the
float file's convolution throughput (GMAC/s under XNNPACK), the share of the tensor
elements written by ops that are not convolutions (resizes, concatenations: memory-bound
work that int8 does not shorten much), and the number of XNNPACK partitions (ops between
partitions run in TFLite's kernels). Ratios are int8 / float32 in the same run.

Where a model has them (the real-time parsers), the network is also cut after the layers
in ``SEGMENT_ENDS`` (encoder to 1/8, context block, decoder to 1/4, logits at 1/2) and each
prefix exported the same way (batch of one, XNNPACK): the difference between consecutive
prefixes is what each segment costs in float32 and in int8.
"""

import argparse
import collections
import json
import os
import shutil
import sys
import tempfile
from timing import interleaved_median_ms, litert_call  # noqa: E402  (benchmarks/timing.py)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_MODELS = ("rtparser_celebamask", "rtparser_celebamask_student", "rtparser_helen", "icnn_lfw")
CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")
SEGMENT_ENDS = ("down8_pw_relu", "context2_pw_relu", "refine4_pw_relu", "fine_logits")


def _export(model, path, batch, quantize, face):
    import keras
    import numpy as np

    from facezoo.export import conversion_options, model_input_shape

    shape = (batch, *model_input_shape(model)[1:])
    calibration = [face * np.float32(s) for s in (0.9, 0.95, 1.0, 1.05)] if quantize else None
    model.export(path, format="litert", verbose=False, input_signature=[keras.InputSpec(shape=shape, dtype="float32")],
                 **conversion_options(quantize, calibration))


def _anatomy(path):
    """Convolution MACs and the share of output elements written by other ops, from a float file."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    tensors = {t["index"]: t["shape"] for t in interpreter.get_tensor_details()}
    macs, conv_elements, other_elements = 0, 0, 0
    for op in interpreter._get_ops_details():
        elements = int(np.prod(tensors[op["outputs"][0]]))
        if op["op_name"] in CONVOLUTIONS:
            kernel = tensors[op["inputs"][1]]  # (out, kh, kw, in) or (1, kh, kw, channels)
            macs += elements * int(np.prod(kernel[1:]) if op["op_name"] == "CONV_2D" else kernel[1] * kernel[2])
            conv_elements += elements
        else:
            other_elements += elements
    return macs, other_elements / (conv_elements + other_elements)


def measure(name, threads, rounds):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    import facezoo
    from facezoo.export import default_sample_inputs, model_input_shape

    model = facezoo.load(name, compile=False)
    face = default_sample_inputs(model_input_shape(model)[1:], batch=1)
    folder = tempfile.mkdtemp(prefix="facezoo-int8-")
    runners, partitions = {}, {}
    for batch in ("dynamic", "batch1"):
        for quantize in (None, "int8"):
            path = os.path.join(folder, f"{batch}_{quantize or 'fp32'}.tflite")
            _export(model, path, None if batch == "dynamic" else 1, quantize, face)
            for kernels in ("xnnpack", "builtin"):
                options = {} if kernels == "xnnpack" else {
                    "experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
                interpreter = Interpreter(model_path=path, num_threads=threads, **options)
                interpreter.allocate_tensors()
                key = f"{batch}/{quantize or 'fp32'}/{kernels}"
                runners[key] = interpreter
                if kernels == "xnnpack":
                    ops = collections.Counter(op["op_name"] for op in interpreter._get_ops_details())
                    partitions[f"{batch}/{quantize or 'fp32'}"] = ops.get("DELEGATE", 0)
    import keras

    names = {layer.name for layer in model.layers}
    ends = [end for end in SEGMENT_ENDS if end in names]
    for end in ends:
        prefix = keras.Model(model.inputs, model.get_layer(end).output)
        for quantize in (None, "int8"):
            path = os.path.join(folder, f"{end}_{quantize or 'fp32'}.tflite")
            _export(prefix, path, 1, quantize, face)
            interpreter = Interpreter(model_path=path, num_threads=threads)
            interpreter.allocate_tensors()
            runners[f"to {end}/{quantize or 'fp32'}"] = interpreter
    macs, other_share = _anatomy(os.path.join(folder, "batch1_fp32.tflite"))
    ms = interleaved_median_ms({key: litert_call(interpreter, face) for key, interpreter in runners.items()}, rounds,
                               warmup=8)
    segments, previous = {}, {"fp32": 0.0, "int8": 0.0}
    for end in ends + ["output"]:
        total = {q: ms[f"to {end}/{q}" if end != "output" else f"batch1/{q}/xnnpack"] for q in ("fp32", "int8")}
        segments[end] = {q: total[q] - previous[q] for q in total}
        previous = total
    shutil.rmtree(folder, ignore_errors=True)
    return {"segments_ms": segments, "gmac": macs / 1e9, "non_conv_element_share": other_share, "ms": ms, "xnnpack_partitions": partitions,
            "fp32_gmac_per_s": macs / 1e9 / (ms["batch1/fp32/xnnpack"] / 1000)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    import warnings

    warnings.simplefilter("ignore")
    results = {name: measure(name, args.threads, args.rounds) for name in args.models}
    print(f"float32 vs int8 TFLite, {args.threads} thread(s), median ms per face of {args.rounds} interleaved rounds; "
          "(x) = int8 / float32; partitions = XNNPACK partitions float/int8")
    print(f"{'model':30s} {'GMAC':>5s} {'GMAC/s':>6s} {'non-conv':>8s} | {'XNNPACK, dynamic batch':>24s} "
          f"{'parts':>5s} | {'XNNPACK, batch 1':>24s} {'parts':>5s} | {'builtin kernels, batch 1':>24s}")
    for name, r in results.items():
        ms, parts = r["ms"], r["xnnpack_partitions"]

        def cell(batch, kernels):
            fp32, int8 = ms[f"{batch}/fp32/{kernels}"], ms[f"{batch}/int8/{kernels}"]
            return f"{fp32:7.1f} / {int8:6.1f} ({int8 / fp32:.2f}x)"

        print(f"{name:30s} {r['gmac']:5.2f} {r['fp32_gmac_per_s']:6.1f} {r['non_conv_element_share']:8.0%} | "
              f"{cell('dynamic', 'xnnpack'):>24s} {parts['dynamic/fp32']:>2d}/{parts['dynamic/int8']:<2d} | "
              f"{cell('batch1', 'xnnpack'):>24s} {parts['batch1/fp32']:>2d}/{parts['batch1/int8']:<2d} | "
              f"{cell('batch1', 'builtin'):>24s}")
    for name, r in results.items():
        if len(r["segments_ms"]) > 1:
            print(f"{name}, by segment (XNNPACK, batch 1; ms of the prefix ending there less the one before): "
                  + ", ".join(f"{end} {v['fp32']:.1f} -> {v['int8']:.1f}" for end, v in r["segments_ms"].items()))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"threads": args.threads, "rounds": args.rounds, "models": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

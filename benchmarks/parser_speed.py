"""Speed of every parser in the zoo: Keras and TFLite (float32, dynamic, int8), 1 and 2 threads.

    python benchmarks/parser_speed.py [--repeats 20] [--json benchmarks/results/parser_speed.json]
    python benchmarks/parser_speed.py --models stn_icnn_celebamask_lite stn_icnn_helen_lite   # a few, beside the reference

One process per thread count (TensorFlow's thread pools are fixed at start-up) times, per
model, one face per call after warm-up, called in turn round after round (so that a slow
spell hits them alike and the ratios hold): Keras ``predict_on_batch`` and the TFLite file in
LiteRT with its default XNNPACK delegate, float32, ``dynamic`` (int8 weights, activations
quantized at run time) and int8 (calibrated on noise: speed, not accuracy; the accuracy of
both: ``int8_accuracy.py``). Models are every parsing preset with published weights (STN-iCNN, iCNN, the
real-time parsers and their distilled students), each at its own input size. Prints the
median ms per face, the ratio to STN-iCNN in the same run, the dynamic / float32 and
int8 / float32 ratios of each model, and each file's ops by type with the number of XNNPACK partitions they make. The face is
``facezoo.export.default_sample_inputs`` (a photo's local statistics), on which the float
files pass the exporter's parity check. Per stage of STN-iCNN: ``stn_icnn_profile.py``.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import warnings
from timing import interleaved_median_ms, litert_call  # noqa: E402  (benchmarks/timing.py)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


QUANTIZATIONS = (None, "dynamic", "int8")
COLUMNS = ("keras", "tflite_fp32", "tflite_dynamic", "tflite_int8")


REFERENCE = "stn_icnn_celebamask"  # every run times it, so ratios compare across runs


def _names(only=None):
    """The presets to time, the reference first."""
    from facezoo.registry import PRESETS

    names = {p.name for p in PRESETS.values() if p.task == "parsing" and not p.unavailable}
    if only:
        unknown = set(only) - names
        if unknown:
            raise SystemExit(f"--models: no parsing preset {sorted(unknown)}; presets: {', '.join(sorted(names))}")
        names = set(only) | {REFERENCE}
    return sorted(names, key=lambda name: (name != REFERENCE, name))


def _models(only=None):
    import facezoo
    from facezoo.registry import PRESETS

    names = _names(only)
    return {f"{name} ({PRESETS[name].input_size[0]})": facezoo.load(name, compile=False) for name in names}




def worker(threads, repeats, only=None):
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    warnings.simplefilter("ignore")
    import facezoo
    from ai_edge_litert.interpreter import Interpreter
    from facezoo.export import ExportError, default_sample_inputs, model_input_shape

    results = {}
    folder = tempfile.mkdtemp(prefix="facezoo-speed-")
    for name, model in _models(only).items():
        shape = model_input_shape(model)[1:]
        face = default_sample_inputs(shape, batch=1)
        row, runners = {}, {"keras": lambda: model.predict_on_batch(face)}
        for quantize in QUANTIZATIONS:
            path = os.path.join(folder, f"{len(results)}_{quantize}.tflite")
            key = f"tflite_{quantize or 'fp32'}"
            try:
                facezoo.export(model, path, quantize=quantize, sample_inputs=face, verbose=False,
                               representative_data=np.repeat(face, 4, 0) if quantize == "int8" else None)
            except ExportError as error:
                row[key] = None
                row[f"{key}_error"] = str(error)[:120]
                continue
            interpreter = Interpreter(model_path=path, num_threads=threads)
            interpreter.allocate_tensors()
            runners[key] = litert_call(interpreter, face)
            ops = collections.Counter(op["op_name"] for op in interpreter._get_ops_details())
            row[f"{key}_partitions"] = ops.pop("DELEGATE", 0)
            row[f"{key}_ops"] = dict(sorted(ops.items()))
        row.update(interleaved_median_ms(runners, repeats))
        results[name] = row
    print("RESULT " + json.dumps(results))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--models", nargs="+", default=None, metavar="PRESET",
                        help=f"these parsing presets only (and {REFERENCE}, the reference); default: all")
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        return worker(args.worker, args.repeats, args.models)
    _names(args.models)  # an unknown name fails here, not in a worker

    table = {}
    for threads in args.threads:
        command = [sys.executable, __file__, "--worker", str(threads), "--repeats", str(args.repeats)]
        run = subprocess.run(command + (["--models", *args.models] if args.models else []),
                             capture_output=True, text=True)
        line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"worker with {threads} thread(s) failed:\n{run.stderr[-3000:]}")
        table[threads] = json.loads(line[len("RESULT "):])

    reference = next(iter(table[args.threads[0]]))  # REFERENCE's row
    print(f"ms per face (median of {args.repeats}), one face per call; (x) = STN-iCNN's time / this one's")
    columns = COLUMNS
    ratios = ("tflite_dynamic", "tflite_int8")
    print(f"{'model':30s} {'thr':>3} " + " ".join(f"{c:>20s}" for c in columns)
          + "".join(f" {c[7:] + '/fp32':>13s}" for c in ratios))
    for threads, rows in table.items():
        for name, row in rows.items():
            cells = []
            for c in columns:
                value, base = row.get(c), rows[reference].get(c)
                if value is None:
                    cells.append(f"{'n/a':>20s}")
                else:
                    ratio = f"({base / value:.1f}x)" if base else ""
                    cells.append(f"{value:11.1f} {ratio:>8s}")
            fp32 = row.get("tflite_fp32")
            for c in ratios:
                cells.append(f"{row[c] / fp32:13.2f}" if fp32 and row.get(c) else f"{'n/a':>13s}")
            print(f"{name:30s} {threads:>3} " + " ".join(cells))
    for threads, rows in table.items():
        for name, row in rows.items():
            for key, value in row.items():
                if key.endswith("_error"):
                    print(f"note: {name}, {threads} thread(s), {key[:-6]}: {value}")
    for name, row in table[args.threads[0]].items():
        for key in columns[1:]:
            if f"{key}_ops" in row:
                print(f"{name}, {key[7:]}: {row[f'{key}_partitions']} XNNPACK partition(s) of {row[f'{key}_ops']}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(table, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

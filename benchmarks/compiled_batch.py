"""What fixing the batch at one buys the pipeline's compiled model: one face per call, the
same ``tf.function`` of ``model(x, training=False)`` traced with the batch dimension left
open (``None``, what ``facezoo.pipeline.CompiledModel`` used for every call until
2026-12-06) and fixed at one (what it now uses for a single face), beside Keras'
``predict_on_batch``.

    python benchmarks/compiled_batch.py [--presets adc_landmarks_300w stn_icnn_helen ...]
                                        [--rounds 15] [--json benchmarks/results/compiled_batch.json]

TensorFlow on one thread (intra-op 1, inter-op 1); each preset's three runners are called in
turn, round after round, on the same random face at its nominal input size (median ms of
``--rounds`` after 3 untimed); the outputs of the two traces are compared (max |difference|).
Ratios are fixed / open in the same run.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from timing import interleaved_median_ms  # noqa: E402  (benchmarks/timing.py)

DEFAULT_PRESETS = ("adc_landmarks_300w", "stn_icnn_helen", "stn_icnn_helen_lite", "rtparser_helen", "icnn_lfw")


def measure(names, rounds):
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import facezoo
    from facezoo.export import model_input_shape
    from facezoo.pipeline import CompiledModel

    rows = {}
    for name in names:
        model = facezoo.load(name, compile=False)
        shape = model_input_shape(model)[1:]
        face = np.random.default_rng(0).uniform(0, 1, (1, *shape)).astype("float32")
        open_batch = tf.function(lambda x, m=model: m(x, training=False),
                                 input_signature=[tf.TensorSpec((None, *shape), tf.float32)])
        fixed = CompiledModel(model)
        difference = float(np.abs(np.asarray(open_batch(face)) - fixed(face)).max())
        times = interleaved_median_ms({"open": lambda: np.asarray(open_batch(face)), "fixed": lambda: fixed(face),
                                       "predict_on_batch": lambda: model.predict_on_batch(face)}, rounds)
        rows[name] = {"input": list(shape), **times, "fixed/open": times["fixed"] / times["open"],
                      "max_abs_difference": difference}
        print(f"{name:24s} {str(tuple(shape)):16s} open {times['open']:7.1f}  fixed {times['fixed']:7.1f}  "
              f"predict_on_batch {times['predict_on_batch']:7.1f} ms   fixed/open {rows[name]['fixed/open']:.2f}  "
              f"(max |diff| {difference:.1e})", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=list(DEFAULT_PRESETS))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    rows = measure(args.presets, args.rounds)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": "python benchmarks/compiled_batch.py " + " ".join(argv or sys.argv[1:]),
                       "threads": 1, "rounds": args.rounds, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

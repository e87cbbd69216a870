"""What pasting STN-iCNN's parts on a smaller canvas costs and saves: the same weights at
several ``paste_size`` values, float TFLite time side by side and, with ``--data``, the score
on validation faces.

    python benchmarks/stn_icnn_paste_size.py --model stn_icnn_celebamask_lite --data CELEBAMASK_ROOT \
        [--sizes 512 384 256] [--threads 1 2] [--repeats 35] [--json benchmarks/results/stn_icnn_paste_size.json]

Each size is the model rebuilt from its config with ``paste_size`` replaced and its weights
copied, exported to float TFLite (the exporter checks each file against its own Keras model)
and run in LiteRT with its default XNNPACK delegate, one face per call; the files are
called in turn, round after round, so that a slow spell of the machine hits every size alike
(median ms of ``--repeats`` rounds after 5 untimed ones). ``--data``: the HELEN protocol on
the CelebAMask-HQ recipe's 50 validation faces (the last 50 of its training folder), labels
mapped to HELEN's classes; ``--dataset helen_contours`` with a HELEN root scores its 70
validation faces instead.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from timing import interleaved_median_ms, litert_call  # noqa: E402  (benchmarks/timing.py)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CELEBAMASK_VALIDATION_FACES = 50  # as recipes/stn_icnn_celebamask.py holds out


def _variants(name, sizes):
    import facezoo
    from facezoo.models import STNiCNN

    base = facezoo.load(name, compile=False)
    variants = {}
    for size in sizes:
        model = STNiCNN.from_config({**base.get_config(), "paste_size": [size, size]})
        model.set_weights(base.get_weights())
        variants[size] = model
    return variants


def _validation(model, dataset, root):
    from facezoo.evaluate import evaluate

    if dataset == "celebamask":
        from facezoo.data import CelebAMask

        faces = CelebAMask(root, "train")
        faces.records = faces.records[-CELEBAMASK_VALIDATION_FACES:]
    else:
        from facezoo.data import HelenContours
        from facezoo.evaluate import alignment_keypoints

        size = tuple(model.input_size)
        faces = HelenContours(root, "val", unknown=0, size=size, align_to=alignment_keypoints(model, size))
    _, scores = evaluate(model, dataset, faces, progress=False)
    return {"overall": scores["overall"], "overall_strict": scores["overall_strict"], "faces": len(faces)}


def worker(args):
    """One process per thread count: export each size, time the files in turn."""
    from ai_edge_litert.interpreter import Interpreter

    import facezoo
    from facezoo.export import default_sample_inputs

    folder = tempfile.mkdtemp(prefix="facezoo-paste-")
    face = default_sample_inputs((512, 512, 3), batch=1)
    runners = {}
    for size, model in _variants(args.model, args.sizes).items():
        path = os.path.join(folder, f"paste_{size}.tflite")
        facezoo.export(model, path, sample_inputs=face, verbose=False)
        interpreter = Interpreter(model_path=path, num_threads=args.worker)
        interpreter.allocate_tensors()
        runners[size] = interpreter
    ms = interleaved_median_ms({size: litert_call(interpreter, face) for size, interpreter in runners.items()},
                               args.repeats, warmup=5)
    print("RESULT " + json.dumps(ms))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="stn_icnn_celebamask_lite", help="an STN-iCNN preset")
    parser.add_argument("--sizes", nargs="+", type=int, default=[512, 384, 256])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=35)
    parser.add_argument("--data", default=None, help="dataset root: also score the validation faces")
    parser.add_argument("--dataset", default="celebamask", choices=["celebamask", "helen_contours"])
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        return worker(args)

    result = {"model": args.model, "repeats": args.repeats, "ms": {}, "validation": {}}
    for threads in args.threads:
        command = [sys.executable, __file__, "--worker", str(threads), "--model", args.model,
                   "--repeats", str(args.repeats), "--sizes", *map(str, args.sizes)]
        run = subprocess.run(command, capture_output=True, text=True)
        line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"worker with {threads} thread(s) failed:\n{run.stderr[-3000:]}")
        result["ms"][threads] = {int(k): v for k, v in json.loads(line[len("RESULT "):]).items()}
    if args.data:
        for size, model in _variants(args.model, args.sizes).items():
            result["validation"][size] = _validation(model, args.dataset, args.data)

    reference = args.sizes[0]
    print(f"{args.model}: float TFLite ms per face (median of {args.repeats} interleaved rounds); "
          f"(x) = time / paste {reference}'s")
    print(f"{'paste':>6} " + " ".join(f"{f'{t} thr':>16}" for t in args.threads)
          + ("   val overall   strict" if result["validation"] else ""))
    for size in args.sizes:
        cells = [f"{result['ms'][t][size]:9.1f} ({result['ms'][t][size] / result['ms'][t][reference]:.2f}x)"
                 for t in args.threads]
        row = f"{size:>6} " + " ".join(f"{c:>16}" for c in cells)
        if size in result["validation"]:
            v = result["validation"][size]
            row += f"   {v['overall']:11.4f} {v['overall_strict']:8.4f}"
        print(row)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

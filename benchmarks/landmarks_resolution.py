"""ADC vs holistic landmarks as the input resolution grows: accuracy, memory, time.

    python benchmarks/landmarks_resolution.py --data ../shared/data/helen68 \\
        --adc runs/adc_landmarks_300w/final.keras --holistic runs/holistic_landmarks_300w/final.keras \\
        [--resolutions 256 512 1024 full] [--limit N] [--json benchmarks/results/landmarks_resolution.json]

For every model and resolution, a fresh process evaluates the helen68 testset (330 HELEN
faces at full resolution, padded to a square) with faces given to the model at R x R
pixels (``full`` = each face's own size, median 1066 px, up to 3860 px), through
``facezoo.evaluate.evaluate_landmarks``: NME (inter-ocular, percent; points scored in
the original pixels) and failure rate at 8 %. Beside them: the model's median time per
face, the process's peak resident memory above its level after loading the model and
one warm-up call, and the size of the largest float32 input tensor, so memory that is
the input itself can be told from the network's own.

Time is what ``facezoo landmarks`` pays: the model's call compiled once per input size
(``facezoo.pipeline.CompiledModel``), TensorFlow on ``--threads`` threads (1 by default),
one face per call. At a fixed R every scored face's call is timed (after one warm-up
call at that size); at ``full`` every face has its own size, so faces are scored with
eager calls (a trace per face would cost more than the call) and the compiled call is
timed on the first ``--time-faces`` faces (traced, warmed up, median of 3 calls each).

``--adc-coarse`` adds ADC's coarse stage alone (its global network, i.e. a holistic model
trained exactly as ADC's: the controlled comparison of what the regional crops add).
``--adc-source-size N`` adds ADC with inputs box-filtered to about N pixels before its
crops are cut, and ``--refine-passes N [M ...]`` runs ADC's regional stage N times (each
pass re-centres the crops on the previous points; the output is their mean): the first
value is the ``adc`` row (the shipped preset uses 2), the others are added as ``adc/Mpass``
rows. ``--adc-fast`` adds ``adc/fast``: one pass and no flip average, the settings of
``adc_landmarks_300w_fast``. All are inference-time settings of the same weights. One run
prints one table; the numbers in the model card come from it.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(args):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)  # before any op runs
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras
    import numpy as np

    import facezoo  # noqa: F401  (registers the custom layers)
    from facezoo.data import Landmarks300W
    from facezoo.data.feeding import pad_to_square
    from facezoo.evaluate import evaluate_landmarks
    from facezoo.pipeline import CompiledModel

    model = keras.models.load_model(args.model_path)
    settings = {"flip_test": args.flip_test}  # inference-time settings, the weights are the same
    settings.update({"source_size": int(args.source_size)} if args.source_size else {})
    settings.update({"refine_passes": int(args.passes)} if args.passes else {})
    model = model.with_settings(**settings)
    if args.coarse:  # the same ADC model read at its coarse stage: its global network alone
        from facezoo.models.adc_landmarks import _normalised_to_pixels, flip_averaged

        adc = model

        def model(images, training=False):
            points_of = lambda x: adc.stages(x)["coarse"]  # noqa: E731
            points = flip_averaged(points_of, images, adc._mirror) if adc.flip_test else points_of(images)
            return _normalised_to_pixels(points, images.shape[1], images.shape[2])

        model.input_size = adc.input_size
    compiled = CompiledModel(model)
    full = args.resolution == "full"
    warm_up = np.zeros((1, 256 if full else int(args.resolution), 256 if full else int(args.resolution), 3),
                       np.float32)
    compiled(warm_up)  # traced at the size every face of a fixed resolution gets
    model(warm_up)
    base = _rss_mb()
    times, largest = [], [0]

    class Timed:
        input_size = model.input_size

        def __call__(self, images, training=False):
            largest[0] = max(largest[0], int(np.prod(images.shape)) * 4 / 2**20)
            if full:  # a size of its own: eager (timed below, compiled, on a few faces)
                return keras.ops.convert_to_numpy(model(images, training=False))
            start = time.perf_counter()
            out = compiled(images)
            times.append((time.perf_counter() - start) * 1000 / len(images))
            return out

    dataset = Landmarks300W(args.data, "test")
    scores = evaluate_landmarks(Timed(), dataset, batch_size=1, limit=args.limit,
                                resolution="full" if full else int(args.resolution), progress=False)
    peak = _rss_mb() - base
    if full:
        for index in range(min(args.time_faces, len(dataset))):
            face = pad_to_square(dataset[index])[0].image.astype(np.float32)[None] / 255.0
            compiled(face)  # traced for this size, then warm
            calls = []
            for _ in range(3):
                start = time.perf_counter()
                compiled(face)
                calls.append((time.perf_counter() - start) * 1000)
            times.append(float(np.median(calls)))
    scores.update(ms_per_face=float(np.median(times)), timed_faces=len(times), peak_mb_above_model=peak,
                  largest_input_mb=largest[0], threads=args.threads)
    print("RESULT " + json.dumps(scores))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (testset/ is used)")
    parser.add_argument("--adc", help="ADCLandmarks .keras file")
    parser.add_argument("--holistic", help="HolisticLandmarks .keras file")
    parser.add_argument("--adc-source-size", type=int, default=None,
                        help="also run ADC with source_size=N (inputs box-filtered to ~N before cropping)")
    parser.add_argument("--flip-test", action="store_true",
                        help="every model averages with the mirrored face (as the shipped presets do)")
    parser.add_argument("--adc-coarse", action="store_true", help="also score ADC's coarse stage alone")
    parser.add_argument("--refine-passes", type=int, nargs="+", default=None,
                        help="ADC regional passes: the first for the adc row, the others as extra rows")
    parser.add_argument("--adc-fast", action="store_true",
                        help="also run ADC with one pass and no flip average (adc_landmarks_300w_fast's settings)")
    parser.add_argument("--resolutions", nargs="+", default=["256", "512", "1024", "full"])
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads of each worker (timing)")
    parser.add_argument("--time-faces", type=int, default=10,
                        help="at full resolution, faces whose compiled call is timed (each traced for its size)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model-path", help=argparse.SUPPRESS)
    parser.add_argument("--resolution", help=argparse.SUPPRESS)
    parser.add_argument("--source-size", help=argparse.SUPPRESS)
    parser.add_argument("--coarse", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--passes", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    passes = args.refine_passes or [None]
    row = lambda path, passes=None, flip=args.flip_test, coarse=False, source=None: dict(  # noqa: E731
        path=path, passes=passes, flip=flip, coarse=coarse, source_size=source)
    models = {name: row(path, passes[0] if name == "adc" else None)
              for name, path in (("adc", args.adc), ("holistic", args.holistic)) if path}
    if not models:
        parser.error("give --adc and/or --holistic")
    if args.adc:
        models.update({f"adc/{n}pass": row(args.adc, n) for n in passes[1:]})
    if args.adc and args.adc_fast:
        models["adc/fast"] = row(args.adc, 1, flip=False)
    if args.adc and args.adc_coarse:
        models["adc/coarse"] = row(args.adc, coarse=True)
    if args.adc and args.adc_source_size:
        models[f"adc/box{args.adc_source_size}"] = row(args.adc, passes[0], source=args.adc_source_size)
    rows = []
    for resolution in args.resolutions:
        for name, setting in models.items():
            command = [sys.executable, __file__, "--worker", "--data", args.data, "--model-path", setting["path"],
                       "--resolution", resolution, "--threads", str(args.threads),
                       "--time-faces", str(args.time_faces)] + (["--limit", str(args.limit)] if args.limit else [])
            command += ["--source-size", str(setting["source_size"])] if setting["source_size"] else []
            command += ["--coarse"] if setting["coarse"] else []
            command += ["--passes", str(setting["passes"])] if setting["passes"] else []
            command += ["--flip-test"] if setting["flip"] else []
            run = subprocess.run(command, capture_output=True, text=True)
            line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                raise SystemExit(f"{name} at {resolution} failed:\n{run.stderr[-3000:]}")
            rows.append({"model": name, "resolution": resolution, "flip_test": setting["flip"],
                         **json.loads(line[len("RESULT "):])})
            print(f"done: {name} at {resolution}", file=sys.stderr)

    header = (f"{'resolution':>10} {'model':>11} {'NME io %':>9} {'fail@8 %':>9} {'ms/face':>8} {'peak MB':>8} "
              f"{'input MB':>9}")
    print(f"helen68 testset, {rows[0]['faces']} faces, faces padded to a square and given at R x R"
          + (", flip-test averaging (but adc/fast)" if args.flip_test else "")
          + f"; ms = compiled call, {args.threads} thread(s), one face per call"
          + (f", adc with {passes[0]} regional passes" if passes[0] else ""))
    print(header)
    for r in rows:
        print(f"{r['resolution']:>10} {r['model']:>11} {r['nme_inter_ocular']:9.2f} {r['failure_rate_8']:9.1f} "
              f"{r['ms_per_face']:8.1f} {r['peak_mb_above_model']:8.0f} {r['largest_input_mb']:9.1f}")
    if {"adc", "holistic"} <= set(models):
        print("\nratios adc / holistic:")
        for resolution in args.resolutions:
            a, h = [next(r for r in rows if r["resolution"] == resolution and r["model"] == m)
                    for m in ("adc", "holistic")]
            print(f"{resolution:>10}  NME {a['nme_inter_ocular'] / h['nme_inter_ocular']:.2f}  "
                  f"time {a['ms_per_face'] / h['ms_per_face']:.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

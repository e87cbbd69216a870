"""ADC's inference settings that need no training: accuracy against time per face, on the
70 validation faces (never on test).

    python benchmarks/landmarks_inference_settings.py --data ../shared/data/helen68 \\
        [--threads 1] [--time-faces 10] [--only NAME ...] [--json benchmarks/results/landmarks_inference_settings.json]

Validation = the last 70 faces of helen68/trainset (recipes/adc_landmarks_300w.py holds
them out); faces padded to a square and given at the model's nominal 512x512, as
``benchmarks/landmarks_validation.py`` scores them. Every setting uses the shipped
``adc_landmarks_300w`` weights unchanged:

- ``flip``: average with the mirrored face (the preset: on), ``passes``: regional passes
  (the preset: 2);
- ``crop``: the regional crop's side in samples *at the same sampling density* (its
  region shrinks with it: ``region_fraction = the model's * crop / its crop_size``; the
  model's own where a setting names none), so the regional network
  sees features at the scale it was trained on, in a smaller window (its receptive field
  is 27 samples); the regional work goes with ``crop**2``;
- ``global``: the global network's input side (trained at 256; the network is fully
  convolutional, so it runs at any size, on a coarser view of the face).

NME (inter-ocular, percent) and failure@8 % come from compiled inference
(``model.predict_on_batch``); the same outputs from eager calls (``model(x)``, what
``facezoo.landmarks`` did at the time of writing) are checked to agree. Time per face is
the process's CPU time per call with batch 1, median over ``--time-faces`` faces after a
warm-up, with TensorFlow on ``--threads`` threads (1: one core): eager, compiled
(``predict_on_batch``) and XLA (``jit_compile=True``) for the settings named in
``XLA_SETTINGS``. ``--bfloat16`` adds each setting under Keras' ``mixed_bfloat16`` policy
(convolutions in bfloat16, points in float32).
"""

import argparse
import json
import os
import shlex
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

VALIDATION = 70  # recipes/adc_landmarks_300w.py holds out the last 70 training faces

#: name -> (flip_test, refine_passes, crop_size, global_size); None: the model's own. The first
#: is adc_landmarks_300w's preset, "no flip, 1 pass" adc_landmarks_300w_fast's
SETTINGS = {
    "shipped": (True, 2, None, None),
    "flip, 1 pass": (True, 1, None, None),
    "no flip, 2 passes": (False, 2, None, None),
    "no flip, 1 pass": (False, 1, None, None),
    "crop 48": (True, 2, 48, 256),
    "crop 48, no flip, 1 pass": (False, 1, 48, 256),
    "crop 40": (True, 2, 40, 256),
    "crop 32": (True, 2, 32, 256),
    "crop 40, no flip, 1 pass": (False, 1, 40, 256),
    "crop 32, no flip, 1 pass": (False, 1, 32, 256),
    "crop 24, no flip, 1 pass": (False, 1, 24, 256),
    "global 192": (True, 2, 48, 192),
    "global 192, no flip, 1 pass": (False, 1, 48, 192),
    "crop 32, global 192, no flip, 1 pass": (False, 1, 32, 192),
}
XLA_SETTINGS = ("shipped", "no flip, 1 pass")


def build(shipped, flip, passes, crop, global_size, policy="float32"):
    """The shipped weights in an ADCLandmarks with these inference settings, built under the
    Keras dtype ``policy`` as ``facezoo.load`` builds it after ``set_dtype_policy(policy)``:
    its networks take the policy (``mixed_bfloat16``: bfloat16 convolutions), the model itself
    stays float32 (a checkpoint's config says so), so crop positions and points are float32."""
    import keras

    from facezoo.models import ADCLandmarks
    from facezoo.models.base import INFO_KEY

    config = shipped.get_config()
    crop, global_size = crop or shipped.crop_size, global_size or shipped.global_size
    config.update(flip_test=flip, refine_passes=passes, crop_size=crop, global_size=global_size,
                  region_fraction=shipped.region_fraction * crop / shipped.crop_size)
    config.pop("trainable", None), config.pop("dtype", None)
    config.pop(INFO_KEY, None)  # facezoo.load gives the model its preset's info, saved in its config
    previous = keras.config.dtype_policy()
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        model = ADCLandmarks(**{k: v for k, v in config.items() if k != "name"}, dtype="float32")
        model(np.zeros((1, 64, 64, 3), np.float32))
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    model.set_weights(shipped.get_weights())  # convolutions do not depend on the input size
    return model


def cpu_ms(function, inputs):
    function(inputs[0])  # warm-up (and, compiled, the trace)
    times = []
    for x in inputs:
        start = time.process_time()
        function(x)
        times.append((time.process_time() - start) * 1000)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (trainset/ is used)")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads (0: its default)")
    parser.add_argument("--time-faces", type=int, default=10, help="faces timed per setting and mode")
    parser.add_argument("--only", nargs="+", default=None, help="settings to run (names of SETTINGS)")
    parser.add_argument("--model", default="adc_landmarks_300w",
                        help="the ADC preset, or an ADC checkpoint (.npz or .keras) to score in its place")
    parser.add_argument("--bfloat16", action="store_true",
                        help="also run every setting under Keras' mixed_bfloat16 policy (bfloat16 convolutions, "
                             "float32 points; fast on CPUs with AMX or AVX512-BF16, slow on others)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras

    import facezoo
    from facezoo.data import HelenContourPoints, Landmarks300W
    from facezoo.data.feeding import pad_to_square
    from facezoo.evaluate import evaluate_landmarks

    shipped = facezoo.load(args.model, compile=False)
    if shipped.num_points == 194:  # HELEN's own points (adc_landmarks_helen194): the same faces' contours
        faces = HelenContourPoints(args.data, "val")
    else:
        faces = Landmarks300W(args.data, "train")
        faces.records = faces.records[-VALIDATION:]
    size = tuple(shipped.input_size)
    from PIL import Image

    timed = []
    for index in range(min(args.time_faces, len(faces))):
        image = pad_to_square(faces[index])[0].image
        image = np.asarray(Image.fromarray(image).resize(size[::-1], Image.BILINEAR), np.float32) / 255.0
        timed.append(image[None])

    class Compiled:
        def __init__(self, model):
            self.model, self.input_size = model, model.input_size

        def __call__(self, images, training=False):
            return self.model.predict_on_batch(np.asarray(images, np.float32))

    names = args.only or list(SETTINGS)
    rows = []
    print(f"helen68 validation ({len(faces)} faces) at {size[0]}x{size[1]}, {args.model} weights; CPU ms per face "
          f"(batch 1, {args.threads or 'default'} thread(s), median of {len(timed)} faces)", flush=True)
    policies = ("float32", "mixed_bfloat16") if args.bfloat16 else ("float32",)
    for name, policy in [(name, policy) for name in names for policy in policies]:
        flip, passes, crop, global_size = SETTINGS[name]
        model = build(shipped, flip, passes, crop, global_size, policy)
        name = name if policy == "float32" else f"{name}, bf16"
        scores = evaluate_landmarks(Compiled(model), faces, batch_size=1, progress=False)
        eager = lambda x: keras.ops.convert_to_numpy(model(x, training=False))  # noqa: E731
        agree = max(float(np.abs(eager(x) - model.predict_on_batch(x)).max()) for x in timed[:3])
        row = {"setting": name, "policy": policy, "flip_test": flip, "refine_passes": passes,
               "crop_size": model.crop_size,
               "global_size": model.global_size, "region_fraction": model.region_fraction,
               "nme": scores["nme_inter_ocular"], "failure_rate_8": scores["failure_rate_8"],
               "faces": scores["faces"], "max_px_eager_vs_compiled": agree,
               "ms_eager": cpu_ms(eager, timed), "ms_compiled": cpu_ms(model.predict_on_batch, timed)}
        if name in XLA_SETTINGS:
            xla = build(shipped, flip, passes, crop, global_size)
            xla.jit_compile = True
            row["ms_xla"] = cpu_ms(xla.predict_on_batch, timed)
        rows.append(row)
        print(f"{name:>38}: NME {row['nme']:.3f}  fail {row['failure_rate_8']:.1f}  eager {row['ms_eager']:.0f} ms  "
              f"compiled {row['ms_compiled']:.0f} ms" + (f"  xla {row['ms_xla']:.0f} ms" if "ms_xla" in row else "")
              + f"  (eager vs compiled {agree:.4f} px)", flush=True)

    base = next((r for r in rows if r["setting"] == "shipped"), rows[0])
    print(f"\n{'setting':>38} {'NME %':>6} {'dNME':>6} {'fail8':>5} {'eager ms':>8} {'compiled':>8} {'xla':>5} "
          f"{'x faster':>8}")
    for r in rows:
        print(f"{r['setting']:>38} {r['nme']:6.3f} {r['nme'] - base['nme']:+6.3f} {r['failure_rate_8']:5.1f} "
              f"{r['ms_eager']:8.0f} {r['ms_compiled']:8.0f} {format(r['ms_xla'], '5.0f') if 'ms_xla' in r else '-':>5} "
              f"{base['ms_eager'] / r['ms_compiled']:8.1f}")
    print("('x faster': the shipped setting's eager time over this setting's compiled time)")
    if args.json:
        load = os.getloadavg()
        with open(args.json, "w") as handle:
            json.dump({"command": "python benchmarks/landmarks_inference_settings.py "
                       + shlex.join(argv if argv is not None else sys.argv[1:]),
                       "faces": len(faces), "threads": args.threads, "timed_faces": len(timed),
                       "machine": f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at the end",
                       "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
                       "rows": rows}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

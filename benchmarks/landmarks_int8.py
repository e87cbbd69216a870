"""What int8 costs a landmark model: how far its TFLite files move the points, and their NME.

    python benchmarks/landmarks_int8.py --data ../shared/data/helen68 \\
        [--model adc_landmarks_300w_fast ...] [--quantize dynamic int8] [--calibration 16] \\
        [--json benchmarks/results/landmarks_int8.json]

Validation faces only (the last 70 of helen68/trainset, held out by the landmark recipe),
padded to a square and resized to 512x512 as ``facezoo eval`` gives them. For each
quantization the file is written as ``facezoo.export`` writes it (``int8`` calibrated on the
first ``--calibration`` training faces; ``dynamic``: int8 weights, activations quantized at run
time, no calibration) but without its check, which refuses a file that moves the points too
far (``facezoo.export.MAX_POINT_SHIFT``), then run in LiteRT with its default XNNPACK delegate,
as an app would. Printed: the mean and largest distance between each file's points and the
float Keras model's, on the validation faces and on the export check's default noise, and the
NME (outer-eye-corner distance, percent) of Keras and of each file on the validation faces.
"""

import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VALIDATION = 70  # recipes/adc_landmarks_300w.py holds out the last 70 training faces
SIZE = 512


def faces_at(records, size=SIZE):
    """Faces padded to a square and resized to ``size``, with what maps points back."""
    import numpy as np

    from facezoo.data.feeding import pad_to_square, resize_sample

    images, frames = [], []
    for sample in records:
        square, offset = pad_to_square(sample)
        height, width = square.image.shape[:2]
        images.append(resize_sample(square, (size, size)).image)
        frames.append((np.array([width / size, height / size]), offset))
    return np.stack(images), frames


def run_file(path, inputs, batch=10):
    """The file's outputs in LiteRT's default delegate (a child process per batch)."""
    import numpy as np

    from facezoo.export import _run_litert

    return np.concatenate([_run_litert(path, inputs[i:i + batch])[0] for i in range(0, len(inputs), batch)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (trainset/ is used)")
    parser.add_argument("--model", nargs="+", default=["adc_landmarks_300w_fast"])
    parser.add_argument("--quantize", nargs="+", default=["dynamic", "int8"], choices=["fp16", "dynamic", "int8"])
    parser.add_argument("--calibration", type=int, default=16, help="training faces that calibrate int8")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    import facezoo
    from facezoo.data import Landmarks300W
    from facezoo.export import _write, default_sample_inputs
    from facezoo.metrics import landmark_scores

    faces = Landmarks300W(args.data, "train")
    records = [faces[i] for i in range(len(faces))]
    calibration_faces, _ = faces_at(records[:args.calibration])
    validation = records[-VALIDATION:]
    images, frames = faces_at(validation)
    true = np.stack([s.landmarks for s in validation])

    def nme(points):  # points of the 512x512 inputs, scored in each face's own pixels
        back = np.stack([(p + 0.5) * scale - 0.5 - offset for p, (scale, offset) in zip(points, frames)])
        return landmark_scores(back, true)["nme_inter_ocular"]

    rows = []
    print(f"helen68 validation ({len(validation)} faces at {SIZE}x{SIZE}); shift = distance from the float Keras "
          f"model's points, px; int8 calibrated on {args.calibration} training faces")
    print(f"{'model':>26} {'file':>8} {'MB':>5} {'shift mean':>10} {'max':>6} {'noise mean':>10} {'max':>6} "
          f"{'NME %':>7}")
    for name in args.model:
        model = facezoo.load(name, compile=False)
        inputs = model.preprocess(images)
        expected = np.asarray(model.predict(inputs, batch_size=8, verbose=0))
        noise = default_sample_inputs((SIZE, SIZE, 3))
        noise_expected = np.asarray(model.predict(noise, verbose=0))
        keras_nme = nme(expected)
        rows.append({"model": name, "file": "keras float32", "nme": keras_nme})
        print(f"{name:>26} {'keras':>8} {'':>5} {'':>10} {'':>6} {'':>10} {'':>6} {keras_nme:7.3f}", flush=True)
        for quantize in args.quantize:
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "model.tflite")
                signature = [keras.InputSpec(shape=(None, SIZE, SIZE, 3), dtype="float32")]
                _write(model, path, "tflite", signature, quantize, model.preprocess(calibration_faces))
                size = os.path.getsize(path) / 1e6
                points = run_file(path, inputs)
                shift = np.linalg.norm(points - expected, axis=-1)
                noise_shift = np.linalg.norm(run_file(path, noise) - noise_expected, axis=-1)
            row = {"model": name, "file": quantize, "megabytes": size, "shift_mean": float(shift.mean()),
                   "shift_max": float(shift.max()), "noise_shift_mean": float(noise_shift.mean()),
                   "noise_shift_max": float(noise_shift.max()), "nme": nme(points)}
            rows.append(row)
            print(f"{name:>26} {quantize:>8} {size:5.2f} {row['shift_mean']:10.2f} {row['shift_max']:6.1f} "
                  f"{row['noise_shift_mean']:10.2f} {row['noise_shift_max']:6.1f} {row['nme']:7.3f}", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"faces": len(validation), "size": SIZE, "calibration_faces": args.calibration,
                       "rows": rows}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

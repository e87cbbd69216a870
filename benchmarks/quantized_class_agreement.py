"""How much of each class a parser's quantized TFLite files keep: the numbers behind the export check.

    python benchmarks/quantized_class_agreement.py --data ../shared/data \\
        [--models stn_icnn_helen_lite icnn_lfw ...] [--json benchmarks/results/quantized_class_agreement.json]

For every parsing preset (the heatmap parser ``rtparser_helen`` aside: its fourth channel needs
landmarks), the ``dynamic`` file and the ``int8`` file calibrated on 8 real faces are written with
``facezoo.export``'s own converter settings and run in LiteRT (default delegate) on two inputs:
the check's default noise (``facezoo.export.default_sample_inputs``) and 4 other real faces (held
out from training: CelebAMask-HQ's last training faces, LFW-PL validation faces for the LFW
models). Against Keras' arg-max labels it prints the share kept over all pixels, over the
non-background pixels, and per class for every class Keras gives at least 0.1 % of the pixels
(``facezoo.export.lost_classes`` refuses a file in which one of those keeps under half).
"""

import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CALIBRATION, CHECKED = 8, 4


def faces_for(name, data):
    """12 real faces for a preset: CelebAMask-HQ's last training faces, or LFW-PL validation faces."""
    import numpy as np

    from facezoo.data import CelebAMask, LFWPartLabels

    if "lfw" in name:
        faces = LFWPartLabels(os.path.join(data, "lfw_pl"), "val")
    else:
        faces = CelebAMask(os.path.join(data, "celebamask_subset"), "train")
        faces.records = faces.records[-(CALIBRATION + CHECKED):]
    return np.stack([faces[i].image for i in range(CALIBRATION + CHECKED)])


def agreement(actual, expected):
    import numpy as np

    from facezoo.export import class_agreement

    labels, expected_labels = np.argmax(actual, -1), np.argmax(expected, -1)
    same = labels == expected_labels
    classes = {label: round(kept, 3) for label, kept in class_agreement(actual, expected).items()}
    return {"all": round(float(same.mean()), 3), "non_background": round(float(same[expected_labels != 0].mean()), 3),
            "per_class": classes, "lowest_class": min(classes.values())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder holding celebamask_subset/ and lfw_pl/")
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import keras

    import facezoo
    from facezoo.export import _run, _write, default_sample_inputs
    from facezoo.registry import PRESETS

    names = args.models or sorted(name for name, p in PRESETS.items() if p.task == "parsing" and not p.unavailable
                                  and name != "rtparser_helen")
    rows = []
    for name in names:
        model = facezoo.load(name, compile=False)
        faces = model.preprocess(faces_for(name, args.data))
        shape = faces.shape[1:]
        signature = [keras.InputSpec(shape=(None, *shape), dtype="float32")]
        inputs = {"noise": default_sample_inputs(shape), "real faces": faces[CALIBRATION:]}
        expected = {key: keras.ops.convert_to_numpy(model(x, training=False)) for key, x in inputs.items()}
        with tempfile.TemporaryDirectory() as folder:
            for quantize in ("dynamic", "int8"):
                path = os.path.join(folder, f"{quantize}.tflite")
                _write(model, path, "tflite", signature, quantize, faces[:CALIBRATION] if quantize == "int8" else None)
                for key, x in inputs.items():
                    row = {"model": name, "quantize": quantize, "inputs": key,
                           **agreement(_run(path, "tflite", x)[0], expected[key])}
                    rows.append(row)
                    print(f"{name:28} {quantize:8} {key:10} all {row['all']:.3f}  non-background "
                          f"{row['non_background']:.3f}  lowest class {row['lowest_class']:.3f}  {row['per_class']}",
                          flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

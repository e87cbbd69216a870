"""What int8 costs a parser: label agreement with float and the test score.

    python benchmarks/int8_accuracy.py --data ROOT [--dataset celebamask|helen_contours]
                                       [--model stn_icnn_celebamask] [--quantize int8 dynamic]
                                       [--calibration 16] [--json benchmarks/results/int8_accuracy.json]

Validation faces (never the test split): CelebAMask-HQ's last 50 training faces (held out
from training as in the recipes), or HELEN's ``val`` split (the last 70 training faces,
each aligned by its 68 points onto the model's template, as ``facezoo eval`` does). For
each quantization, the file is exported (``int8`` calibrated on the first
``--calibration`` validation faces; ``dynamic`` needs none: int8 weights, activations
quantized at run time), then run in LiteRT with its default XNNPACK delegate, as an app
would. Printed: the share of pixels, on the other validation faces, whose label (arg-max)
is the float Keras model's, over all pixels and over the pixels where Keras sees a facial
part (background dominates a face crop); and the test-split scores of Keras and of each
file under the preset's protocol (``facezoo eval``'s code).
"""

import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CELEBAMASK_VALIDATION_FACES = 50


class LiteRTParser:
    """A TFLite parser file behind the ``model(images, training=False)`` call facezoo's
    evaluation uses (one face per invoke, default delegate)."""

    def __init__(self, path, input_size, class_names, threads=2):
        from ai_edge_litert.interpreter import Interpreter

        self.input_size = tuple(input_size)
        self.class_names = class_names
        self.interpreter = Interpreter(model_path=path, num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]

    def __call__(self, images, training=False):
        import numpy as np

        outputs = []
        for image in np.asarray(images, "float32"):
            self.interpreter.set_tensor(self.input, image[None])
            self.interpreter.invoke()
            outputs.append(self.interpreter.get_tensor(self.output)[0].copy())
        return np.stack(outputs)


def _splits(dataset, root, model):
    """(validation, test) datasets, as facezoo's recipes hold out and ``facezoo eval`` scores."""
    from facezoo.data import CelebAMask, open_dataset
    from facezoo.evaluate import alignment_keypoints
    from facezoo.export import model_input_shape

    if dataset == "celebamask":
        validation = CelebAMask(root, "train")
        validation.records = validation.records[-CELEBAMASK_VALIDATION_FACES:]
        return validation, CelebAMask(root, "test")
    size = tuple(model_input_shape(model)[1:3])
    keypoints = alignment_keypoints(model, size)
    return tuple(open_dataset(dataset, root, split, unknown=0, align_to=keypoints, size=size)
                 for split in ("val", "test"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="dataset root (CelebAMask-HQ's, or HELEN's for helen_contours)")
    parser.add_argument("--dataset", default="celebamask", choices=["celebamask", "helen_contours"])
    parser.add_argument("--model", default="stn_icnn_celebamask")
    parser.add_argument("--quantize", nargs="+", default=["int8", "dynamic"], choices=["int8", "dynamic"])
    parser.add_argument("--calibration", type=int, default=16, help="validation faces to calibrate int8 on")
    parser.add_argument("--limit", type=int, default=None, help="test faces (default: all)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    import facezoo
    from facezoo.evaluate import evaluate
    from facezoo.export import ExportError, _write, model_input_shape

    model = facezoo.load(args.model, compile=False)
    validation, test = _splits(args.dataset, args.data, model)
    faces = model.preprocess(np.stack([validation[i].image for i in range(len(validation))]))
    calibration, held_out = faces[: args.calibration], faces[args.calibration :]
    expected = np.stack([np.argmax(np.asarray(model(face[None], training=False))[0], -1) for face in held_out])
    parts = expected != 0

    _, reference = evaluate(model, args.dataset, test, limit=args.limit, progress=False)
    key = "overall" if "overall" in reference else "mean_f1"
    summary = {"model": args.model, "dataset": args.dataset, "calibration_faces": len(calibration),
               "agreement_faces": len(held_out), "test_faces": args.limit or len(test), "score": key,
               "keras_float32": reference.get(key)}
    scores = {"keras float32": reference}
    folder = tempfile.mkdtemp(prefix="facezoo-int8-")
    for quantize in args.quantize:
        path = os.path.join(folder, f"{args.model}_{quantize}.tflite")
        try:
            facezoo.export(model, path, quantize=quantize, verbose=False, sample_inputs=held_out[:2],
                           representative_data=calibration if quantize == "int8" else None)
        except ExportError as error:  # the exporter's own check refused it; measure it anyway
            print(f"{quantize}: refused by the export check ({error}); measured from the unchecked file")
            _write(model, path, "tflite", [keras.InputSpec(shape=model_input_shape(model), dtype="float32")],
                   quantize, calibration)
        runner = LiteRTParser(path, model_input_shape(model)[1:3], model.preset.class_names)
        labels = np.stack([np.argmax(runner(face[None])[0], -1) for face in held_out])
        _, result = evaluate(runner, args.dataset, test, limit=args.limit, progress=False)
        result.pop("confusion_matrix", None)
        scores[f"tflite {quantize}"] = result
        summary[quantize] = {
            "file_bytes": os.path.getsize(path),
            "label_agreement": float(np.mean(labels == expected)),
            "part_label_agreement": float(np.mean(labels[parts] == expected[parts])),
            "test_score": result.get(key), "test_difference": result.get(key) - reference.get(key),
        }
        row = summary[quantize]
        print(f"{args.model} {quantize}: keeps the float label on {100 * row['label_agreement']:.2f} % of the "
              f"pixels of {len(held_out)} validation faces ({100 * row['part_label_agreement']:.2f} % of the "
              f"facial parts' pixels); test {key} {reference[key]:.4f} (Keras float32) vs "
              f"{row['test_score']:.4f} ({row['test_difference']:+.4f}); file {row['file_bytes'] / 1e6:.1f} MB")
    reference.pop("confusion_matrix", None)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"summary": summary, "scores": scores}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

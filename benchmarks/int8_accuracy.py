"""What int8 costs a CelebAMask-HQ parser: label agreement with float and the test score.

    python benchmarks/int8_accuracy.py --data CELEBAMASK_ROOT [--model stn_icnn_celebamask]
                                       [--calibration 16] [--json benchmarks/results/int8_accuracy.json]

The int8 file is calibrated on the first ``--calibration`` validation faces (the last 50
training faces, held out from training as in the recipes), then run in LiteRT with its
default XNNPACK delegate, as an app would: the share of pixels whose label (arg-max) is
the float Keras model's, on the other validation faces, and the test-split scores of
Keras and of the int8 file under the preset's protocol (``facezoo eval``'s, same code).
"""

import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VALIDATION_FACES = 50


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="CelebAMask-HQ root (train/ and test/)")
    parser.add_argument("--model", default="stn_icnn_celebamask")
    parser.add_argument("--calibration", type=int, default=16, help="validation faces to calibrate on")
    parser.add_argument("--limit", type=int, default=None, help="test faces (default: all)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import numpy as np

    import facezoo
    from facezoo.data import CelebAMask
    from facezoo.evaluate import evaluate
    from facezoo.export import model_input_shape

    model = facezoo.load(args.model, compile=False)
    validation = CelebAMask(args.data, "train")
    validation.records = validation.records[-VALIDATION_FACES:]
    faces = model.preprocess(np.stack([validation[i].image for i in range(len(validation))]))
    calibration, held_out = faces[: args.calibration], faces[args.calibration :]
    path = os.path.join(tempfile.mkdtemp(prefix="facezoo-int8-"), f"{args.model}_int8.tflite")
    facezoo.export(model, path, quantize="int8", representative_data=calibration, sample_inputs=held_out[:2])
    int8 = LiteRTParser(path, model_input_shape(model)[1:3], model.preset.class_names)

    agree = total = 0
    for face in held_out:
        expected = np.argmax(np.asarray(model(face[None], training=False)), -1)
        agree += int(np.sum(np.argmax(int8(face[None]), -1) == expected))
        total += expected.size
    test = CelebAMask(args.data, "test")
    scores = {}
    for name, parser_ in (("keras float32", model), ("tflite int8", int8)):
        _, result = evaluate(parser_, "celebamask", test, limit=args.limit, progress=False)
        result.pop("confusion_matrix", None)
        scores[name] = result
    key = "overall" if "overall" in scores["keras float32"] else "mean_f1"
    summary = {
        "model": args.model, "file_bytes": os.path.getsize(path), "calibration_faces": len(calibration),
        "agreement_faces": len(held_out), "label_agreement": agree / total,
        "test_faces": args.limit or len(test), "score": key,
        "keras_float32": scores["keras float32"].get(key), "tflite_int8": scores["tflite int8"].get(key),
    }
    print(f"{args.model}: int8 keeps the float label on {100 * summary['label_agreement']:.2f} % of the pixels of "
          f"{len(held_out)} validation faces (calibrated on {len(calibration)} others); test {key} "
          f"{summary['keras_float32']:.4f} (Keras float32) vs {summary['tflite_int8']:.4f} (TFLite int8), "
          f"difference {summary['tflite_int8'] - summary['keras_float32']:+.4f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"summary": summary, "scores": scores}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fine-tune a preset onto your own five classes, as the README shows, and score it.

    python examples/finetune_five_classes.py --data ../shared/data/celebamask_subset [--train 32 --test 16]

The data is any folder of images/ + masks/ (here CelebAMask-HQ's merged layout, whose
19 classes are remapped onto five by name). The model starts from the shipped
rtparser_celebamask_student (256x256) with a fresh 5-class head; every other layer keeps
its trained weights. Prints the mean F1 and pixel accuracy on unseen faces before and
after fine-tuning, then saves the model and exports it to TFLite with its classes.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import facezoo  # noqa: E402
from facezoo.classmaps import CELEBAMASK  # noqa: E402
from facezoo.data import FolderDataset, sequence_for  # noqa: E402
from facezoo.metrics import ConfusionMatrix, pixel_accuracy, precision_recall_f1  # noqa: E402

FIVE = ["background", "skin", "brows", "eyes", "mouth"]
TO_FIVE = {"skin": "skin", "nose": "skin", "l_ear": "skin", "r_ear": "skin", "neck": "skin",
           "l_brow": "brows", "r_brow": "brows", "l_eye": "eyes", "r_eye": "eyes",
           "u_lip": "mouth", "l_lip": "mouth", "mouth": "mouth"}


def score(model, faces):
    cm = ConfusionMatrix(len(FIVE))
    for sample in faces:
        logits = model.predict(model.preprocess(sample.image), verbose=0)[0]
        height, width = sample.labels.shape
        predicted = np.asarray(Image.fromarray(logits.argmax(-1).astype(np.uint8)).resize((width, height), Image.NEAREST))
        cm.update(predicted, sample.labels)
    _, _, f1 = precision_recall_f1(cm.matrix)
    return float(np.nanmean(f1)), pixel_accuracy(cm.matrix)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a folder with train/ and test/, each images/ + masks/")
    parser.add_argument("--train", type=int, default=32, help="training faces (the first N of train/)")
    parser.add_argument("--test", type=int, default=16, help="test faces (the first N of test/)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", default="runs/five_classes")
    args = parser.parse_args()

    def folder(split, count):
        faces = FolderDataset(args.data, FIVE, split=split, source_classes=CELEBAMASK.names, label_map=TO_FIVE,
                              unmapped="background")
        faces.records = faces.records[:count]
        return faces

    train, test = folder("train", args.train), folder("test", args.test)

    # --- what the README shows ---
    model = facezoo.load("rtparser_celebamask_student", class_names=FIVE)   # fresh head, compiled
    before = score(model, test)
    model.fit(sequence_for(model, train, batch_size=8), epochs=args.epochs)
    after = score(model, test)
    os.makedirs(args.out, exist_ok=True)
    model.save(os.path.join(args.out, "five.keras"))
    facezoo.export(model, os.path.join(args.out, "five.tflite"))
    # --- end ---

    print(f"{len(train)} training faces, {args.epochs} epochs, {len(test)} unseen test faces: mean F1 over the five "
          f"classes {before[0]:.3f} -> {after[0]:.3f}, pixel accuracy {before[1]:.3f} -> {after[1]:.3f}")
    print("TFLite metadata classes:", facezoo.export.read_metadata(os.path.join(args.out, "five.tflite"))["class_names"])


if __name__ == "__main__":
    main()

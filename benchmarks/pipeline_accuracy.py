"""Does the fast pipeline move the scores? Parsing F1 through the photo pipeline with the
new paste (``facezoo.align.paste_faces``) and with the per-channel PIL paste it replaced,
on the same detections and model outputs; and 68-point NME through
``facezoo.LandmarkDetector`` on the 330 HELEN test photos.

    python benchmarks/pipeline_accuracy.py parsing --models rtparser_lfw_student icnn_lfw rtparser_celebamask_student
    python benchmarks/pipeline_accuracy.py landmarks [--max-crop 512 4096] [--search-side 1024 1600]

Parsing: each test photo (LFW-PL 927 at 250x250, CelebAMask-HQ subset 100 at 512x512) is
detected, aligned and parsed as ``facezoo parse`` does, pasted back both ways (the new paste
from the model's own outputs, as ``FaceParser.parse`` does: logits, their softmax taken only
where it blends; the old one from the full softmax), and scored
against its labels at the photo's resolution (one confusion matrix over the split; the
dataset's protocol: LFW-PL pixel accuracy and F1, CelebAMask-HQ mean F1). Photos where no
face is found score as all background.

Landmarks: each photo's face is the detection nearest the labelled points' centre; NME by
the inter-ocular distance (points 36, 45), in percent, over the photos where a face was
found; photos without a detection are counted separately (``missed``).
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "data")




def parsing(args):
    from facezoo.align import paste_faces, paste_faces_by_channel, warp_to_crop
    from facezoo.classmaps import CELEBAMASK_TO_HELEN, remap_table
    from facezoo.data import CelebAMask, LFWPartLabels
    from facezoo.metrics import ConfusionMatrix, helen_scores, lfw_scores, mean_f1_scores
    from facezoo.photos import face_transform
    from facezoo.pipeline import FaceParser, _softmax

    report = {}
    for name in args.models:
        parser = FaceParser(name)
        from facezoo.presets import PRESETS

        class_map = PRESETS[name].class_map
        remap = None
        if class_map == "lfw_pl":
            data, score = LFWPartLabels(os.path.join(args.data, "lfw_pl"), split="test"), lfw_scores
        else:
            data, score = CelebAMask(os.path.join(args.data, "celebamask_subset"), split="test"), mean_f1_scores
        if class_map == "helen":  # STN-iCNN's HELEN classes, scored on CelebAMask-HQ as `facezoo eval` does
            remap, score = remap_table("celebamask", "helen", CELEBAMASK_TO_HELEN), helen_scores
        count = len(data) if args.limit is None else min(args.limit, len(data))
        classes = len(parser.info.class_names)
        matrices = {"new": ConfusionMatrix(classes), "old": ConfusionMatrix(classes)}
        agree, pixels, missed = 0, 0, 0
        for index in range(count):
            sample = data[index]
            photo, truth = sample.image, sample.labels
            if remap is not None:
                truth = np.where(truth >= 0, remap[np.maximum(truth, 0)], truth)
            detections = parser._detect(photo)
            missed += not detections
            transforms = [face_transform(d, parser.info) for d in detections]
            scores, probabilities = [], []
            if transforms:
                crops = np.stack([warp_to_crop(photo, t, parser.info.input_size) for t in transforms])
                scores = parser._outputs(crops)  # what FaceParser.parse pastes: logits, or STN-iCNN's probabilities
                probabilities = _softmax(scores.copy()) if parser._logits else scores
            new = paste_faces(list(zip(scores, transforms)), photo.shape[:2], logits=parser._logits)
            old = paste_faces_by_channel(list(zip(probabilities, transforms)), photo.shape[:2])
            known = truth >= 0
            for key, labels in (("new", new), ("old", old)):
                matrices[key].update(labels[known], truth[known])
            agree, pixels = agree + int((new == old).sum()), pixels + new.size
        scores = {key: score(cm.matrix) for key, cm in matrices.items()}
        headline = {"lfw_pl": "pixel_accuracy", "helen": "overall"}.get(class_map, "mean_f1")
        row = {"photos": count, "no_face_found": missed, "pixel_agreement_new_old": round(agree / pixels, 6),
               f"{headline}_new": round(scores["new"][headline], 5), f"{headline}_old": round(scores["old"][headline], 5)}
        if class_map == "lfw_pl":
            row.update({"f1_new": {k: round(v, 5) for k, v in scores["new"]["f1"].items()},
                        "f1_old": {k: round(v, 5) for k, v in scores["old"]["f1"].items()}})
        report[name] = row
        print(name, json.dumps(row), flush=True)
    return report


def landmarks(args):
    from facezoo.data.io import read_pts
    from facezoo.detect import MTCNNDetector
    from facezoo.pipeline import LandmarkDetector

    folder = os.path.join(args.data, "helen68", "testset")
    names = sorted(f for f in os.listdir(folder) if f.endswith(".jpg"))[:args.limit]
    report = {}
    for side in args.search_side:
        for crop in args.max_crop:
            detector = LandmarkDetector(args.model, detector=MTCNNDetector(max_side=side), max_crop=crop)
            errors, missed = [], 0
            for name in names:
                truth = read_pts(os.path.join(folder, name[:-4] + ".pts"))
                result = detector.detect(os.path.join(folder, name))
                if not result.faces:
                    missed += 1
                    continue
                centre = truth.mean(0)
                face = min(result.faces, key=lambda f: np.linalg.norm(f.landmarks.mean(0) - centre))
                norm = np.linalg.norm(truth[36] - truth[45])
                errors.append(np.linalg.norm(face.landmarks - truth, axis=1).mean() / norm * 100)
            key = f"search {side} px, max_crop {crop}"
            report[key] = {"photos": len(names), "missed": missed, "nme_percent": round(float(np.mean(errors)), 3),
                           "failure_rate_8_percent": round(float(np.mean(np.asarray(errors) > 8) * 100), 2)}
            print(key, json.dumps(report[key]), flush=True)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["parsing", "landmarks"])
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--models", nargs="+", default=["rtparser_lfw_student", "rtparser_celebamask_student"])
    parser.add_argument("--model", default="adc_landmarks_300w", help="landmarks: the preset")
    parser.add_argument("--max-crop", nargs="+", type=int, default=[512, 4096])
    parser.add_argument("--search-side", nargs="+", type=int, default=[1024])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    report = parsing(args) if args.task == "parsing" else landmarks(args)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

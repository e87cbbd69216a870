"""Alignment templates: where a preset's training faces have their five keypoints.

For each dataset a preset was trained on, MTCNN (facezoo.detect.MTCNNDetector) is run on
the training images as the model saw them (the whole image, padded to a square for the
landmark models, then resized to the model input),
and the five keypoints of the face nearest the image centre are averaged, normalised to
the image size. facezoo.parse warps a photo's face onto these points, so a face in a
photo reaches the model where training faces were.

    python benchmarks/alignment_templates.py --data ../shared/data [--only PRESET...] [--limit N] [--json F]

Prints, per dataset: faces used, detection rate, the mean keypoints and their spread,
and the mean face box (for faces given as boxes without keypoints).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from facezoo.data import CelebAMask, HelenContours, Landmarks300W, LFWPartLabels  # noqa: E402
from facezoo.data.feeding import pad_to_square  # noqa: E402
from facezoo.detect import KEYPOINT_NAMES, MTCNNDetector  # noqa: E402
from facezoo.registry import get_preset  # noqa: E402


def helen_aligned(root, split):
    """HELEN's training faces as recipes/helen_faces.py gives them to stn_icnn_helen: aligned
    by their 68 points onto stn_icnn_celebamask's template, 512x512."""
    keypoints = np.asarray(get_preset("stn_icnn_celebamask").alignment["keypoints"]) * 512
    return HelenContours(root, split, align_to=keypoints, size=(512, 512))


SOURCES = {  # preset -> (dataset, folder under --data, split, padded to a square as in training)
    "icnn_lfw": (LFWPartLabels, "lfw_pl", "train", False),
    "stn_icnn_celebamask": (CelebAMask, "celebamask_subset", "train", False),
    "adc_landmarks_300w": (Landmarks300W, "helen68", "train", True),
    "stn_icnn_helen": (helen_aligned, "helen68", "train", False),
}


def template(dataset, limit=None, square=False):
    detector = MTCNNDetector(min_score=0.9)
    points, boxes, missed = [], [], 0
    indices = range(len(dataset)) if limit is None else range(min(limit, len(dataset)))
    for index in tqdm(indices, desc=type(dataset).__name__, leave=False):
        sample = dataset[index]
        image = pad_to_square(sample)[0].image if square else sample.image
        height, width = image.shape[:2]
        faces = [f for f in detector(image) if f.keypoints is not None]
        if not faces:
            missed += 1
            continue
        centre = np.array([width, height]) / 2
        face = min(faces, key=lambda f: np.linalg.norm(f.keypoints.mean(0) - centre))
        points.append(face.keypoints / [width, height])
        boxes.append(np.asarray(face.box) / [width, height, width, height])
    points, boxes = np.stack(points), np.stack(boxes)
    return {"faces": len(points), "missed": missed, "keypoints": points.mean(0).round(4).tolist(),
            "keypoints_std": points.std(0).round(4).tolist(), "box": boxes.mean(0).round(4).tolist()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder holding lfw_pl/, celebamask_subset/ and helen68/")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", default=None, help="write (or update) this JSON file")
    parser.add_argument("--only", nargs="+", choices=sorted(SOURCES), default=sorted(SOURCES))
    args = parser.parse_args(argv)
    results = {}
    if args.json and os.path.isfile(args.json):
        with open(args.json) as handle:
            results = json.load(handle)
    for preset in args.only:
        cls, folder, split, square = SOURCES[preset]
        results[preset] = template(cls(os.path.join(args.data, folder), split), args.limit, square)
        r = results[preset]
        print(f"\n{preset}: {r['faces']} faces ({r['missed']} without a detection), keypoints as fractions of "
              "the image (x, y) +- std")
        for name, (x, y), (sx, sy) in zip(KEYPOINT_NAMES, r["keypoints"], r["keypoints_std"]):
            print(f"  {name:12s} ({x:.4f}, {y:.4f}) +- ({sx:.4f}, {sy:.4f})")
        print("  box (x0, y0, x1, y1):", r["box"])
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

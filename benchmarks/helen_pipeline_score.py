"""Score `facezoo parse` outputs on HELEN photos against labels drawn from HELEN's contours.

    facezoo parse ../shared/data/helen68/testset -o runs/parsed_helen_test --model stn_icnn_helen
    python benchmarks/helen_pipeline_score.py --data ../shared/data/helen68 --split test \\
        --parsed runs/parsed_helen_test [--json benchmarks/results/stn_icnn_helen_pipeline.json]

Reads each photo's ``<id>.labels.png`` (one HELEN class index per photo pixel, what the
pipeline wrote after detecting, aligning, parsing and mapping back) and compares it with
the components rasterised from the photo's own 194 contour points at the photo's
resolution (facezoo.data.HelenContours with unknown pixels as background). HELEN
protocol, one confusion matrix over the split: predicted skin and hair count as
background (the contours do not draw them), so every component's F1 is exact and skin and
hair are not scored. A photo with no output file counts as all background (a missed face).
"""

import argparse
import json
import os
import sys

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from facezoo.classmaps import HELEN
from facezoo.data.helen import HelenContours
from facezoo.evaluate import contour_tables
from facezoo.metrics import ConfusionMatrix, helen_scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 root (annotation/, testset/, trainset/)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--parsed", required=True, help="the folder `facezoo parse -o` wrote")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    faces = HelenContours(args.data, args.split, unknown=0)
    _, to_protocol = contour_tables()
    cm, missing = ConfusionMatrix(HELEN.num_classes), []
    for index in tqdm(range(len(faces)), desc="scoring"):
        sample = faces[index]
        path = os.path.join(args.parsed, sample.id + ".labels.png")
        if os.path.exists(path):
            predicted = np.asarray(Image.open(path))
            if predicted.shape != sample.labels.shape:
                raise SystemExit(f"{path}: {predicted.shape} labels for a {sample.labels.shape} photo")
        else:
            missing.append(sample.id)
            predicted = np.zeros_like(sample.labels)
        cm.update(to_protocol[predicted], sample.labels)
    scores = helen_scores(cm.matrix)
    for name in ("background", "skin", "hair"):
        scores["f1"].pop(name)
    print(f"{len(faces)} photos of {args.split}, {len(missing)} without an output (scored as background)")
    print(f"{'group':<10} F1")
    for group, value in {**scores["groups"], "overall": scores["overall"],
                         "strict": scores["overall_strict"]}.items():
        print(f"{group:<10} {value:.4f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"data": args.data, "split": args.split, "photos": len(faces), "missing": missing,
                       "parsed": args.parsed, "scores": scores, "confusion_matrix": cm.matrix.tolist()},
                      handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

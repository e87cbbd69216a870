"""The STN-iCNN paper's ablation on our data: iCNN (centroid cropper) vs STN-iCNN before
and after end-to-end training, per part, HELEN protocol.

    python benchmarks/stn_icnn_ablation.py --run runs/stn_icnn_celebamask \
        --data ../shared/data/celebamask_subset [--json benchmarks/results/stn_icnn_ablation.json]
    python benchmarks/stn_icnn_ablation.py --dataset helen_contours --run runs/stn_icnn_helen \
        --data ../shared/data/helen68 --json benchmarks/results/stn_icnn_helen_ablation.json

Reads the phase weights a run of recipes/stn_icnn_celebamask.py (or stn_icnn_helen.py)
leaves behind (parts.weights.h5 = before end-to-end, end_to_end.weights.h5 = after) and
scores the test faces: the 100 of the CelebAMask-HQ subset mapped to HELEN's classes, or
HELEN's 330 with labels drawn from its contours (each face aligned by its 68 points onto
the stn_icnn_celebamask template; skin and hair not scored). All three rows share the same
stage 1 and, before end-to-end, the same part models; they differ in the cropper. On
HELEN a fourth row, ``init.weights.h5``, is the CelebAMask-HQ model the run started from.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from facezoo.classmaps import CELEBAMASK_TO_HELEN, remap_table  # noqa: E402
from facezoo.data import CelebAMask  # noqa: E402
from facezoo.data.helen import HelenContours  # noqa: E402
from facezoo.evaluate import alignment_keypoints, evaluate_helen_contours, evaluate_parsing, write_json_atomic  # noqa: E402
from facezoo.models import STNiCNN  # noqa: E402
from facezoo.registry import get_preset  # noqa: E402

CONFIG = get_preset("stn_icnn_celebamask").config

ROWS = (
    ("stn_icnn_celebamask, not fine-tuned", "init.weights.h5", "localizer"),
    ("iCNN (centroid cropper)", "parts.weights.h5", "centroid"),
    ("STN-iCNN before end-to-end", "parts.weights.h5", "localizer"),
    ("STN-iCNN after end-to-end", "end_to_end.weights.h5", "localizer"),
)
COLUMNS = ("brows", "eyes", "nose", "u_lip", "i_mouth", "l_lip", "mouth")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--json", default=None, help="write the rows here (merged with rows already in the file)")
    parser.add_argument("--rows", default="0,1,2,3", help="which rows to compute, e.g. 3 (default all)")
    parser.add_argument("--dataset", choices=("celebamask", "helen_contours"), default="celebamask")
    args = parser.parse_args(argv)

    if args.dataset == "celebamask":
        test = CelebAMask(args.data, "test")
        table = remap_table("celebamask", "helen", CELEBAMASK_TO_HELEN)

        def score(model):
            return evaluate_parsing(model, test, "helen", batch_size=4, label_table=table)
    else:
        probe = STNiCNN(**CONFIG)
        probe.info = get_preset("stn_icnn_celebamask").info
        size = CONFIG["input_size"]
        test = HelenContours(args.data, "test", unknown=0, align_to=alignment_keypoints(probe, size), size=size)

        def score(model):
            return evaluate_helen_contours(model, test, batch_size=4)
    results = {}
    if args.json and os.path.exists(args.json):
        with open(args.json, encoding="utf-8") as handle:
            results = json.load(handle)["rows"]
    for index, (label, weights, cropper) in enumerate(ROWS):
        if str(index) not in args.rows.split(","):
            continue
        path = os.path.join(args.run, weights)
        if not os.path.exists(path):
            print(f"skipping {label}: {path} not found")
            continue
        model = STNiCNN(**CONFIG, cropper=cropper)
        model.load_weights(path)
        scores = score(model)
        results[label] = {**scores["groups"], "overall": scores["overall"], "overall_strict": scores["overall_strict"]}

    header = f"{'model (HELEN protocol, ' + str(len(test)) + ' test faces)':<40}" + "".join(
        f"{c:>9}" for c in (*COLUMNS, "overall", "strict"))
    print(header)
    print("-" * len(header))
    for label in [row[0] for row in ROWS if row[0] in results]:
        row = results[label]
        print(f"{label:<40}" + "".join(f"{row[c]:9.3f}" for c in (*COLUMNS, "overall", "overall_strict")))
    if args.json:
        write_json_atomic(args.json, {"data": args.data, "split": "test", "faces": len(test), "rows": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())

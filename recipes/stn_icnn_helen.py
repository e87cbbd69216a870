"""Recipe: STN-iCNN on HELEN (Smith et al.'s layout and splits), as in the paper.

    python recipes/stn_icnn_helen.py --data /path/to/helen --out runs/stn_icnn_helen
    python recipes/stn_icnn_helen.py --data /path/to/helen --out /tmp/smoke --smoke

Faces are resized to 512x512 (as the authors' data preparation does); 81x81 crops at the
face's own resolution (crop_scale 1); the paper's schedule
facezoo.training.STN_ICNN_SCHEDULE (25/10/20/10 epochs, Adam halved every 5 epochs) on
exemplars.txt, validated on tuning.txt. facezoo ships no checkpoint of this recipe: the
HELEN parsing labels were not available to us.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from facezoo.data import Augmenter, HelenParsing, ParsingSequence  # noqa: E402
from facezoo.registry import get_preset  # noqa: E402
from facezoo.training import SMOKE_STN_CONFIG, STN_ICNN_SCHEDULE, smoke_schedule, train_stn_icnn  # noqa: E402

CONFIG = get_preset("stn_icnn_helen").config  # the registry entry this recipe trains


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="HELEN root (images/, labels/, exemplars.txt, tuning.txt, ...)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="one step per phase on a tiny subset (for tests)")
    args = parser.parse_args(argv)

    train_set, val_set = HelenParsing(args.data, "train"), HelenParsing(args.data, "val")
    config, schedule, steps = CONFIG, STN_ICNN_SCHEDULE, None
    if args.smoke:
        train_set.records, val_set.records = train_set.records[:4], val_set.records[:2]
        config, args.batch_size, steps = SMOKE_STN_CONFIG, 2, 1
        schedule = smoke_schedule(STN_ICNN_SCHEDULE)
    size = config["input_size"]
    train_seq = ParsingSequence(train_set, args.batch_size, size, augment=Augmenter("helen"), shuffle=True, workers=2)
    val_seq = ParsingSequence(val_set, args.batch_size, size)
    train_stn_icnn(config, train_seq, val_seq, args.out, run_name="stn_icnn_helen", schedule=schedule,
                   steps_per_epoch=steps, run_eagerly=args.smoke)
    return 0


if __name__ == "__main__":
    sys.exit(main())

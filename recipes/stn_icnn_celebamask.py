"""Recipe: STN-iCNN with HELEN's classes on the CelebAMask-HQ subset, at 512x512.

    python recipes/stn_icnn_celebamask.py --data ../shared/data/celebamask_subset --out runs/stn_icnn_celebamask
    python recipes/stn_icnn_celebamask.py --data ../shared/data/celebamask_subset --out /tmp/smoke --smoke

CelebAMask-HQ's 19 classes are mapped to HELEN's 11 (facezoo.classmaps.CELEBAMASK_TO_HELEN).
The paper's phases (stage 1, localizer, parts on ground-truth crops, end to end) with
Adam halved every 5 epochs and the paper's augmentation, for fewer epochs than
facezoo.models.stn_icnn.schedule.STN_ICNN_SCHEDULE (25/10/20/10) so that it trains on a 2-core CPU in
about two hours: 20/6/5/2 (CPU_SCHEDULES beside the presets).
81x81 crops cover 130x130 pixels of the 512x512 face (crop_scale 1.6), which holds the
brows, nose and mouth of these faces. The last 50 training faces are held out for
validation; the 100 test faces are never seen. Rerunning the command resumes.

``--preset stn_icnn_celebamask_lite`` trains the phone-sized variant: stage 1 at 64x64 and
33x33 part crops over the same 130-pixel windows (a fifth of the convolutions; the
preset's LITE_CONFIG), its
stage 1 and part iCNNs started from stn_icnn_celebamask's weights (convolutions do not
depend on the input size; the localizer, whose dense head does, starts afresh):

    python recipes/stn_icnn_celebamask.py --data ../shared/data/celebamask_subset --out runs/stn_icnn_celebamask_lite \
        --preset stn_icnn_celebamask_lite
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from facezoo.classmaps import CELEBAMASK_TO_HELEN, remap_table  # noqa: E402
from facezoo.data import Augmenter, CelebAMask, ParsingSequence  # noqa: E402
from facezoo.registry import get_preset  # noqa: E402
from facezoo.models.stn_icnn.schedule import (SMOKE_STN_CONFIG, cpu_schedule, initial_weights,  # noqa: E402
                                              smoke_schedule, train_stn_icnn)

PRESETS = ("stn_icnn_celebamask", "stn_icnn_celebamask_lite")  # configs and CPU schedules beside the presets
LITE_TEACHER = "stn_icnn_celebamask"  # the lite variant's stage 1 and part iCNNs start from its weights
VALIDATION_FACES = 50


def lite_initial_weights(out_dir, config, source=LITE_TEACHER):
    """A ``.weights.h5`` in the run: ``config``'s STN-iCNN with ``source``'s stage-1 and part
    iCNN weights (same channels, other input sizes) and a fresh localizer."""
    import facezoo

    return initial_weights(facezoo.load(source, compile=False), config, os.path.join(out_dir, "init.weights.h5"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="CelebAMask-HQ root (official or merged layout)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--preset", choices=PRESETS, default=PRESETS[0], help="which published config to train")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="one step per phase on a tiny subset (for tests)")
    args = parser.parse_args(argv)

    train_set = CelebAMask(args.data, "train")
    val_set = CelebAMask(args.data, "train")
    train_set.records, val_set.records = train_set.records[:-VALIDATION_FACES], val_set.records[-VALIDATION_FACES:]
    preset = get_preset(args.preset)
    config, schedule, steps, init = preset.config, cpu_schedule(args.preset), None, None
    if args.preset != LITE_TEACHER and not args.smoke:
        init = lite_initial_weights(args.out, config)
    if args.smoke:
        train_set.records, val_set.records = train_set.records[:4], val_set.records[:2]
        config, args.batch_size, steps = SMOKE_STN_CONFIG, 2, 1
        schedule = smoke_schedule(schedule)
    size = config["input_size"]
    table = remap_table("celebamask", "helen", CELEBAMASK_TO_HELEN)
    train_seq = ParsingSequence(train_set, args.batch_size, size, augment=Augmenter("celebamask"), shuffle=True,
                                label_table=table, workers=2)
    val_seq = ParsingSequence(val_set, args.batch_size, size, label_table=table)
    train_stn_icnn(config, train_seq, val_seq, args.out, run_name=args.preset, schedule=schedule,
                   steps_per_epoch=steps, run_eagerly=args.smoke, init_weights=init,
                   info=None if args.smoke else preset.info)
    return 0


if __name__ == "__main__":
    sys.exit(main())

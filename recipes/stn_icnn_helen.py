"""Recipe: STN-iCNN on HELEN, labels rasterised from HELEN's own 194-point contours.

    python recipes/stn_icnn_helen.py --data ../shared/data/helen68 --out runs/stn_icnn_helen
    python recipes/stn_icnn_helen.py --data ../shared/data/helen68 --out /tmp/smoke --smoke

    # more end-to-end epochs from trained weights (a preset, a .keras or a .weights.h5)
    python recipes/stn_icnn_helen.py --data ../shared/data/helen68 --out runs/stn_icnn_helen_e2e2 \
        --init stn_icnn_helen --only end_to_end --epochs 8 --learning-rate 1e-4 --halve-every 4

Data: the 800 training faces of helen68 (its last 70 training faces validate; the 330
test faces are never seen), aligned to 512x512, components rasterised from HELEN's
contours, skin/hair/background filled in by stn_icnn_celebamask where it is sure and
unknown (left out of the loss) elsewhere: recipes/helen_faces.py, cached in --cache.

Training: the paper's four phases (stage 1; localizer with stage 1 frozen; parts on
crops centred on the labelled parts; end to end with stage 1 and localizer at 0.1x),
started from stn_icnn_celebamask's weights (same architecture, same 11 classes), shorter
than the paper's 25/10/20/10 epochs so it fits a 2-core CPU (CPU_SCHEDULE); Adam halved
every 5 epochs; the paper's augmentation. Rerunning the command resumes.

``--preset stn_icnn_helen_lite`` trains the phone-sized variant (stage 1 at 64x64, 33x33
crops over the same windows, as stn_icnn_celebamask_lite): its stage 1 and part iCNNs start
from stn_icnn_helen's weights (or ``--init``'s), its localizer afresh; the aligned
augmentation is the one its card reports:

    python recipes/stn_icnn_helen.py --data ../shared/data/helen68 --out runs/stn_icnn_helen_lite \
        --preset stn_icnn_helen_lite --augment aligned
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from facezoo.data import Augmenter, ParsingSequence  # noqa: E402
from facezoo.registry import get_preset  # noqa: E402
from facezoo.models.stn_icnn.schedule import SMOKE_STN_CONFIG, cpu_schedule, smoke_schedule, train_stn_icnn  # noqa: E402
from facezoo.models.stn_icnn.schedule import initial_weights as stn_initial_weights  # noqa: E402
from helen_faces import DEFAULT_CACHE, TEACHER, prepared_splits  # noqa: E402

CPU_SCHEDULE = cpu_schedule("stn_icnn_helen")  # beside the preset: facezoo/models/stn_icnn/presets.py
#: preset -> the model its first phase starts from (configs and schedules beside the presets)
PRESETS = {"stn_icnn_helen": TEACHER, "stn_icnn_helen_lite": "stn_icnn_helen"}


#: Training-time variation. The paper's is much wider than what is left on faces aligned onto
#: the template (by five points in facezoo parse, by their 68 when HELEN's faces are scored), and a localizer trained on it places crops no closer than one fixed crop per
#: part would on aligned faces (the card's "Where the gap is").
AUGMENTATIONS = {"paper": {}, "aligned": {"max_rotation": 5.0, "max_shift": 0.03, "scale_range": (0.9, 1.1)}}


def initial_weights(out_dir, source, config):
    """The weights the first phase starts from, as a .weights.h5 in the run: a preset's or a
    saved model's (.keras, .weights.h5); a network of other sizes than ``config``'s (the full
    one starting a lite one) gives its iCNNs and a fresh localizer (schedule.initial_weights)."""
    import facezoo

    if source.endswith(".weights.h5"):
        return source
    path = os.path.join(out_dir, "init.weights.h5")
    if os.path.exists(path):  # a resumed run: do not load the model again
        return path
    return stn_initial_weights(facezoo.load(source, compile=False), config, path)


def continuation(schedule, phase, epochs=None, learning_rate=None, halve_every=None):
    """One phase of ``schedule``, its epochs, rate and halving replaced where given."""
    from facezoo.models.stn_icnn.schedule import Phase

    rows = {p.name: p for p in schedule}
    if phase not in rows:
        raise SystemExit(f"--only: no phase {phase!r} in the schedule; phases: {', '.join(rows)}")
    base = rows[phase]

    def given(value, default):
        return default if value is None else value

    return (Phase(phase, given(epochs, base.epochs), given(learning_rate, base.learning_rate), base.multipliers,
                  given(halve_every, base.halve_every)),)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="HELEN root: annotation/ and the image folders (helen68)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--cache", default=DEFAULT_CACHE, help="prepared faces (shared with rtparser.py --dataset helen)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="stn_icnn_helen", help="which published config to train")
    parser.add_argument("--init", default=None, metavar="PRESET|MODEL",
                        help="weights the first phase starts from: a preset, a .keras or .weights.h5 (default "
                             + ", ".join(f"{teacher} for {preset}" for preset, teacher in PRESETS.items()) + ")")
    parser.add_argument("--only", default=None, metavar="PHASE",
                        help="run this phase of the schedule alone (e.g. end_to_end, continuing --init's weights)")
    parser.add_argument("--epochs", type=int, default=None, help="with --only: its epochs")
    parser.add_argument("--learning-rate", type=float, default=None, help="with --only: its rate")
    parser.add_argument("--halve-every", type=int, default=None, help="with --only: halve the rate every N epochs")
    parser.add_argument("--crop-jitter", type=float, default=0.0, metavar="PX",
                        help="parts phase: shift each training crop's centre by N(0, PX) pixels, so the part "
                             "models do not learn exact centring, which the localizer never gives")
    parser.add_argument("--part-channels", type=int, nargs=4, default=None, metavar="C",
                        help="row channels of wider part iCNNs (e.g. 16 32 48 64), started from --init's part iCNNs "
                             "widened (Net2Net: the same function); a continuation of such a run repeats it")
    parser.add_argument("--part-dice", type=float, default=None, metavar="W",
                        help="weight of a soft-Dice term on the part models' own classes beside their "
                             "cross-entropy (default 0): the thin lips and inner mouth count as much as the rest")
    parser.add_argument("--theta-weight", type=float, default=None, metavar="W",
                        help="weight of the localizer's theta regression in the loss (default 1); the end-to-end "
                             "phase lets the localizer drift off the parts when it is weak")
    parser.add_argument("--augment", choices=sorted(AUGMENTATIONS), default="paper",
                        help="paper: the paper's (rotation +-15 degrees, shift +-10%%, scale 0.8-1.5); aligned: the "
                             "variation left on faces aligned onto the template, which is what the model is given")
    parser.add_argument("--smoke", action="store_true", help="one step per phase on a tiny subset (for tests)")
    args = parser.parse_args(argv)
    if args.only is None and (args.epochs, args.learning_rate, args.halve_every) != (None, None, None):
        parser.error("--epochs, --learning-rate and --halve-every go with --only PHASE")
    if args.only and args.init is None and PRESETS[args.preset] != TEACHER:
        # its default start is another network's: the localizer would start afresh mid-schedule
        parser.error(f"--only continues a run: give --init with a {args.preset} model (e.g. RUN/final.keras)")

    os.makedirs(args.out, exist_ok=True)
    train_set, val_set = prepared_splits(args.data, os.path.join(args.out, "cache") if args.smoke else args.cache,
                                         smoke=args.smoke)
    schedule = cpu_schedule(args.preset)
    if args.only:
        schedule = continuation(schedule, args.only, args.epochs, args.learning_rate, args.halve_every)
    config, steps = get_preset(args.preset).config, None
    if args.part_channels:
        if min(args.part_channels) < 1:
            parser.error(f"--part-channels must be positive, got {args.part_channels}")
        if args.init and args.init.endswith(".weights.h5"):
            parser.error("--part-channels widens a model's part iCNNs: give --init a preset or a .keras file")
        config = {**config, "part_channels": tuple(args.part_channels)}
    source = args.init or PRESETS[args.preset]
    # the 512x512 weights do not fit the smoke net (a smoke run's own weights do)
    init = None if args.smoke and args.init is None else initial_weights(args.out, source, config)
    if args.smoke:
        config, args.batch_size, steps = SMOKE_STN_CONFIG, 2, 1
        schedule = smoke_schedule(schedule)
        if args.part_channels:
            config = {**config, "part_channels": tuple(args.part_channels)}
    if args.part_dice is not None:
        if not 0 <= args.part_dice < float("inf"):
            parser.error(f"--part-dice must be a finite number >= 0, got {args.part_dice}")
        config = {**config, "loss_weights": {**config.get("loss_weights", {}), "part_dice": args.part_dice}}
    if args.theta_weight is not None:
        if not 0 <= args.theta_weight < float("inf"):
            parser.error(f"--theta-weight must be a finite number >= 0, got {args.theta_weight}")
        config = {**config, "loss_weights": {**config.get("loss_weights", {}), "theta": args.theta_weight}}
    size = config["input_size"]
    train_seq = ParsingSequence(train_set, args.batch_size, size, augment=Augmenter("helen", **AUGMENTATIONS[args.augment]),
                                shuffle=True, workers=2)
    val_seq = ParsingSequence(val_set, args.batch_size, size)
    train_stn_icnn(config, train_seq, val_seq, args.out, run_name=args.preset, schedule=schedule,
                   steps_per_epoch=steps, run_eagerly=args.smoke, init_weights=init,
                   info=None if args.smoke else get_preset(args.preset).info, crop_jitter=args.crop_jitter)
    return 0


if __name__ == "__main__":
    sys.exit(main())

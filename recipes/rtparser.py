"""Recipe: the real-time parser (Wei et al. 2019) on LFW Part Labels or CelebAMask-HQ.

    python recipes/rtparser.py --data ../shared/data/lfw_pl --out runs/rtparser_lfw
    python recipes/rtparser.py --data ../shared/data/lfw_pl --out runs/rtparser_lfw_w1 --width 1
    python recipes/rtparser.py --data ../shared/data/lfw_pl --out runs/rtparser_lfw_nosc --width 1 --sc-weight 0
    python recipes/rtparser.py --data ../shared/data/lfw_pl --out runs/rtparser_lfw_student \\
        --student --teacher runs/rtparser_lfw/final.keras --unlabelled ../shared/data/helen68/trainset \\
        --init runs/rtparser_lfw_w1/final.keras --epochs 12 --learning-rate 5e-4 --halve-every 4
    python recipes/rtparser.py --dataset celebamask --data ../shared/data/celebamask_subset \\
        --out runs/rtparser_celebamask
    python recipes/rtparser.py --dataset celebamask --data ../shared/data/celebamask_subset \\
        --out runs/rtparser_celebamask_student --student --teacher runs/rtparser_celebamask/final.keras \\
        --unlabelled ../shared/data/helen68/trainset \\
        --init runs/rtparser_celebamask/final.keras --epochs 16 --learning-rate 5e-4 --halve-every 5
    python recipes/rtparser.py --dataset helen --data ../shared/data/helen68 --out runs/rtparser_helen --sc-weight 0
    python recipes/rtparser.py --dataset helen --data ../shared/data/helen68 --out runs/rtparser_helen_heatmap \
        --sc-weight 0 --heatmap
    python recipes/rtparser.py --data ../shared/data/lfw_pl --out /tmp/smoke --smoke

``--dataset lfw_pl`` (default): 3 classes at 256x256 (faces resized from 250x250), the
official train/val split. ``--dataset celebamask``: all 19 CelebAMask-HQ classes at
512x512, the last 50 training faces held out for validation (the 100 test faces are never
seen).

Teacher: RTParser, width 2.2 (celebamask: 1), dilation 4 (celebamask: 8, see DATASETS),
cross-entropy plus 0.1 x the Statistical Contextual loss on a 16-dimensional embedding
(celebamask: plus a soft Dice term, facezoo.losses.DiceCrossEntropy); Adam 1e-3 halved
every 8 epochs for 30 epochs (celebamask: every 5 for 16), the paper's augmentation plus
flips; best validation epoch kept (pixel accuracy; celebamask: mean IoU).
Student (``--student``): width 1 (4.3x fewer multiply-adds than the 2.2-wide teacher;
celebamask: width 1 at 256x256 with dilation 4, 4x; helen: width 0.4, 4.7x; ``--student-width``, ``--size``,
``--dilation``; refused below 4x), trained by
facezoo.models.Distiller (celebamask: with its Dice term) from the teacher on the labelled
train faces plus unlabelled ones (``--unlabelled DIR``: photos whose faces are detected and
aligned to the dataset's framing, e.g. helen68/trainset). Writes ``final.keras`` (logits
only; its preset's classes, framing and terms in ``model.info``, named after ``--out``).
Rerunning a command resumes it; ``--init MODEL.keras`` starts a new run (a new schedule)
from trained weights.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from facezoo.data import (AlignedFaces, Augmenter, CelebAMask, ConcatDataset, LFWPartLabels,  # noqa: E402
                          ParsingSequence)
from facezoo.losses import DiceCrossEntropy, StatisticalContextualLoss  # noqa: E402
from facezoo.models import Distiller, RTParser  # noqa: E402
from facezoo.models.rtparser import landmark_heatmap, multiply_adds  # noqa: E402
from facezoo.models.rtparser.presets import RECIPE_DATASETS  # noqa: E402
from facezoo.registry import PRESETS  # noqa: E402
from facezoo.training import train  # noqa: E402

LEARNING_RATE, EMBEDDING, VALIDATION_FACES = 1e-3, 16, 50

DATASETS = RECIPE_DATASETS  # beside the presets they trained: facezoo/models/rtparser/presets.py


def splits(dataset, root, smoke=False):
    """Labelled train and validation sets (CelebAMask-HQ: the last training faces validate;
    HELEN: recipes/helen_faces.py's prepared faces, its last 70 training faces validate)."""
    if dataset == "lfw_pl":
        return LFWPartLabels(root, "train"), LFWPartLabels(root, "val")
    if dataset == "helen":
        from helen_faces import DEFAULT_CACHE, prepared_splits

        return prepared_splits(root, DEFAULT_CACHE if not smoke else os.path.join(DEFAULT_CACHE + "_smoke"), smoke)
    train_set, val_set = CelebAMask(root, "train"), CelebAMask(root, "train")
    train_set.records, val_set.records = train_set.records[:-VALIDATION_FACES], val_set.records[-VALIDATION_FACES:]
    return train_set, val_set


class TargetsFor(keras.utils.PyDataset):
    """The same label maps for every named output of a multi-output model."""

    def __init__(self, sequence, names):
        super().__init__(workers=getattr(sequence, "workers", 1))
        self.sequence, self.names = sequence, names

    def __len__(self):
        return len(self.sequence)

    def __getitem__(self, index):
        images, labels = self.sequence[index]
        return images, {name: labels for name in self.names}

    def on_epoch_end(self):
        self.sequence.on_epoch_end()

    def set_epoch(self, epoch):
        self.sequence.set_epoch(epoch)


class WithHeatmap(ParsingSequence):
    """The sequence's faces with a fourth channel: the heatmap of their 68 landmarks
    (facezoo.models.rtparser.landmark_heatmap), moved with the augmentation."""

    def __getitem__(self, batch_index):
        images, labels = super().__getitem__(batch_index)
        indices = self._order[batch_index * self.batch_size:(batch_index + 1) * self.batch_size]
        heat = [landmark_heatmap(self.load(i).landmarks, images.shape[1:3]) for i in indices]
        return np.concatenate([images, np.stack(heat)[..., None]], axis=-1), labels


def initialised(model, init):
    """``model`` starting from the weights of the trained RTParser (or Distiller's student)
    in ``init`` (:meth:`RTParser.copy_weights_from`); ``model`` itself without ``init``."""
    if not init:
        return model
    trained = keras.models.load_model(init)
    if isinstance(trained, Distiller):
        trained = trained.student
    if not isinstance(trained, RTParser):
        raise SystemExit(f"--init: {init} holds a {type(trained).__name__}, not an RTParser")
    try:
        return model.copy_weights_from(trained)
    except ValueError as error:
        raise SystemExit(f"--init: {init} does not fit this run's model ({error})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="lfw_pl")
    parser.add_argument("--data", required=True, help="the dataset's root (LFW-PL, CelebAMask-HQ or helen68)")
    parser.add_argument("--out", required=True, help="run directory (checkpoints, logs, resume backups)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 16 for lfw_pl, 8 for celebamask")
    parser.add_argument("--epochs", type=int, default=None, help="default: 30 for lfw_pl, 16 for celebamask")
    parser.add_argument("--halve-every", type=int, default=None, help="epochs per halving of the learning rate")
    parser.add_argument("--sc-weight", type=float, default=0.1, help="weight of the SC loss (0 disables it)")
    parser.add_argument("--dice-weight", type=float, default=None,
                        help="weight of the soft Dice term (default: 0 for lfw_pl, 1 for celebamask)")
    parser.add_argument("--dilation", type=int, default=None,
                        help="default: 4 for lfw_pl, 8 for celebamask (4 for students)")
    parser.add_argument("--size", type=int, default=None,
                        help="network input side (default: the dataset's; 256 for students)")
    parser.add_argument("--width", type=float, default=None,
                        help="teacher channel multiplier (default: 2.2 for lfw_pl, 1 for celebamask)")
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE, help="Adam's initial rate")
    parser.add_argument("--init", default=None, metavar="MODEL.keras",
                        help="start from a trained RTParser of the same shape (its weights; a new schedule)")
    parser.add_argument("--student", action="store_true", help="distil a student from --teacher")
    parser.add_argument("--student-width", type=float, default=None,
                        help="student channel multiplier (default: 1); the student must need >= 4x fewer "
                             "multiply-adds than the teacher")
    parser.add_argument("--teacher", default=None, help="teacher .keras file (for --student)")
    parser.add_argument("--unlabelled", default=None, metavar="DIR", help="photos of unlabelled faces (--student)")
    parser.add_argument("--heatmap", action="store_true",
                        help="a landmark-heatmap input channel (Wei et al.), from the faces' 68 points (helen only)")
    parser.add_argument("--smoke", action="store_true", help="a few steps on a tiny subset (for tests)")
    args = parser.parse_args(argv)
    if args.heatmap and (args.dataset != "helen" or args.student):
        parser.error("--heatmap needs landmarks on the training faces: --dataset helen, not with --student")
    if args.student and not (args.teacher and os.path.isfile(args.teacher)):
        parser.error("--student needs --teacher FILE.keras (a trained teacher of the same dataset)")
    if args.init and not os.path.isfile(args.init):
        parser.error(f"--init: no file {args.init}")

    spec = DATASETS[args.dataset]
    num_classes, batch_size = spec["num_classes"], args.batch_size or spec["batch_size"]
    train_set, val_set = splits(args.dataset, args.data, args.smoke)
    network = spec["student"] if args.student else spec  # --size and --dilation apply to the trained one
    size, epochs = args.size or network["size"], args.epochs or spec["epochs"]
    dilation = args.dilation or network["dilation"]
    width = spec["width"] if args.width is None else args.width
    student_width = spec["student"]["width"] if args.student_width is None else args.student_width
    if args.smoke:
        train_set.records, val_set.records = train_set.records[:4], val_set.records[:2]
        batch_size, size, epochs = 2, 64, 1
    augment = Augmenter(args.dataset, flip=0.5)
    sequence = WithHeatmap if args.heatmap else ParsingSequence
    train_seq = sequence(train_set, batch_size, (size, size), augment=augment, shuffle=True, workers=2)
    val_seq = sequence(val_set, batch_size, (size, size))
    run_name = spec["name"] + ("_student" if args.student else "")
    dice_weight = spec["dice_weight"] if args.dice_weight is None else args.dice_weight
    common = dict(run_name=run_name, epochs=epochs, learning_rate=args.learning_rate,
                  halve_every=args.halve_every or spec["halve_every"],
                  run_eagerly=args.smoke)

    if args.student:
        teacher = keras.models.load_model(args.teacher)
        if teacher.output_shape[-1] != num_classes:
            parser.error(f"--teacher predicts {teacher.output_shape[-1]} classes; {args.dataset} has {num_classes}")
        if args.unlabelled:
            extra = AlignedFaces(args.unlabelled, spec["framing"], spec["stored_size"], limit=4 if args.smoke else None)
            train_seq = ParsingSequence(ConcatDataset(train_set, extra), batch_size, (size, size),
                                        augment=augment, shuffle=True, unlabelled=True, workers=2)

        def make_student():
            return RTParser(num_classes=num_classes, input_size=(size, size), width=student_width,
                            dilation=dilation, name=run_name)

        ratio = multiply_adds(teacher) / multiply_adds(make_student())
        if ratio < 4 and not args.smoke:
            parser.error(f"--student-width {student_width}: the student needs only {ratio:.2f}x fewer "
                         "multiply-adds than the teacher (at least 4x wanted)")
        print(f"student: {ratio:.2f}x fewer multiply-adds than the teacher")

        def build():
            return Distiller(initialised(make_student(), args.init), teacher, dice_weight=dice_weight)

        train(build, train_seq, val_seq, args.out, monitor=("val_loss", "min"), **common)
        best = keras.models.load_model(os.path.join(args.out, "best.keras")).student
    else:
        sc = args.sc_weight > 0

        def build():
            return initialised(RTParser(num_classes=num_classes, input_size=(size, size), dilation=dilation,
                                        width=width, embedding_dims=EMBEDDING if sc else 0, name=run_name,
                                        heatmap_channel=args.heatmap),
                               args.init)

        ce = (DiceCrossEntropy(dice_weight) if dice_weight else
              keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy"),
                   keras.metrics.MeanIoU(num_classes, name="mean_iou", sparse_y_pred=False, ignore_class=-1)]
        if sc:
            loss = {"logits": ce, "embedding": StatisticalContextualLoss(num_classes=num_classes)}
            extra = dict(loss_weights={"logits": 1.0, "embedding": args.sc_weight}, metrics={"logits": metrics})
            train_seq, val_seq = TargetsFor(train_seq, ("logits", "embedding")), TargetsFor(val_seq, ("logits",
                                                                                                    "embedding"))
            monitor = (f"val_logits_{spec['monitor']}", "max")
        else:
            loss, extra, monitor = ce, dict(metrics=metrics), (f"val_{spec['monitor']}", "max")
        train(build, train_seq, val_seq, args.out, loss=loss, monitor=monitor, **common, **extra)
        best = keras.models.load_model(os.path.join(args.out, "best.keras"))
        if sc:
            best = best.without_embedding()
    if run_name in PRESETS and not args.smoke:  # classes, framing and terms travel with final.keras
        best.info = PRESETS[run_name].model_info(best.info).replace(
            name=os.path.basename(os.path.normpath(args.out)), input_size=(size, size))
    best.save(os.path.join(args.out, "final.keras"))
    np.asarray(best(np.zeros((1, size, size, 3 + int(args.heatmap)), "float32")))  # a final check that it runs
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Recipe: the real-time parser (Wei et al. 2019), 3 classes, on LFW Part Labels.

    python recipes/rtparser_lfw.py --data ../shared/data/lfw_pl --out runs/rtparser_lfw
    python recipes/rtparser_lfw.py --data ../shared/data/lfw_pl --out runs/rtparser_lfw_nosc --sc-weight 0
    python recipes/rtparser_lfw.py --data ../shared/data/lfw_pl --out runs/rtparser_lfw_student \\
        --student --teacher runs/rtparser_lfw/final.keras
    python recipes/rtparser_lfw.py --data ../shared/data/lfw_pl --out /tmp/smoke --smoke

Teacher: RTParser at 256x256 (faces resized from 250x250), dilation 4, cross-entropy plus
0.1 x the Statistical Contextual loss on a 16-dimensional embedding; 30 epochs, batch 16,
Adam 1e-3 halved every 8 epochs, the paper's augmentation plus flips; best validation
epoch kept. Student (``--student``): width 0.4 (4.5x fewer multiply-adds), trained by
facezoo.models.Distiller from the teacher on the labelled train faces plus unlabelled
ones (``--unlabelled DIR``: photos whose faces are detected and aligned to LFW's framing,
e.g. helen68/trainset). Writes ``final.keras`` (logits only).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from facezoo.data import AlignedFaces, Augmenter, ConcatDataset, LFWPartLabels, ParsingSequence  # noqa: E402
from facezoo.losses import StatisticalContextualLoss  # noqa: E402
from facezoo.models import Distiller, RTParser  # noqa: E402
from facezoo.training import train  # noqa: E402

SIZE, EPOCHS, LEARNING_RATE, HALVE_EVERY, DILATION, EMBEDDING = 256, 30, 1e-3, 8, 4, 16


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="LFW-PL root (lfw_funneled/, parts_*.txt, ...)")
    parser.add_argument("--out", required=True, help="run directory (checkpoints, logs, resume backups)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--sc-weight", type=float, default=0.1, help="weight of the SC loss (0 disables it)")
    parser.add_argument("--dilation", type=int, default=DILATION)
    parser.add_argument("--size", type=int, default=SIZE)
    parser.add_argument("--width", type=float, default=1.0, help="teacher channel multiplier")
    parser.add_argument("--student", action="store_true", help="distil a width-0.4 student from --teacher")
    parser.add_argument("--teacher", default=None, help="teacher .keras file (for --student)")
    parser.add_argument("--unlabelled", default=None, metavar="DIR", help="photos of unlabelled faces (--student)")
    parser.add_argument("--smoke", action="store_true", help="a few steps on a tiny subset (for tests)")
    args = parser.parse_args(argv)
    if args.student and not (args.teacher and os.path.isfile(args.teacher)):
        parser.error("--student needs --teacher FILE.keras (a trained rtparser_lfw)")

    train_set, val_set = LFWPartLabels(args.data, "train"), LFWPartLabels(args.data, "val")
    size, epochs = args.size, args.epochs
    if args.smoke:
        train_set.records, val_set.records = train_set.records[:4], val_set.records[:2]
        args.batch_size, size, epochs = 2, 64, 1
    augment = Augmenter("lfw_pl", flip=0.5)
    train_seq = ParsingSequence(train_set, args.batch_size, (size, size), augment=augment, shuffle=True, workers=2)
    val_seq = ParsingSequence(val_set, args.batch_size, (size, size))
    common = dict(run_name="rtparser_lfw_student" if args.student else "rtparser_lfw", epochs=epochs,
                  learning_rate=LEARNING_RATE, halve_every=HALVE_EVERY, run_eagerly=args.smoke)

    if args.student:
        teacher = keras.models.load_model(args.teacher)
        if args.unlabelled:
            extra = AlignedFaces(args.unlabelled, "icnn_lfw", (250, 250), limit=4 if args.smoke else None)
            train_seq = ParsingSequence(ConcatDataset(train_set, extra), args.batch_size, (size, size),
                                        augment=augment, shuffle=True, unlabelled=True, workers=2)

        def build():
            student = RTParser(num_classes=3, input_size=(size, size), width=0.4, dilation=args.dilation,
                               name="rtparser_lfw_student")
            return Distiller(student, teacher)

        train(build, train_seq, val_seq, args.out, monitor=("val_loss", "min"), **common)
        best = keras.models.load_model(os.path.join(args.out, "best.keras")).student
    else:
        sc = args.sc_weight > 0

        def build():
            return RTParser(num_classes=3, input_size=(size, size), dilation=args.dilation, width=args.width,
                            embedding_dims=EMBEDDING if sc else 0, name="rtparser_lfw")

        ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        accuracy = keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy")
        if sc:
            loss = {"logits": ce, "embedding": StatisticalContextualLoss(num_classes=3)}
            extra = dict(loss_weights={"logits": 1.0, "embedding": args.sc_weight}, metrics={"logits": [accuracy]})
            train_seq, val_seq = TargetsFor(train_seq, ("logits", "embedding")), TargetsFor(val_seq, ("logits",
                                                                                                    "embedding"))
            monitor = ("val_logits_pixel_accuracy", "max")
        else:
            loss, extra, monitor = ce, dict(metrics=[accuracy]), ("val_pixel_accuracy", "max")
        train(build, train_seq, val_seq, args.out, loss=loss, monitor=monitor, **common, **extra)
        best = keras.models.load_model(os.path.join(args.out, "best.keras"))
        if sc:
            best = best.without_embedding()
    best.save(os.path.join(args.out, "final.keras"))
    np.asarray(best(np.zeros((1, size, size, 3), "float32")))  # a final check that it runs
    return 0


if __name__ == "__main__":
    sys.exit(main())

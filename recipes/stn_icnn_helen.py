"""Recipe: STN-iCNN on HELEN, labels rasterised from HELEN's own 194-point contours.

    python recipes/stn_icnn_helen.py --data ../shared/data/helen68 --out runs/stn_icnn_helen
    python recipes/stn_icnn_helen.py --data ../shared/data/helen68 --out /tmp/smoke --smoke

Data: facezoo.data.HelenContours on the 800 training faces of helen68 (its last 70
training faces validate; the 330 test faces are never seen). Each face is aligned to the
stn_icnn_celebamask template by its 68 points (the template facezoo.parse aligns photos
onto with MTCNN) and cut to 512x512; brows, eyes, nose, lips and inner mouth are
rasterised from the contours in the crop. The contours do not say which other pixel is
skin, hair or background: those are filled in once, before training, by the
stn_icnn_celebamask parser (its most likely class among background, skin and hair, where
it gives that class at least CONFIDENCE of their joint probability; elsewhere the pixel
is unknown, -1, and every loss leaves it out). The components always come from the
contours. Cached in OUT/prepared/.

Training: the paper's four phases (stage 1; localizer with stage 1 frozen; parts on
crops centred on the labelled parts; end to end with stage 1 and localizer at 0.1x),
started from stn_icnn_celebamask's weights (same architecture, same 11 classes), shorter
than the paper's 25/10/20/10 epochs so it fits a 2-core CPU (CPU_SCHEDULE); Adam halved
every 5 epochs; the paper's augmentation. Rerunning the command resumes.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from facezoo.classmaps import HELEN  # noqa: E402
from facezoo.data import Augmenter, FaceDataset, ParsingSequence, Sample  # noqa: E402
from facezoo.data.helen import IGNORE, HelenContours  # noqa: E402
from facezoo.registry import get_preset  # noqa: E402
from facezoo.models.stn_icnn.schedule import SMOKE_STN_CONFIG, Phase, smoke_schedule, train_stn_icnn  # noqa: E402

TEACHER = "stn_icnn_celebamask"
CONFIG = get_preset(TEACHER).config  # the same network, fine-tuned
CONFIDENCE = 0.6
CPU_SCHEDULE = (
    Phase("stage1", 6, 5e-4),
    Phase("localizer", 3, 5e-4),
    Phase("parts", 6, 5e-4),
    Phase("end_to_end", 4, 1e-4, {"stage1/": 0.1, "localizer/": 0.1}),
)
FILLED = ("background", "skin", "hair")


def template(preset, size):
    """The preset's five alignment keypoints in pixels of a crop of ``size``."""
    return np.asarray(preset.alignment["keypoints"], np.float64) * (size[1], size[0])


def fill_unknown(labels, probabilities):
    """Labels with the unknown pixels given the teacher's background/skin/hair where it is sure."""
    ids = [HELEN.index(n) for n in FILLED]
    joint = probabilities[..., ids]
    joint = joint / np.maximum(joint.sum(-1, keepdims=True), 1e-6)
    best = joint.argmax(-1)
    sure = joint.max(-1) >= CONFIDENCE
    filled = np.where(sure, np.asarray(ids)[best], IGNORE)
    return np.where(labels == IGNORE, filled, labels).astype(np.int8)


class PreparedFaces(FaceDataset):
    """The cached aligned faces of one split (``OUT/prepared/<split>/<id>.npz``)."""

    splits = ("train", "val")
    class_map = HELEN

    def _find(self, split):
        folder = os.path.join(self.root, split)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".npz"):
                yield name[:-4], os.path.join(folder, name)

    def _load(self, record):
        with np.load(record[1]) as data:
            return Sample(record[0], data["image"], data["labels"].astype(np.int32))


def prepare(data_root, out_dir, split, limit=None, batch_size=8):
    """Align, rasterise and fill one split into ``out_dir/prepared/split`` (skips what exists)."""
    import facezoo

    folder = os.path.join(out_dir, "prepared", split)
    os.makedirs(folder, exist_ok=True)
    teacher = get_preset(TEACHER)
    faces = HelenContours(data_root, split, align_to=template(teacher, teacher.input_size), size=teacher.input_size)
    todo = [i for i in range(len(faces) if limit is None else limit)
            if not os.path.exists(os.path.join(folder, faces.ids[i] + ".npz"))]
    if not todo:
        return os.path.join(out_dir, "prepared")
    model = facezoo.load(TEACHER, compile=False)
    for start in tqdm(range(0, len(todo), batch_size), desc=f"preparing {split}"):
        samples = [faces[i] for i in todo[start:start + batch_size]]
        probabilities = np.asarray(model.predict_on_batch(np.stack([s.image for s in samples]) / np.float32(255)))
        for sample, probs in zip(samples, probabilities):
            path = os.path.join(folder, sample.id + ".npz")
            np.savez(path + ".tmp.npz", image=sample.image, labels=fill_unknown(sample.labels, probs))
            os.replace(path + ".tmp.npz", path)
    return os.path.join(out_dir, "prepared")


def initial_weights(out_dir):
    """The teacher's weights as a .weights.h5 the first phase starts from."""
    import facezoo

    path = os.path.join(out_dir, "init.weights.h5")
    if not os.path.exists(path):
        facezoo.load(TEACHER, compile=False).save_weights(path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="HELEN root: annotation/ and the image folders (helen68)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="one step per phase on a tiny subset (for tests)")
    args = parser.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    limit = 4 if args.smoke else None
    prepared = prepare(args.data, args.out, "train", limit)
    prepare(args.data, args.out, "val", 2 if args.smoke else None)
    train_set, val_set = PreparedFaces(prepared, "train"), PreparedFaces(prepared, "val")
    config, schedule, steps, init = CONFIG, CPU_SCHEDULE, None, initial_weights(args.out)
    if args.smoke:
        config, args.batch_size, steps, init = SMOKE_STN_CONFIG, 2, 1, None
        schedule = smoke_schedule(CPU_SCHEDULE)
    size = config["input_size"]
    train_seq = ParsingSequence(train_set, args.batch_size, size, augment=Augmenter("helen"), shuffle=True, workers=2)
    val_seq = ParsingSequence(val_set, args.batch_size, size)
    train_stn_icnn(config, train_seq, val_seq, args.out, run_name="stn_icnn_helen", schedule=schedule,
                   steps_per_epoch=steps, run_eagerly=args.smoke, init_weights=init)
    return 0


if __name__ == "__main__":
    sys.exit(main())

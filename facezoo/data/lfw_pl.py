"""LFW Part Labels (Kae et al., CVPR 2013) in its original layout.

    ROOT/lfw_funneled/<Name>/<Name>_<NNNN>.jpg
    ROOT/parts_lfw_funneled_gt_images/<Name>_<NNNN>.png   (or .ppm, same pixels)
    ROOT/parts_train.txt, parts_validation.txt, parts_test.txt   ("Name N" per line)

Labels are RGB: red = hair, green = skin, blue = background; facezoo's ``lfw_pl`` class
map numbers them 0 background, 1 skin, 2 hair. Split lines may carry the number
unpadded ("Dianne_Feinstein 2" is Dianne_Feinstein_0002).

Example:
    >>> test = LFWPartLabels("/data/lfw_pl", split="test")
    >>> len(test), test[0].image.shape, test[0].labels.shape
    (927, (250, 250, 3), (250, 250))
"""

import os

from facezoo.classmaps import LFW_PL
from facezoo.data.base import FaceDataset, Sample
from facezoo.data.io import DataError, check_same_size, colors_to_labels, read_image, read_rgb_label

SPLIT_FILES = {"train": "parts_train.txt", "val": "parts_validation.txt", "test": "parts_test.txt"}
LABEL_COLORS = ((0, 0, 255), (0, 255, 0), (255, 0, 0))  # background, skin, hair


def read_split_list(list_path):
    """``(name, "<Name>_<NNNN>")`` for each ``Name N`` line of an LFW split file; the photo
    is ``lfw_funneled/<name>/<Name>_<NNNN>.jpg``. Raises DataError naming the file and line."""
    if not os.path.isfile(list_path):
        raise DataError(f"{list_path}: no such split list")
    with open(list_path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].isdigit():
                raise DataError(f"{list_path}:{line_no}: expected 'Name Number', got {line.strip()!r}")
            yield fields[0], f"{fields[0]}_{int(fields[1]):04d}"


class LFWPartLabels(FaceDataset):
    """LFW-PL faces (250x250) with background/skin/hair label maps."""

    splits = tuple(SPLIT_FILES)
    class_map = LFW_PL

    def _find(self, split):
        list_path = os.path.join(self.root, SPLIT_FILES[split])
        if not os.path.isfile(list_path):
            raise DataError(f"{list_path}: split list missing (is {self.root} an LFW-PL root?)")
        label_dir = os.path.join(self.root, "parts_lfw_funneled_gt_images")
        for name, sample_id in read_split_list(list_path):
            image = os.path.join(self.root, "lfw_funneled", name, sample_id + ".jpg")
            label = next(
                (os.path.join(label_dir, sample_id + ext) for ext in (".png", ".ppm")
                 if os.path.isfile(os.path.join(label_dir, sample_id + ext))),
                None,
            )
            if label is None:
                raise DataError(f"{os.path.join(label_dir, sample_id)}.png/.ppm: label missing for {image}")
            yield sample_id, image, label

    def _load(self, record):
        sample_id, image_path, label_path = record
        image = read_image(image_path)
        labels = colors_to_labels(read_rgb_label(label_path), LABEL_COLORS, label_path)
        check_same_size(image, labels, label_path)
        return Sample(sample_id, image, labels)

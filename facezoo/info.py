"""What a model needs to be used, carried by the model itself: :class:`ModelInfo`.

A facezoo model knows its task, its classes and their colours, the input size and
normalisation it expects, the face crop and alignment template it was trained on, what
its output is and which side ``l_``/``r_`` name. ``model.info`` is saved in the model's
config, so it survives ``.keras`` files, facezoo ``.npz`` checkpoints and the Hub, and it
is what :func:`facezoo.parse`, :func:`facezoo.landmarks`, :func:`facezoo.export` and
:func:`facezoo.hub.publish` read.

Example:
    >>> model = facezoo.load("icnn_lfw")
    >>> model.info.class_names, model.info.input_size, model.info.output
    (('background', 'skin', 'hair'), (160, 160), 'logits')
    >>> batch = model.preprocess(face_crop)        # uint8 (H, W, 3) or float in [0, 1]
    >>> model.info.to_dict()                       # what export metadata and config.json carry
"""

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

#: The one side convention of every facezoo class map (see facezoo.classmaps).
SIDES = "subject: l_/r_ name the subject's own left/right (the subject's left eye is on the image's right)"
TASKS = ("parsing", "landmarks")
OUTPUTS = {
    "logits": "per-pixel class logits (B, H, W, classes): softmax gives probabilities, arg-max the label map",
    "probabilities": "per-pixel class probabilities (B, H, W, classes): arg-max gives the label map",
    "points": "landmarks (B, points, 2): x, y in pixels of the input, pixel centres at integers",
}
DEFAULT_PREPROCESSING = {"scale": 1 / 255.0, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "color": "RGB"}


def default_colors(count):
    """``count`` distinct RGB colours (background black), for class maps that name none."""
    colors = [(0, 0, 0)][:count]
    for index in range(1, count):
        hue = (index * 0.618033988749895) % 1.0
        h, s, v = hue * 6, 0.75, 0.95
        i, f = int(h), h - int(h)
        p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
        rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i % 6]
        colors.append(tuple(int(round(255 * c)) for c in rgb))
    return tuple(colors)


@dataclass(frozen=True)
class ModelInfo:
    """Everything a model needs to be used, beside its weights.

    Args:
        name: the model's name (a preset name for shipped models).
        task: ``"parsing"`` or ``"landmarks"``.
        input_size: ``(H, W)`` the model expects (landmark models accept any size).
        class_names, class_colors: the classes of a parser (index 0 is background) and
            their RGB colours; empty for landmark models.
        num_points: landmarks a landmark model predicts.
        output: ``"logits"``, ``"probabilities"`` or ``"points"`` (see :data:`OUTPUTS`).
        preprocessing: ``{"scale", "mean", "std", "color"}``: the input is
            ``(pixels_0_255 * scale - mean) / std``.
        alignment: the five mean MTCNN keypoints of the training faces (fractions of the
            crop) and their box; :func:`facezoo.parse` aligns photos onto it. None: the
            model takes crops that are already aligned.
        face_crop, license, dataset: words for people (export metadata, model cards).
        sides: the left/right convention of the class names (:data:`SIDES`).
    """

    name: str
    task: str
    input_size: tuple
    class_names: tuple = ()
    class_colors: tuple = ()
    num_points: int = 0
    output: str = "logits"
    preprocessing: dict = field(default_factory=lambda: dict(DEFAULT_PREPROCESSING))
    alignment: Optional[dict] = None
    face_crop: str = ""
    license: str = ""
    dataset: str = ""
    sides: str = SIDES

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {sorted(OUTPUTS)}, got {self.output!r}")
        size = tuple(int(v) for v in self.input_size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"input_size must be (height, width), got {self.input_size!r}")
        names = tuple(str(n) for n in self.class_names)
        if len(set(names)) != len(names):
            raise ValueError(f"class_names must be distinct, got {list(names)}")
        colors = tuple(tuple(int(c) for c in color) for color in self.class_colors) or default_colors(len(names))
        if len(colors) != len(names) or any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in colors):
            raise ValueError(f"class_colors must give one RGB triple in 0..255 per class ({len(names)} classes), "
                             f"got {list(self.class_colors)}")
        if self.task == "parsing" and len(names) < 2:
            raise ValueError(f"a parser needs at least two classes (background first), got {list(names)}")
        missing = {"scale", "mean", "std"} - set(self.preprocessing)
        if missing:
            raise ValueError(f"preprocessing needs {sorted(missing)}, got {self.preprocessing!r}")
        # JSON's shapes (lists), so that an info equals itself after a trip through a file
        object.__setattr__(self, "preprocessing", json.loads(json.dumps(self.preprocessing)))
        if self.alignment is not None:
            object.__setattr__(self, "alignment", json.loads(json.dumps(self.alignment)))
        object.__setattr__(self, "input_size", size)
        object.__setattr__(self, "class_names", names)
        object.__setattr__(self, "class_colors", colors if names else ())

    @property
    def num_classes(self):
        return len(self.class_names)

    def replace(self, **changes):
        """A copy with ``changes`` (checked like a new one)."""
        return dataclasses.replace(self, **changes)

    def with_classes(self, class_names, class_colors=None):
        """The same model description for a new class set (colours of classes kept by
        name, new ones generated unless given)."""
        class_names = tuple(class_names)
        if class_colors is None:
            known = dict(zip(self.class_names, self.class_colors))
            generated = default_colors(len(class_names))
            class_colors = tuple(known.get(n, generated[i]) for i, n in enumerate(class_names))
        return self.replace(class_names=class_names, class_colors=tuple(class_colors))

    def to_dict(self):
        """JSON-ready: what a model's config, export metadata and Hub ``config.json`` carry."""
        data = dataclasses.asdict(self)
        data["input_size"] = list(self.input_size)
        data["class_names"] = list(self.class_names)
        data["class_colors"] = [list(c) for c in self.class_colors]
        return data

    @classmethod
    def from_dict(cls, data):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model info keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)

    def input_range(self):
        """``(low, high)``, each ``(3,)``: where :meth:`preprocess` puts 8-bit pixels 0 and 255
        in each channel (the model's normalised input lies between them)."""
        p = self.preprocessing
        ends = [(value * float(p["scale"]) - np.asarray(p["mean"], np.float64)) / np.asarray(p["std"], np.float64)
                for value in (0.0, 255.0)]
        return np.minimum(*ends), np.maximum(*ends)

    def preprocess(self, images, resize=None):
        """Image(s) ``(H, W, 3)`` or ``(B, H, W, 3)`` -> the float32 model input batch.

        * ``uint8`` (and other integer arrays with values in 0..255) are 8-bit pixels;
        * floating-point arrays must hold intensities in [0, 1] (as ``image / 255``);
          anything outside [0, 1] is refused rather than guessed at;
        * each image is resized (bilinear) to :attr:`input_size` when ``resize``; by default
          for parsers, whose labels come at their input size, but not for a model whose
          :attr:`output` is ``"points"`` (a landmark model takes any size and answers in the
          pixels of the crop it is given); then normalised by :attr:`preprocessing`.
        """
        from PIL import Image

        if resize is None:
            resize = self.output != "points"
        array = np.asarray(images)
        if array.ndim == 3:
            array = array[None]
        if array.ndim != 4 or array.shape[-1] != 3:
            raise ValueError(f"expected RGB image(s) of shape (H, W, 3) or (B, H, W, 3), got {array.shape}")
        height, width = self.input_size if resize else array.shape[1:3]
        if array.dtype.kind == "f":
            if array.size and not (np.isfinite(array).all() and array.min() >= 0.0 and array.max() <= 1.0):
                raise ValueError(
                    f"float images must hold intensities in [0, 1] (image / 255); these range over "
                    f"[{np.nanmin(array):.3g}, {np.nanmax(array):.3g}]. Pass uint8 pixels for 0..255")
            resized = np.stack([np.stack([
                np.asarray(Image.fromarray(a[..., c].astype(np.float32), mode="F").resize((width, height),
                                                                                            Image.BILINEAR))
                for c in range(3)], -1) for a in array]) * np.float32(255.0)
        elif array.dtype.kind in "ui" or array.dtype == bool:
            if array.dtype != np.uint8 and array.size and (array.min() < 0 or array.max() > 255):
                raise ValueError(f"integer images must be 8-bit pixels in 0..255; these range over "
                                 f"[{array.min()}, {array.max()}] (convert 16-bit images to 8 bits first)")
            if array.shape[1:3] == (height, width):  # already the model's size (the photo pipeline's crops)
                resized = array.astype(np.float32)
            else:
                resized = np.stack([
                    np.asarray(Image.fromarray(a.astype(np.uint8)).resize((width, height), Image.BILINEAR))
                    for a in array]).astype(np.float32)
        else:
            raise ValueError(f"images must be uint8 pixels or floats in [0, 1], got dtype {array.dtype}")
        p = self.preprocessing
        # in place, in the order (x * scale - mean) / std
        resized *= np.float32(p["scale"])
        resized -= np.asarray(p["mean"], np.float32)
        resized /= np.asarray(p["std"], np.float32)
        return resized

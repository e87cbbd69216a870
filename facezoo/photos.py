"""Parse faces in photos: detect, align to the preset's template, parse, map back.

Example:
    >>> import facezoo
    >>> result = facezoo.parse("group.jpg")               # stn_icnn_celebamask by default
    >>> result.labels.shape                               # (H, W) uint8 at the photo's resolution
    >>> [face.detection.score for face in result.faces]
    >>> result.save("out/", "group", photo)               # labels PNG, overlay PNG, JSON
    >>> facezoo.parse(crop, model="icnn_lfw", aligned=True)   # an already aligned face crop

Each detected face is warped onto the preset's alignment template (the mean keypoints of
its training faces, see ``Preset.alignment``) with a similarity transform, parsed at the
model's input size, and its class probabilities are resampled back onto the photo.
Where faces overlap, each pixel takes the face that is surer it is not background.
"""

import json
import os
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from facezoo.align import apply, box_transform, invert, paste_probabilities, similarity_transform, warp_to_crop
from facezoo.data.io import DataError, read_image, to_rgb_array
from facezoo.data.io import read_photo as _read_photo_file
from facezoo.detect import KEYPOINT_NAMES, Detection, MTCNNDetector
from facezoo.utils import atomic_outputs

DEFAULT_MODEL = "stn_icnn_celebamask"


@dataclass
class FaceResult:
    """One parsed face: its detection and the transform from photo to model-crop pixels."""

    detection: Detection
    transform: np.ndarray

    def to_json(self):
        data = self.detection.to_json()
        if "keypoints" in data:
            data["landmarks"] = data.pop("keypoints")
        data["photo_to_crop"] = np.round(self.transform, 6).tolist()
        return data


@dataclass
class ParseResult:
    """``labels`` ``(H, W)`` uint8 in the model's class map (0 = background) at the photo's
    resolution, the ``faces`` found, and the class map."""

    labels: np.ndarray
    faces: list
    model: str
    class_names: tuple
    class_colors: tuple
    source: str = ""
    notes: list = field(default_factory=list)

    def to_json(self):
        import facezoo

        return {
            "image": self.source, "width": int(self.labels.shape[1]), "height": int(self.labels.shape[0]),
            "model": self.model, "facezoo_version": facezoo.__version__,
            "class_names": list(self.class_names), "class_colors": [list(c) for c in self.class_colors],
            "faces": [face.to_json() for face in self.faces], "notes": self.notes,
        }

    def overlay(self, image, alpha=0.5):
        """The photo with class colours blended in, face boxes, and a legend."""
        image = np.asarray(image, np.uint8)
        colors = np.asarray(self.class_colors, np.float32)
        blended = image.astype(np.float32)
        mask = self.labels > 0
        blended[mask] = (1 - alpha) * blended[mask] + alpha * colors[self.labels[mask]]
        canvas = Image.fromarray(blended.round().astype(np.uint8))
        draw = ImageDraw.Draw(canvas)
        height, width = self.labels.shape
        unit = max(12, min(height, width) // 40)
        for face in self.faces:
            draw.rectangle([round(v) for v in face.detection.box], outline=(255, 255, 255), width=max(1, unit // 8))
        font = _font(unit)
        names = [(i, n) for i, n in enumerate(self.class_names) if i > 0]
        box_h = unit * (len(names) + 1)
        box_w = unit * 2 + int(max(draw.textlength(n, font=font) for _, n in names)) + unit // 2
        draw.rectangle([0, 0, box_w, box_h], fill=(0, 0, 0))
        for row, (index, name) in enumerate(names):
            top = unit // 2 + row * unit
            draw.rectangle([unit // 2, top + unit // 8, unit // 2 + unit * 3 // 4, top + unit * 7 // 8],
                           fill=tuple(int(c) for c in self.class_colors[index]))
            draw.text((unit * 3 // 2, top), name, fill=(255, 255, 255), font=font)
        return np.asarray(canvas)

    def save(self, folder, stem, image):
        """Write ``<stem>.labels.png``, ``<stem>.overlay.png`` and ``<stem>.json`` into
        ``folder``. All three are written to temporary files first and renamed only when
        every one is complete, so a failure leaves none half-written. Returns the paths."""
        paths = {kind: os.path.join(folder, f"{stem}.{kind}") for kind in ("labels.png", "overlay.png", "json")}
        with atomic_outputs(paths) as temps:
            Image.fromarray(self.labels, mode="L").save(temps["labels.png"], format="PNG")
            Image.fromarray(self.overlay(image)).save(temps["overlay.png"], format="PNG")
            with open(temps["json"], "w", encoding="utf-8") as handle:
                json.dump({**self.to_json(), "labels": os.path.basename(paths["labels.png"])}, handle, indent=2)
        return paths


def _font(size):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def as_rgb(image):
    """uint8 RGB ``(H, W, 3)`` from a path, a PIL image or an array (grey, RGBA, 16-bit...)."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    if isinstance(image, Image.Image):
        return to_rgb_array(image)
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or array.size == 0:
        raise DataError(f"expected an image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {array.shape}")
    if array.dtype != np.uint8:  # PIL has no 16-bit or float colour images: scale to 8 bits here
        peak = 65535.0 if array.max() > 255 else (1.0 if array.dtype.kind == "f" and array.max() <= 1 else 255.0)
        array = np.clip(array.astype(np.float64) * 255.0 / peak, 0, 255).round().astype(np.uint8)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[array.shape[2]]
    return to_rgb_array(Image.fromarray(array[..., 0] if mode == "L" else array, mode=mode))


def read_photo(image):
    """``(rgb, notes)``: :func:`as_rgb` of a path, PIL image or array, and notes on what
    was read (``[]`` for an ordinary photo; for a multi-page TIFF or an animated image,
    which frame). Every unusable file raises :class:`~facezoo.data.io.DataError` naming it.

    Example:
        >>> photo, notes = read_photo("scan.tif")   # notes == ['3 frames (TIFF): only the first was read']
    """
    if isinstance(image, (str, os.PathLike)):
        return _read_photo_file(image)
    frames = getattr(image, "n_frames", 1) if isinstance(image, Image.Image) else 1
    notes = [f"{frames} frames: only frame {image.tell()} was read"] if frames > 1 else []
    return as_rgb(image), notes


def template_points(preset):
    """The preset's five alignment keypoints in model-input pixels ``(5, 2)``."""
    if not preset.alignment:
        raise ValueError(f"{preset.name} has no alignment template; pass aligned crops (aligned=True)")
    height, width = preset.input_size
    normalised = np.asarray(preset.alignment["keypoints"], np.float64)
    return normalised * [width, height]


def face_transform(detection, preset):
    """Photo -> crop transform for one detection: from its keypoints when it has them,
    else from its box (matched to the template's keypoint box)."""
    target = template_points(preset)
    if detection.keypoints is not None:
        return similarity_transform(detection.keypoints, target)
    return box_transform(detection.box, preset.alignment["box"], preset.input_size)


def _load_model(model):
    from facezoo.registry import load

    if isinstance(model, str):
        return load(model, compile=False)
    if getattr(model, "info", None) is None:
        raise ValueError("pass a facezoo preset name or model file, or a facezoo model (it carries model.info)")
    return model


def _detect(photo, detector, max_faces):
    """The ``max_faces`` most confident detections (MTCNN unless ``detector`` is given)."""
    check_max_faces(max_faces)
    return sorted((detector or MTCNNDetector())(photo), key=lambda d: -d.score)[:max_faces]


def check_max_faces(max_faces):
    """``max_faces``, or ValueError unless it is a whole number >= 1."""
    if isinstance(max_faces, bool) or not isinstance(max_faces, (int, np.integer)) or max_faces < 1:
        raise ValueError(f"max_faces must be a whole number >= 1, got {max_faces!r}")
    return max_faces


def _probabilities(model, crops, batch_size):
    import keras

    outputs = []
    for start in range(0, len(crops), batch_size):
        batch = model.preprocess(np.stack(crops[start:start + batch_size]))
        outputs.append(keras.ops.convert_to_numpy(model(batch, training=False)))
    probabilities = np.concatenate(outputs)
    if probabilities.min() < 0 or not np.allclose(probabilities.sum(-1), 1.0, atol=1e-3):  # logits
        probabilities = np.exp(probabilities - probabilities.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
    return probabilities


def parse(image, model=DEFAULT_MODEL, detector=None, aligned=False, max_faces=32, batch_size=8):
    """Parse every face in ``image``.

    Args:
        image: a path, PIL image or array (any size up to 100 MP; grey, RGBA and 16-bit
            are converted; EXIF rotation is applied to files).
        model: a preset name or a model from :func:`facezoo.load`.
        detector: a callable ``image -> list[Detection]`` (default :class:`MTCNNDetector`).
        aligned: the image is already an aligned face crop: no detection, the whole image
            is resized to the model's input.
        max_faces: parse at most this many faces (the most confident).
    Returns:
        :class:`ParseResult`. A photo without a face gives all-background labels, no faces
        and a note saying so.
    """
    source = os.fspath(image) if isinstance(image, (str, os.PathLike)) else ""
    photo, notes = read_photo(image)
    model = _load_model(model)
    preset = model.info
    if preset.task != "parsing":
        raise ValueError(f"{preset.name} is a {preset.task} model; parse needs a parsing model")
    height, width = photo.shape[:2]
    labels = np.zeros((height, width), np.uint8)
    result = ParseResult(labels, [], preset.name, tuple(preset.class_names), tuple(preset.class_colors), source,
                         notes)
    if aligned:
        probabilities = _probabilities(model, [photo], batch_size)[0]
        full = np.asarray(Image.fromarray(probabilities.argmax(-1).astype(np.uint8)).resize((width, height),
                                                                                             Image.NEAREST))
        result.labels = full
        sy, sx = preset.input_size[0] / height, preset.input_size[1] / width
        transform = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]])
        result.faces.append(FaceResult(Detection((0.0, 0.0, float(width), float(height))), transform))
        return result

    detections = _detect(photo, detector, max_faces)
    if not detections:
        result.notes.append("no face found")
        return result
    transforms = [face_transform(d, preset) for d in detections]
    crops = [warp_to_crop(photo, t, preset.input_size) for t in transforms]
    probabilities = _probabilities(model, crops, batch_size)
    foreground = np.zeros((height, width), np.float32)
    for detection, transform, probs in zip(detections, transforms, probabilities):
        (x0, y0, x1, y1), resampled, inside = paste_probabilities(probs, transform, (height, width))
        if not inside.any():
            continue
        surer = inside & (1.0 - resampled[..., 0] > foreground[y0:y1, x0:x1])
        labels[y0:y1, x0:x1][surer] = resampled.argmax(-1)[surer]
        foreground[y0:y1, x0:x1][surer] = 1.0 - resampled[..., 0][surer]
        result.faces.append(FaceResult(detection, transform))
    return result


DEFAULT_LANDMARK_MODEL = "adc_landmarks_300w"


@dataclass
class FaceLandmarks:
    """One face's 68 points in photo pixels, its detection, and the photo -> crop
    transform of the full-resolution crop the model saw (``crop_size`` pixels square)."""

    detection: Detection
    landmarks: np.ndarray
    transform: np.ndarray
    crop_size: int

    def to_json(self):
        data = self.detection.to_json()
        if "keypoints" in data:
            data["detector_keypoints"] = data.pop("keypoints")
        data["landmarks"] = np.round(self.landmarks, 2).tolist()
        data["crop_size"] = self.crop_size
        data["photo_to_crop"] = np.round(self.transform, 6).tolist()
        return data


@dataclass
class LandmarkResult:
    faces: list
    model: str
    width: int
    height: int
    source: str = ""
    notes: list = field(default_factory=list)

    def to_json(self):
        import facezoo

        return {"image": self.source, "width": self.width, "height": self.height, "model": self.model,
                "facezoo_version": facezoo.__version__, "points": "iBUG 68, 0-based, (x, y) in photo pixels",
                "faces": [face.to_json() for face in self.faces], "notes": self.notes}

    def save(self, folder, stem):
        """Write ``<stem>.json`` and one 300-W ``<stem>_face<i>.pts`` per face, renamed
        only when all are complete; the ``.pts`` of faces an earlier run of this photo
        found beyond these are removed. Returns the paths."""
        from facezoo.data.io import format_pts
        from facezoo.outputs import stale_face_files

        stale = stale_face_files(folder, stem, len(self.faces))  # before the JSON that lists them is replaced
        paths = {"json": os.path.join(folder, f"{stem}.json")}
        paths.update({f"face{i}": os.path.join(folder, f"{stem}_face{i}.pts") for i in range(len(self.faces))})
        with atomic_outputs(paths) as temps:
            with open(temps["json"], "w", encoding="utf-8") as handle:
                json.dump(self.to_json(), handle, indent=2)
            for i, face in enumerate(self.faces):
                with open(temps[f"face{i}"], "w", encoding="utf-8") as handle:
                    handle.write(format_pts(face.landmarks))
        for path in stale:
            os.remove(path)
        return paths


def landmarks(image, model=DEFAULT_LANDMARK_MODEL, detector=None, max_faces=32, max_crop=4096):
    """68 landmarks of every face in ``image``, in the photo's pixels.

    Each face is aligned to the preset's template and cut out *at the photo's own
    resolution* (a face 2,000 pixels wide gives a crop of about 3,000 pixels, capped at
    ``max_crop``), so a high-resolution model such as :class:`ADCLandmarks` sees every
    pixel of it; the points are mapped back through the inverse transform.

    Returns:
        :class:`LandmarkResult`; faces whose prediction is not finite are left out and
        named in ``notes``.
    """
    import keras

    from facezoo.registry import preprocess

    source = os.fspath(image) if isinstance(image, (str, os.PathLike)) else ""
    photo, notes = read_photo(image)
    model = _load_model(model)
    preset = model.info
    if preset.task != "landmarks":
        raise ValueError(f"{preset.name} is a {preset.task} model; landmarks needs a landmark preset")
    result = LandmarkResult([], preset.name, int(photo.shape[1]), int(photo.shape[0]), source, notes)
    detections = _detect(photo, detector, max_faces)
    if not detections:
        result.notes.append("no face found")
    nominal = preset.input_size[0]
    for index, detection in enumerate(detections):
        transform = face_transform(detection, preset)  # photo -> nominal crop
        scale = np.sqrt(abs(np.linalg.det(transform[:, :2])))
        side = int(np.clip(round(nominal / scale), 64, max_crop))
        transform = transform * (side / nominal)  # photo -> full-resolution crop
        batch = preprocess(warp_to_crop(photo, transform, (side, side)), preset, resize=False)
        points = keras.ops.convert_to_numpy(model(batch, training=False))[0]
        if not np.isfinite(points).all():
            result.notes.append(f"face {index}: the model predicted non-finite landmarks; left out")
            continue
        result.faces.append(FaceLandmarks(detection, apply(invert(transform), points), transform, side))
    return result

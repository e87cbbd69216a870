"""Faces in photos: the results of parsing and landmarks, and the one-call functions.

Example:
    >>> import facezoo
    >>> result = facezoo.parse("group.jpg")               # stn_icnn_celebamask by default
    >>> result.labels.shape                               # (H, W) uint8 at the photo's resolution
    >>> [face.detection.score for face in result.faces]
    >>> result.mask("hair"), result.mask("eyes")          # a class, a group of classes
    >>> result.save("out/", "group")                      # labels PNG, overlay PNG, JSON
    >>> facezoo.parse(crop, model="icnn_lfw", aligned=True)   # an already aligned face crop

For many photos, batches or video, :class:`facezoo.FaceParser` and
:class:`facezoo.LandmarkDetector` (``facezoo.pipeline``) load the model and the detector
once; ``parse`` and ``landmarks`` here build one per call.

Each detected face is warped onto the preset's alignment template (the mean keypoints of
its training faces, see ``Preset.alignment``) with a similarity transform, parsed at the
model's input size, and its class probabilities are resampled back onto the photo.
Where faces overlap, a pixel one face labels keeps that label, and a pixel two faces
label differently takes the face that is surer it is not background.
"""

import functools
import json
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from facezoo.align import box_transform, similarity_transform
from facezoo.classmaps import HELEN194_CONTOURS, IBUG68_CONTOURS
from facezoo.data.io import DataError, read_image, to_rgb_array
from facezoo.data.io import read_photo as _read_photo_file
from facezoo.detect import Detection
from facezoo.utils import atomic_outputs

DEFAULT_MODEL = "stn_icnn_celebamask"

#: What a result's JSON says of its detector keypoints' names (class names are the subject's sides).
KEYPOINT_SIDES = ("MTCNN's five; left_/right_ name the image's left and right (left_eye is the subject's right "
                  "eye), unlike class names, whose l_/r_ are the subject's own")


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
    resolution, the ``faces`` found, and the class map.

    Example:
        >>> result = facezoo.parse("photo.jpg")
        >>> hair = result.mask("hair")            # (H, W) bool: one class
        >>> lips = result.mask("lips")            # a group of the class map: both lips
        >>> result.mask("face")                   # every facial part, not hair or clothes
        >>> Image.fromarray(result.overlay())     # the photo with the classes coloured in
        >>> result.save("out/", "photo")          # labels PNG, overlay PNG and JSON
    """

    labels: np.ndarray
    faces: list
    model: str
    class_names: tuple
    class_colors: tuple
    source: str = ""
    notes: list = field(default_factory=list)
    #: the photo parsed (uint8 RGB), for :meth:`overlay` and :meth:`save`; not in the JSON
    image: np.ndarray = field(default=None, repr=False, compare=False)
    #: ``{"path", "sha256"}`` of the model file (or ``{"path"}`` of the hf:// repository) the
    #: model came from, where not a preset (``facezoo parse --model FILE`` records it: a
    #: fine-tune keeps its preset's name)
    model_file: Optional[dict] = None

    def _class_map(self):
        from facezoo.classmaps import CLASS_MAPS, ClassMap

        for class_map in CLASS_MAPS.values():
            if tuple(class_map.names) == tuple(self.class_names):
                return class_map
        return ClassMap("custom", tuple(self.class_names), tuple(self.class_colors))

    def mask(self, name):
        """Boolean ``(H, W)`` mask of a class (``"hair"``) or of a group of the class map
        (``"eyes"``, ``"brows"``, ``"lips"``, ``"face"``...; see
        :attr:`facezoo.classmaps.ClassMap.groups`). A ValueError lists the valid names."""
        lookup = np.zeros(256, bool)
        lookup[self._class_map().indices(name)] = True
        return lookup[self.labels]

    def to_json(self):
        import facezoo

        return {
            "image": self.source, "width": int(self.labels.shape[1]), "height": int(self.labels.shape[0]),
            "model": self.model, "facezoo_version": facezoo.__version__,
            "class_names": list(self.class_names), "class_colors": [list(c) for c in self.class_colors],
            "keypoint_sides": KEYPOINT_SIDES, "faces": [face.to_json() for face in self.faces], "notes": self.notes,
            **({"model_file": self.model_file} if self.model_file else {}),
        }

    def overlay(self, image=None, alpha=0.5, boxes=True, legend=True):
        """The photo (``image``, by default the one parsed) with the class colours blended
        in (``alpha``), the face boxes (``boxes``), and a legend of the classes in the
        top-left corner (``legend``; it covers a small photo's corner): uint8 RGB ``(H, W, 3)``."""
        image = self._photo(image)
        colors = np.asarray(self.class_colors, np.float32)
        blended = image.astype(np.float32)
        mask = self.labels > 0
        blended[mask] = (1 - alpha) * blended[mask] + alpha * colors[self.labels[mask]]
        canvas = Image.fromarray(blended.round().astype(np.uint8))
        draw = ImageDraw.Draw(canvas)
        height, width = self.labels.shape
        unit = max(12, min(height, width) // 40)
        for face in self.faces if boxes else ():
            draw.rectangle([round(v) for v in face.detection.box], outline=(255, 255, 255), width=max(1, unit // 8))
        if not legend:
            return np.asarray(canvas)
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

    def _photo(self, image):
        image = self.image if image is None else np.asarray(image, np.uint8)
        if image is None or image.shape[:2] != self.labels.shape:
            raise ValueError(f"overlay needs the photo parsed ({self.labels.shape[1]}x{self.labels.shape[0]}); "
                             f"got {None if image is None else image.shape}")
        return image

    def save(self, folder, stem, image=None):
        """Write ``<stem>.labels.png``, ``<stem>.overlay.png`` and ``<stem>.json`` into
        ``folder`` (the overlay drawn on ``image``, by default the photo parsed). All
        three are written to temporary files first and renamed only when every one is
        complete, so a failure leaves none half-written. Returns the paths."""
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
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3 and array.size:
        return np.ascontiguousarray(array)  # already what every step needs: no copy of a large photo
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or array.size == 0:
        raise DataError(f"expected an image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {array.shape}")
    if array.dtype != np.uint8:  # PIL has no 16-bit or float colour images: scale to 8 bits here
        array = np.clip(array.astype(np.float64) * 255.0 / _peak(array), 0, 255).round().astype(np.uint8)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[array.shape[2]]
    return to_rgb_array(Image.fromarray(array[..., 0] if mode == "L" else array, mode=mode))


def _peak(array):
    """The value that is white in a non-uint8 image: floats hold [0, 1] (up to 1.5: a
    resize's overshoot, clipped) or [0, 255]; integers 0..255, else 16 bits."""
    top = float(array.max())
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise DataError("the image has NaN or infinite values")
        if top > 255 * 1.05:
            raise DataError(f"float images hold intensities in [0, 1] or [0, 255]; this one reaches {top:.4g}")
        return 1.0 if top <= 1.5 else 255.0
    return 65535.0 if top > 255 else 255.0


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


def load_model(model, task):
    """``model`` itself (any facezoo model: it carries ``model.info``), or the preset or
    model file it names, loaded; ValueError unless its task is ``task``."""
    from facezoo.registry import load

    if isinstance(model, (str, os.PathLike)):
        model = load(os.fspath(model), compile=False)
    info = getattr(model, "info", None)
    if info is None:
        raise ValueError("pass a facezoo preset name or model file, or a facezoo model (it carries model.info)")
    if info.task != task:
        needs = "parse needs a parsing model" if task == "parsing" else "landmarks needs a landmark preset"
        raise ValueError(f"{info.name} is a {info.task} model; {needs}")
    return model


def check_max_faces(max_faces):
    """``max_faces``, or ValueError unless it is a whole number >= 1."""
    if isinstance(max_faces, bool) or not isinstance(max_faces, (int, np.integer)) or max_faces < 1:
        raise ValueError(f"max_faces must be a whole number >= 1, got {max_faces!r}")
    return max_faces


def source_name(image):
    """The path of an image given as a path, else ``""``."""
    return os.fspath(image) if isinstance(image, (str, os.PathLike)) else ""


def parse(image, model=DEFAULT_MODEL, detector=None, aligned=False, max_faces=32, batch_size=8, min_score=None,
          landmarks=None):
    """Parse every face in ``image``: the one-call form of :class:`facezoo.FaceParser`.

    Args:
        image: a path, PIL image or array (any size up to 100 MP; grey, RGBA and 16-bit
            are converted; EXIF rotation is applied to files).
        model: a preset name or a model from :func:`facezoo.load`. The pipeline built for a
            preset (the model loaded, its call compiled: seconds) is kept for the next call
            with the same preset and settings, so a loop over photos runs at the model's
            speed; a file or model object gets a new pipeline each call: make one
            ``FaceParser`` and reuse it (and one per thread).
        detector: a callable ``image -> list[Detection]`` (default :class:`MTCNNDetector`).
        aligned: the image is already an aligned face crop: no detection, the whole image
            is resized to the model's input.
        max_faces: parse at most this many faces (the most confident).
        min_score: drop detections below this confidence.
        landmarks: the landmark model drawing a heatmap-input parser's fourth channel
            (see :class:`facezoo.FaceParser`).
    Returns:
        :class:`ParseResult`. A photo without a face gives all-background labels, no faces
        and a note saying so.
    """
    return _pipeline("FaceParser", model, detector, max_faces=max_faces, min_score=min_score, batch_size=batch_size,
                     aligned=aligned, landmarks=landmarks).parse(image)


def _pipeline(kind, model, detector, **settings):
    """The one-call forms' ``FaceParser`` / ``LandmarkDetector``: kept for a preset name and
    plain settings (the two most recent), built anew for files (they may be rewritten between
    calls), model objects and detectors. Kept pipelines are shared by every caller: threads
    that parse at once should each build their own, and a Keras dtype policy set after the
    first call does not reach them."""
    from facezoo.presets import PRESETS

    def plain(value):
        return value in PRESETS if isinstance(value, str) else isinstance(value, (int, float, bool, type(None)))

    if isinstance(model, str) and model in PRESETS and detector is None and all(map(plain, settings.values())):
        return _kept_pipeline(kind, model, tuple(sorted(settings.items())))
    return _new_pipeline(kind, model, detector, settings)


@functools.lru_cache(maxsize=2)
def _kept_pipeline(kind, model, settings):
    return _new_pipeline(kind, model, None, dict(settings))


def _new_pipeline(kind, model, detector, settings):
    import facezoo.pipeline

    return getattr(facezoo.pipeline, kind)(model, detector, **settings)


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


#: Point schemes by their number of points: the JSON's description and the contours drawn
#: (:data:`facezoo.classmaps.CONTOURS`).
POINT_SCHEMES = {
    68: ("iBUG 68, 0-based, (x, y) in photo pixels", IBUG68_CONTOURS),
    194: ("HELEN 194 (Le et al.: jaw 0-40, lower nose 41-57, outer lip 58-85, inner lip 86-113, the subject's "
          "left eye 114-133 and right eye 134-153, left brow 154-173, right brow 174-193), 0-based, (x, y) in "
          "photo pixels", HELEN194_CONTOURS),
}


@dataclass
class LandmarkResult:
    """The landmarks of one photo's faces (:func:`landmarks`, :class:`~facezoo.LandmarkDetector`).

    Example:
        >>> result = facezoo.landmarks("photo.jpg")
        >>> result.faces[0].landmarks             # (68, 2) x, y in the photo's pixels, 0-based
        >>> facezoo.landmarks("photo.jpg", model="adc_landmarks_helen194")  # HELEN's 194 points
        >>> Image.fromarray(result.overlay())     # the photo with the points drawn
        >>> result.save("out/", "photo", overlay=True)   # JSON, a .pts per face, the overlay PNG
    """

    faces: list
    model: str
    width: int
    height: int
    source: str = ""
    notes: list = field(default_factory=list)
    #: the photo (uint8 RGB), for :meth:`overlay`; not in the JSON
    image: np.ndarray = field(default=None, repr=False, compare=False)
    #: as :attr:`ParseResult.model_file`
    model_file: Optional[dict] = None

    def overlay(self, image=None, boxes=True):
        """The photo (``image``, by default the one searched) with each face's points drawn,
        joined along their contours (iBUG's 68 or HELEN's 194: :data:`POINT_SCHEMES`), and its box (``boxes``):
        uint8 RGB ``(H, W, 3)``. Dots and lines scale with each face's size."""
        image = self.image if image is None else np.asarray(image)
        if image is None or image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise ValueError(f"overlay needs the {self.width}x{self.height} uint8 RGB photo the landmarks were found "
                             f"in; got {None if image is None else f'{image.dtype} {image.shape}'}")
        canvas = Image.fromarray(image)
        draw = ImageDraw.Draw(canvas)
        for face in self.faces:
            points = np.asarray(face.landmarks, np.float64)
            x0, y0, x1, y1 = face.detection.box
            unit = max(1.0, min(x1 - x0, y1 - y0) / 100)  # a 100-pixel face: 1-pixel lines
            if boxes:
                draw.rectangle([round(v) for v in face.detection.box], outline=(255, 255, 255),
                               width=max(1, round(unit)))
            if len(points) in POINT_SCHEMES:
                for first, last, closed in POINT_SCHEMES[len(points)][1]:
                    line = [tuple(p) for p in points[first:last + 1]]
                    draw.line(line + line[:1] if closed else line, fill=(0, 220, 0), width=max(1, round(unit)))
            radius = max(1, round(unit))
            for x, y in np.round(points).astype(int):  # centred on the point's pixel: a float box can miss it
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(255, 40, 40))
        return np.asarray(canvas)

    def scheme(self):
        """What the points are (the JSON's ``points``), from how many each face has."""
        count = len(self.faces[0].landmarks) if self.faces else 68
        return POINT_SCHEMES[count][0] if count in POINT_SCHEMES else f"{count} points, 0-based, (x, y) in photo pixels"

    def to_json(self):
        import facezoo

        return {"image": self.source, "width": self.width, "height": self.height, "model": self.model,
                "facezoo_version": facezoo.__version__, "points": self.scheme(),
                "keypoint_sides": KEYPOINT_SIDES,
                "faces": [face.to_json() for face in self.faces], "notes": self.notes,
                **({"model_file": self.model_file} if self.model_file else {})}

    def save(self, folder, stem, overlay=False):
        """Write ``<stem>.json``, one 300-W ``<stem>_face<i>.pts`` per face and, with
        ``overlay``, ``<stem>.overlay.png`` (:meth:`overlay`), renamed only when all are
        complete; the ``.pts`` of faces an earlier run of this photo found beyond these, and its
        overlay when this run draws none, are removed. Returns the paths."""
        from facezoo.data.io import format_pts
        from facezoo.outputs import LANDMARK_OVERLAY, stale_face_files, stale_overlay

        # before the JSON that lists them is replaced
        stale = stale_face_files(folder, stem, len(self.faces)) + ([] if overlay else stale_overlay(folder, stem))
        paths = {"json": os.path.join(folder, f"{stem}.json")}
        paths.update({f"face{i}": os.path.join(folder, f"{stem}_face{i}.pts") for i in range(len(self.faces))})
        if overlay:
            paths["overlay"] = os.path.join(folder, LANDMARK_OVERLAY.format(stem=stem))
        with atomic_outputs(paths) as temps:
            if overlay:
                Image.fromarray(self.overlay()).save(temps["overlay"], format="PNG")
            with open(temps["json"], "w", encoding="utf-8") as handle:
                extra = {"overlay": os.path.basename(paths["overlay"])} if overlay else {}
                json.dump({**self.to_json(), **extra}, handle, indent=2)
            for i, face in enumerate(self.faces):
                with open(temps[f"face{i}"], "w", encoding="utf-8") as handle:
                    handle.write(format_pts(face.landmarks))
        for path in stale:
            os.remove(path)
        return paths


def landmarks(image, model=DEFAULT_LANDMARK_MODEL, detector=None, max_faces=32, max_crop=None, min_score=None,
              aligned=False):
    """The landmarks of every face in ``image``, in the photo's pixels (iBUG's 68 with the
    default preset, HELEN's 194 contour points with ``model="adc_landmarks_helen194"``): the
    one-call form of :class:`facezoo.LandmarkDetector`.

    Each face is aligned to the preset's template and cut out at the photo's own
    resolution, up to ``max_crop`` pixels (by default what the model can use, see
    :func:`facezoo.pipeline.landmark_crop_side`: 512 for the shipped presets; a larger
    face is box-filtered down to it), and the points are mapped back through the inverse
    transform. With ``aligned=True`` the image is one face framed like the preset's crops:
    no detection. The pipeline built for a preset is kept for the next call with the
    same preset and settings (see :func:`parse`); for a file or model object make one
    :class:`facezoo.LandmarkDetector` and reuse it.

    Returns:
        :class:`LandmarkResult`; faces whose prediction is not finite are left out and
        named in ``notes``.
    """
    return _pipeline("LandmarkDetector", model, detector, max_faces=max_faces, min_score=min_score, max_crop=max_crop,
                     aligned=aligned).detect(image)

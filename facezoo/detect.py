"""Face detection for photos: a small interface, MTCNN behind it, and user boxes.

A detector is any callable ``detector(image) -> list[Detection]`` taking a uint8 RGB
array ``(H, W, 3)``. facezoo ships :class:`MTCNNDetector` (the ``mtcnn`` package, whose
wheel carries its weights, so nothing is downloaded at run time) and :class:`BoxDetector`
for boxes found elsewhere.

Example:
    >>> detector = MTCNNDetector()
    >>> faces = detector(photo)                  # [Detection(box=(x0, y0, x1, y1), score, keypoints)]
    >>> facezoo.parse(photo, detector=BoxDetector([(120, 80, 360, 380)]))   # your own boxes

MTCNN (Zhang et al. 2016) finds faces from about 20 pixels wide, frontal to roughly
half-profile, and gives five keypoints (the eye centres, the nose tip, the mouth
corners) used for alignment. It misses strongly rotated (> ~45 degrees in-plane),
profile and heavily occluded faces; photos are searched at most ``max_side`` pixels on
their long side (1024 by default: faces down to about 2 % of the photo's long side, 20
pixels of the searched image), so in a huge photo the smallest findable face grows
accordingly. Its three networks run through ``tf.function`` (traced once per input
shape, then shape-generic), not op by op.
"""

import weakref
from dataclasses import dataclass
from typing import Optional

import numpy as np

#: Order of the five keypoints in :attr:`Detection.keypoints` (image left/right).
KEYPOINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass
class Detection:
    """One face: ``box`` ``(x0, y0, x1, y1)`` in image pixels, a confidence ``score`` and
    optionally ``keypoints`` ``(5, 2)`` in :data:`KEYPOINT_NAMES` order (x, y)."""

    box: tuple
    score: float = 1.0
    keypoints: Optional[np.ndarray] = None

    def __post_init__(self):
        # plain floats, whatever the detector computed them in (numpy ints print as np.int64(...))
        self.box = tuple(float(v) for v in self.box)
        self.score = float(self.score)

    def to_json(self):
        data = {"box": [round(float(v), 2) for v in self.box], "score": round(float(self.score), 4)}
        if self.keypoints is not None:
            data["keypoints"] = {n: [round(float(x), 2), round(float(y), 2)]
                                 for n, (x, y) in zip(KEYPOINT_NAMES, self.keypoints)}
        return data


class MTCNNDetector:
    """MTCNN from the ``mtcnn`` package (MIT licence; weights inside its wheel).

    Args:
        min_score: detections below this confidence are dropped.
        max_side: the photo is searched at this size on its long side at most (boxes and
            keypoints are returned in the original photo's pixels). Its cost grows with
            the square of ``max_side / min_face_size``; see ``benchmarks/pipeline_speed.py``.
        min_face_size: smallest face searched for, in pixels of the searched image.

    A face that fills the photo, or runs off its edge, sits at the coarse end of MTCNN's
    image pyramid, which stops once the photo's short side would fall below 12 pixels, and
    can be missed there (one of HELEN's 330 test photos: a 400-pixel face in a 427x640
    photo, found at 0.995 on the photo at half size). So when a search finds nothing, the
    photo is searched once more at half that size; a photo with a face costs one search.
    """

    def __init__(self, min_score=0.9, max_side=1024, min_face_size=20):
        if not 0.0 <= float(min_score) <= 1.0:
            raise ValueError(f"min_score is a confidence in [0, 1], got {min_score!r}")
        if int(max_side) < 64 or int(min_face_size) < 12:
            raise ValueError(f"need max_side >= 64 and min_face_size >= 12, got {max_side} and {min_face_size}")
        self.min_score, self.max_side, self.min_face_size = float(min_score), int(max_side), int(min_face_size)
        self._mtcnn = None

    def __call__(self, image):
        image = _check_rgb(image)
        if self._mtcnn is None:
            self._mtcnn = _compiled_mtcnn()
        height, width = image.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        found = self._search(image, scale)
        if not found and min(height, width) * scale >= 4 * self.min_face_size:
            scale /= 2  # a face too large for the pyramid (see the class docstring)
            found = self._search(image, scale)
        detections = []
        for face in found:
            x, y, w, h = face["box"]
            points = np.array([face["keypoints"][n] for n in KEYPOINT_NAMES], np.float32) / scale
            detections.append(Detection((x / scale, y / scale, (x + w) / scale, (y + h) / scale),
                                        float(face["confidence"]), points))
        return sorted(detections, key=lambda d: -d.score)

    def _search(self, image, scale):
        """MTCNN's faces in ``image`` resized by ``scale`` (in the resized image's pixels)."""
        from PIL import Image

        searched = image
        if scale < 1.0:
            height, width = image.shape[:2]
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            searched = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
        return self._mtcnn.detect_faces(searched, min_face_size=self.min_face_size, threshold_onet=self.min_score)


def _compiled_mtcnn(one_photo_tensor=True):
    """An ``mtcnn.MTCNN`` whose P-, R- and O-Net are called through ``tf.function`` (the
    package calls its Keras networks eagerly, op by op, which cost about twice the time) and
    whose stages share one tensor of the photo (:class:`_PhotoAsTensor`; ``False``: the
    package's own stages, for ``benchmarks/mtcnn_detection.py``)."""
    import tensorflow as tf
    from mtcnn import MTCNN

    stages = MTCNN().stages
    for stage in stages:
        stage._model = _empty_batch_safe(tf.function(stage._model, reduce_retracing=True))
    if not one_photo_tensor:
        return MTCNN(stages=stages)
    photo = _PhotoAsTensor()
    return MTCNN(stages=[_StageOnTensor(stage, photo) for stage in stages])


class _PhotoAsTensor:
    """The normalised photo MTCNN hands its stages (a NumPy float64 array) as one float32
    tensor, converted once per photo. The package converts the array again for each of its
    pyramid's scales (about 11 at 1024 pixels) and for the R- and O-Net patches, and
    area-resizes it in float64: about a fifth of the detector's time on HELEN's photos
    (``benchmarks/mtcnn_detection.py``: 0.77x the time, the same detections). The
    networks compute in float32 either way."""

    def __init__(self):
        self._memo = None  # (weak reference to the array, its tensor)

    def __call__(self, array):
        import tensorflow as tf

        if tf.is_tensor(array):
            return array
        memo = self._memo  # read once: a detector shared by threads may swap it meanwhile
        if memo is None or memo[0]() is not array:  # a new photo (the stages of one search share one array)
            # held weakly, and the tensor dropped with the array: no photo is kept between searches
            memo = (weakref.ref(array, self._forget), tf.constant(array, tf.float32))
            self._memo = memo
        return memo[1]

    def _forget(self, reference):
        memo = self._memo
        if memo is not None and memo[0] is reference:
            self._memo = None


class _StageOnTensor:
    """An MTCNN stage given the photo as :class:`_PhotoAsTensor`'s tensor; all else is the stage's."""

    def __init__(self, stage, photo):
        self._stage, self._photo = stage, photo

    def __getattr__(self, name):
        if name.startswith("__") or name == "_stage":  # copy/pickle probe these before __init__ ran
            raise AttributeError(name)
        return getattr(self._stage, name)

    def __call__(self, images_normalized=None, **kwargs):
        return self._stage(images_normalized=self._photo(images_normalized), **kwargs)


def _empty_batch_safe(network):
    """``network`` that answers an empty batch of patches (R-/O-Net after a stage kept no
    candidate) with empty outputs: the networks fail on it inside TensorFlow (their PReLU
    broadcast), which MTCNN survives but TensorFlow reports on stderr."""
    import tensorflow as tf

    shapes = {}

    def run(patches):
        if patches.shape[0] != 0:
            return network(patches)
        key = tuple(patches.shape[1:])
        if key not in shapes:  # the outputs' shapes, from one patch of zeros
            one = network(tf.zeros((1, *key), patches.dtype))
            shapes[key] = [(o.shape[1:], o.dtype) for o in (one if isinstance(one, (list, tuple)) else [one])]
        outputs = [tf.zeros((0, *shape), dtype) for shape, dtype in shapes[key]]
        return outputs if len(outputs) > 1 else outputs[0]

    return run


class BoxDetector:
    """Faces given as boxes ``(x0, y0, x1, y1)``, optionally with 5 keypoints each."""

    def __init__(self, boxes, keypoints=None):
        self.detections = [Detection(tuple(map(float, box)), 1.0, None if keypoints is None
                                     else np.asarray(keypoints[i], np.float32).reshape(5, 2))
                           for i, box in enumerate(boxes)]
        for d in self.detections:
            if not (d.box[2] > d.box[0] and d.box[3] > d.box[1]):
                raise ValueError(f"a box is (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {d.box}")

    def __call__(self, image):
        return list(self.detections)


def _check_rgb(image):
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"detectors take uint8 RGB images (H, W, 3), got {image.dtype} {image.shape}")
    return image

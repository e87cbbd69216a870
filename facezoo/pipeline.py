"""Reusable photo pipelines: load a model and a detector once, then parse (or find the
landmarks of) any number of photos, batches and video frames.

Example:
    >>> import facezoo
    >>> parser = facezoo.FaceParser("rtparser_celebamask_student")   # or model=facezoo.load(...)
    >>> result = parser.parse("photo.jpg")            # facezoo.photos.ParseResult
    >>> result.mask("hair"), result.mask("lips")      # boolean masks at the photo's resolution
    >>> results = parser.parse_batch(["a.jpg", "b.jpg"])   # the faces of all photos share batches
    >>> for result in parser.parse_video(frames, smoothing=0.5):   # any iterable of frames
    ...     show(result.overlay())
    >>> points = facezoo.LandmarkDetector().detect("photo.jpg").faces[0].landmarks   # (68, 2)

Per photo the pipeline detects the faces (MTCNN unless ``detector=`` says otherwise),
aligns each onto the preset's template, runs the model through a compiled function
(:class:`CompiledModel`: traced once per input size) and maps the labels back only where
the face is (:func:`facezoo.align.paste_faces`).
``facezoo.parse`` and ``facezoo.landmarks`` are one-call wrappers around these classes.
"""

import numpy as np

from facezoo.align import apply, invert, paste_faces, resize_transform, warp_to_crop
from facezoo.detect import Detection, MTCNNDetector
from facezoo.photos import (DEFAULT_LANDMARK_MODEL, DEFAULT_MODEL, FaceLandmarks, FaceResult, LandmarkResult,
                            ParseResult, check_max_faces, face_transform, load_model, read_photo, source_name)


#: A face in one frame is the same face as in the previous frame if their boxes overlap this much.
IoU_THRESHOLD = 0.3


def iou(a, b):
    """Intersection over union of two boxes ``(x0, y0, x1, y1)``."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


class CompiledModel:
    """``model(x, training=False)`` compiled once per input size and cached: on the
    TensorFlow backend one ``tf.function`` per ``(height, width, channels)`` with a dynamic
    batch (the shape stays static inside, as :class:`~facezoo.models.ADCLandmarks` needs);
    on other backends Keras' own compiled ``predict_on_batch``. Returns numpy arrays
    (read-only on TensorFlow: the output tensor's own buffer, not a copy).

    Example:
        >>> predict = CompiledModel(model)
        >>> outputs = predict(batch)              # (B, h, w, C), traced on the first call only
    """

    def __init__(self, model):
        import keras

        self.model, self._functions = model, {}
        self._tensorflow = keras.backend.backend() == "tensorflow"

    def __call__(self, batch):
        batch = np.asarray(batch, np.float32)
        if not self._tensorflow:
            return np.asarray(self.model.predict_on_batch(batch))
        key = batch.shape[1:]
        if key not in self._functions:
            import tensorflow as tf

            model = self.model
            self._functions[key] = tf.function(lambda x: model(x, training=False),
                                               input_signature=[tf.TensorSpec((None, *key), tf.float32)])
        # np.asarray reads the tensor's buffer (read-only); .numpy() would copy it
        return np.asarray(self._functions[key](batch))


def _softmax(logits):
    """Softmax over the last axis, in place (large maps: no temporary copies)."""
    if not logits.flags.writeable:
        logits = logits.copy()
    logits -= logits.max(-1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(-1, keepdims=True)
    return logits


class _Smoother:
    """Exponential smoothing of detections (box, keypoints) and optional per-face points
    between video frames: a face is matched to the previous frame's face it overlaps most
    (IoU >= 0.3); ``value = weight * previous + (1 - weight) * current``."""

    def __init__(self, weight):
        if not 0.0 <= float(weight) < 1.0:
            raise ValueError(f"smoothing is a weight in [0, 1), got {weight!r}")
        self.weight, self.previous = float(weight), []

    def _blend(self, old, new):
        return self.weight * np.asarray(old, np.float64) + (1.0 - self.weight) * np.asarray(new, np.float64)

    def detections(self, detections):
        if not self.weight:
            return detections
        smoothed = []
        for d in detections:
            match = max(self.previous, key=lambda p: iou(p.box, d.box), default=None)
            if match is not None and iou(match.box, d.box) >= IoU_THRESHOLD:
                keypoints = d.keypoints
                if keypoints is not None and match.keypoints is not None:
                    keypoints = self._blend(match.keypoints, keypoints).astype(np.float32)
                d = Detection(tuple(self._blend(match.box, d.box).tolist()), d.score, keypoints)
            smoothed.append(d)
        self.previous = smoothed
        return smoothed


class _Pipeline:
    """What :class:`FaceParser` and :class:`LandmarkDetector` share: the model (any
    facezoo model: its :class:`~facezoo.info.ModelInfo` says how to align and
    preprocess), the detector, the face limit and the score cut-off."""

    task = None

    def __init__(self, model, detector, max_faces, min_score):
        check_max_faces(max_faces)
        self.model = load_model(model, self.task)
        #: the model's ModelInfo (name, classes, input size, preprocessing, alignment)
        self.info = self.model.info
        #: the model through a compiled function (:class:`CompiledModel`)
        self.predict = CompiledModel(self.model)
        if min_score is not None and not 0.0 <= float(min_score) <= 1.0:
            raise ValueError(f"min_score is a confidence in [0, 1], got {min_score!r}")
        self.max_faces, self.min_score = int(max_faces), min_score
        if detector is None:
            detector = MTCNNDetector() if min_score is None else MTCNNDetector(min_score=min_score)
        self.detector = detector

    def _detect(self, photo):
        found = [d for d in self.detector(photo) if self.min_score is None or d.score >= self.min_score]
        return sorted(found, key=lambda d: -d.score)[:self.max_faces]

    def tracker(self, smoothing=0.0):
        """A callable ``frame -> result`` for the frames of one video given in order (a
        path, PIL image or array each): faces are matched to the previous frame's and
        their boxes and keypoints (and a landmark model's points) smoothed with weight
        ``smoothing`` (see :meth:`FaceParser.parse_video`). ``parse_video`` and
        ``detect_video`` apply one to an iterable; the command line's ``--smoothing``
        applies one to a folder of frames.

        Example:
            >>> track = facezoo.FaceParser("rtparser_celebamask_student").tracker(smoothing=0.5)
            >>> for frame in camera(): show(track(frame).overlay())
        """
        smoother = _Smoother(smoothing)

        def track(frame):
            photo, notes = read_photo(frame)
            result = self._run_frame(photo, smoother.detections(self._detect(photo)), smoother, source_name(frame))
            result.notes[:0] = notes
            return result

        return track

    def _frames(self, frames, smoothing):
        track = self.tracker(smoothing)
        return (track(frame) for frame in frames)


class FaceParser(_Pipeline):
    """Face parsing of photos with one model and one detector, loaded once.

    Args:
        model: a parsing preset name (default ``stn_icnn_celebamask``) or a model from
            :func:`facezoo.load`.
        detector: a callable ``image -> list[Detection]`` (default
            :class:`~facezoo.detect.MTCNNDetector`); ignored when ``aligned``. A heatmap
            parser's landmark model gets the same faces.
        max_faces: parse at most this many faces per photo (the most confident).
        min_score: drop detections below this confidence (MTCNN's own cut-off is 0.9).
        batch_size: faces per model call.
        aligned: inputs are aligned face crops: no detection, the whole image is parsed.
        landmarks: for a parser that also takes a landmark heatmap (an RTParser with
            ``heatmap_channel``, Wei et al.): the :class:`LandmarkDetector` (or landmark
            preset, default ``adc_landmarks_300w``) whose 68 points of each face draw it,
            the face found by ``detector`` (with ``aligned``: the face the template puts
            in the crop, no detection). Ignored by other parsers.

    Example:
        >>> parser = FaceParser("icnn_lfw")
        >>> result = parser.parse(photo)          # a path, PIL image or array
        >>> result.mask("hair").mean()            # the share of the photo that is hair
    """

    task = "parsing"

    def __init__(self, model=DEFAULT_MODEL, detector=None, max_faces=32, min_score=None, batch_size=8,
                 aligned=False, landmarks=None):
        super().__init__(model, detector if not aligned else (lambda image: []), max_faces, min_score)
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.batch_size, self.aligned = int(batch_size), bool(aligned)
        #: the LandmarkDetector drawing a heatmap-input parser's fourth channel (else None)
        self.landmarker = None
        if takes_landmark_heatmap(self.model):
            self.landmarker = landmarks if isinstance(landmarks, LandmarkDetector) else LandmarkDetector(
                DEFAULT_LANDMARK_MODEL if landmarks is None else landmarks,
                detector=detector if aligned else self.detector, min_score=min_score)

    def probabilities(self, crops, heatmaps=None):
        """Class probabilities ``(N, h, w, C)`` of aligned uint8 crops ``(N, h, w, 3)`` at
        the model's input size, through the compiled predict function; ``heatmaps``
        ``(N, h, w)``: the landmark-heatmap channel of a parser that takes one."""
        outputs = self._outputs(crops, heatmaps)
        if self._logits:
            return _softmax(outputs)  # a copy where the outputs are read-only
        return outputs if outputs.flags.writeable else outputs.copy()

    @property
    def _logits(self):
        """Whether the model gives logits, else probabilities: its ``info.output`` (a
        model of your own must declare it truthfully; ``"logits"`` is the default)."""
        return self.info.output == "logits"

    def _outputs(self, crops, heatmaps=None):
        """The model's own outputs (logits or probabilities) for crops, in batches."""
        outputs = [self.predict(self._inputs(crops[i:i + self.batch_size],
                                             None if heatmaps is None else heatmaps[i:i + self.batch_size]))
                   for i in range(0, len(crops), self.batch_size)]
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)

    def _inputs(self, crops, heatmaps=None):
        """The model's float32 input batch: preprocessed crops, and a heatmap parser's channel."""
        from facezoo.registry import preprocess

        if (heatmaps is None) != (self.landmarker is None):
            raise ValueError(f"{self.info.name} takes {'a' if self.landmarker else 'no'} landmark heatmap channel")
        images = preprocess(np.asarray(crops), self.info, resize=False)
        if heatmaps is None:
            return images
        return np.concatenate([images, np.asarray(heatmaps, np.float32)[..., None]], -1)

    def aligned_input(self, image):
        """The model input ``(1, H, W, C)`` float32 of one aligned face crop (path, PIL image
        or array), as ``parse`` gives it with ``aligned=True``: resized, preprocessed, with
        a heatmap parser's fourth channel (``facezoo export --calibration`` uses this)."""
        crop, _, heatmaps, _ = self._aligned_parts(read_photo(image)[0])
        return self._inputs(crop[None], heatmaps)

    def face_inputs(self, image, transforms=False):
        """The model inputs ``(N, H, W, C)`` float32 of the faces found in one photo (path,
        PIL image or array), detected, aligned and preprocessed as :meth:`parse` gives them
        to the model (an exported file's fixed input), with a heatmap parser's fourth channel;
        ``N = 0`` when none is found (``facezoo export --calibration`` uses these). With
        ``transforms=True``, ``(inputs, transforms)``: the ``(N, 2, 3)`` photo -> input maps, to
        paste a file's probabilities back (:func:`facezoo.align.paste_faces`)."""
        photo = read_photo(image)[0]
        found = self._detect(photo)
        maps = [face_transform(d, self.info) for d in found]
        crops = np.stack([warp_to_crop(photo, t, self.info.input_size) for t in maps]) if found else np.zeros(
            (0, *self.info.input_size, 3), np.uint8)
        heatmaps = None
        if self.landmarker is not None:
            heatmaps = self._heatmaps(self._crop_points(photo, found, maps, [])) if found else np.zeros(
                (0, *self.info.input_size), np.float32)
        inputs = self._inputs(crops, heatmaps)
        return (inputs, np.asarray(maps, np.float64).reshape(-1, 2, 3)) if transforms else inputs

    def _result(self, photo, source):
        p = self.info
        height, width = photo.shape[:2]
        return ParseResult(np.zeros((height, width), np.uint8), [], p.name, tuple(p.class_names),
                           tuple(p.class_colors), source, image=photo)

    def _aligned_parts(self, photo):
        """An aligned crop resized to the model: ``(crop, transform, heatmaps, notes)``."""
        from PIL import Image

        size = self.info.input_size
        crop = np.asarray(Image.fromarray(photo).resize((size[1], size[0]), Image.BILINEAR))
        transform = resize_transform(photo.shape, size)
        heatmaps, notes = None, []
        if self.landmarker is not None:
            points = aligned_face_points(self.landmarker, self.info, photo, transform)
            if points is None:
                notes.append("no landmarks for the heatmap channel; parsed with an empty one")
            heatmaps = self._heatmaps([np.empty((0, 2)) if points is None else points])
        return crop, transform, heatmaps, notes

    def _parse_aligned(self, photo, source):
        from PIL import Image

        result = self._result(photo, source)
        height, width = photo.shape[:2]
        crop, transform, heatmaps, notes = self._aligned_parts(photo)
        result.notes.extend(notes)
        labels = self._outputs(crop[None], heatmaps)[0].argmax(-1).astype(np.uint8)  # the softmax's argmax
        result.labels = np.asarray(Image.fromarray(labels).resize((width, height), Image.NEAREST))
        result.faces.append(FaceResult(Detection((0.0, 0.0, float(width), float(height))), transform))
        return result

    def _parse_many(self, photos, detections, sources, smoother=None):
        """Results for photos with their detections: every face of every photo is aligned,
        parsed in shared batches, and pasted back onto its own photo. ``smoother``: a
        video's, for a heatmap parser's landmarks."""
        transforms = [[face_transform(d, self.info) for d in found] for found in detections]
        crops = [warp_to_crop(photo, t, self.info.input_size) for photo, ts in zip(photos, transforms) for t in ts]
        heatmaps, notes = None, [[] for _ in photos]
        if self.landmarker is not None and crops:
            points = [self._crop_points(photo, found, ts, said, smoother)
                      for photo, found, ts, said in zip(photos, detections, transforms, notes)]
            heatmaps = self._heatmaps([p for face_points in points for p in face_points])
        # the model's outputs as they are: the paste takes a softmax only where it blends
        scores = iter(self._outputs(np.stack(crops), heatmaps) if crops else [])
        results = []
        for photo, found, ts, source, said in zip(photos, detections, transforms, sources, notes):
            result = self._result(photo, source)
            result.notes.extend(said)
            faces = [(next(scores), t) for t in ts]
            if faces:
                result.labels = paste_faces(faces, photo.shape[:2], logits=self._logits)
            else:
                result.notes.append("no face found")
            result.faces = [FaceResult(d, t) for d, t in zip(found, ts)]
            results.append(result)
        return results

    def _crop_points(self, photo, detections, transforms, notes, smoother=None):
        """The landmark model's points of each detected face of one photo, in that face's
        crop (none where the landmark model failed: its heatmap is then empty, and a note
        says so); smoothed between video frames like the boxes."""
        if not detections:
            return []
        found = self.landmarker.locate(photo, detections, smoother)
        points = {id(face.detection): face.landmarks for face in found.faces}
        notes.extend(n + "; its heatmap channel is empty" for n in found.notes)
        return [apply(t, points[id(d)]) if id(d) in points else np.empty((0, 2)) for d, t in zip(detections, transforms)]

    def _heatmaps(self, points):
        """One landmark-heatmap channel per face, drawn as in training (Wei et al.)."""
        from facezoo.models.rtparser import landmark_heatmap

        return np.stack([landmark_heatmap(p, self.info.input_size) for p in points])

    def parse(self, image):
        """Parse every face of one photo (path, PIL image or array; grey, RGBA, 16-bit
        converted; EXIF rotation applied). Returns a :class:`~facezoo.photos.ParseResult`:
        a photo without a face gives all-background labels, no faces, and a note."""
        return self.parse_batch([image])[0]

    def parse_batch(self, images):
        """:meth:`parse` of several photos; their faces go through the model together. Every
        photo is decoded first and held until the batch is done (give a few at a time from a
        large folder), and one that cannot be read raises :class:`~facezoo.data.DataError`
        naming it, with no results for the others (``facezoo parse`` skips it and goes on)."""
        photos, notes = zip(*[read_photo(image) for image in images]) if images else ((), ())
        sources = [source_name(image) for image in images]
        if self.aligned:
            results = [self._parse_aligned(photo, source) for photo, source in zip(photos, sources)]
        else:
            results = self._parse_many(photos, [self._detect(photo) for photo in photos], sources)
        for result, read_notes in zip(results, notes):
            result.notes[:0] = read_notes
        return results

    def parse_video(self, frames, smoothing=0.0):
        """Parse an iterable of frames (arrays, PIL images or paths; any length), one
        result per frame, lazily: memory stays that of one frame.

        Args:
            smoothing: weight in ``[0, 1)`` of the previous frame's face box and keypoints
                in an exponential average (0: none); steadier alignment from frame to
                frame, at the cost of lagging behind fast motion.
        """
        return self._frames(frames, smoothing)

    def tracker(self, smoothing=0.0):  # the docstring is _Pipeline.tracker's (inspect.getdoc)
        if self.aligned:
            raise ValueError("video parsing detects faces; it cannot be used with aligned=True")
        return super().tracker(smoothing)

    def _run_frame(self, photo, detections, smoother, source):
        return self._parse_many([photo], [detections], [source], smoother)[0]


def aligned_detection(info, to_crop=None):
    """The face a crop aligned onto ``info``'s template holds, as a detection in the
    crop's own pixels: the template's five keypoints and box, mapped back through
    ``to_crop`` (image -> model-input pixels; default: the image is the model input)."""
    from facezoo.photos import template_points

    back = invert(np.array([[1.0, 0, 0], [0, 1.0, 0]]) if to_crop is None else to_crop)
    height, width = info.input_size
    x0, y0, x1, y1 = np.asarray(info.alignment["box"], np.float64) * [width, height, width, height]
    (bx0, by0), (bx1, by1) = apply(back, [[x0, y0], [x1, y1]])
    return Detection((float(bx0), float(by0), float(bx1), float(by1)), 1.0,
                     apply(back, template_points(info)).astype(np.float32))


def aligned_face_points(landmarker, info, image, to_crop=None):
    """The 68 points of the face in an aligned crop ``image``, in the model input's pixels
    (``to_crop``: image -> model input; default: the image is the model input), or None if
    the landmark model gave none. With a template (``info.alignment``) the landmark model is
    given the face the template puts there (:func:`aligned_detection`), so none is missed;
    without one its own detector looks for the face."""
    if info.alignment:
        found = landmarker.locate(image, [aligned_detection(info, to_crop)]).faces
    else:
        found = landmarker.detect(image).faces[:1]
    if not found:
        return None
    return found[0].landmarks if to_crop is None else apply(to_crop, found[0].landmarks)


def takes_landmark_heatmap(model):
    """Whether a parser's input has a fourth channel: a heatmap of the face's 68 landmarks
    (an RTParser built with ``heatmap_channel=True``)."""
    return bool(getattr(model, "heatmap_channel", False))


def landmark_crop_side(model):
    """The largest crop side (pixels) a landmark model can use: past the resolution at
    which :class:`~facezoo.models.ADCLandmarks` samples its regional crops one pixel per
    pixel (``crop_size / region_fraction``), or its nominal input size, extra pixels only
    cost time and memory (the crop is box-filtered down to this)."""
    nominal = max(model.info.input_size)
    crop, fraction = getattr(model, "crop_size", None), getattr(model, "region_fraction", None)
    if crop and fraction:
        return max(nominal, int(np.ceil(crop / fraction)))
    return nominal


class LandmarkDetector(_Pipeline):
    """The landmarks of every face in photos (iBUG's 68, or HELEN's 194 with
    ``adc_landmarks_helen194``), with one model and one detector, loaded once.

    Each face is aligned onto the preset's template and cut out at the photo's own
    resolution (rounded up to a multiple of 128 pixels) up to ``max_crop`` pixels (by
    default :func:`landmark_crop_side`: what the model can use), so memory and time do not
    grow with the photo; the points are mapped back through the inverse transform. With
    ``aligned=True`` there is no detection: each image is one face framed as the preset's
    crops are (``model.info.face_crop``), the face its template puts there.

    Example:
        >>> detector = LandmarkDetector()                   # adc_landmarks_300w
        >>> result = detector.detect("photo.jpg")           # facezoo.photos.LandmarkResult
        >>> for result in detector.detect_video(frames, smoothing=0.5): ...
        >>> LandmarkDetector(aligned=True).detect("face_crop.png")   # no detection
    """

    task = "landmarks"

    def __init__(self, model=DEFAULT_LANDMARK_MODEL, detector=None, max_faces=32, min_score=None, max_crop=None,
                 aligned=False):
        super().__init__(model, self._template_face if aligned else detector, max_faces, min_score)
        if aligned and not self.info.alignment:
            raise ValueError(f"{self.info.name} has no alignment template: aligned=True cannot place the face")
        self.max_crop = landmark_crop_side(self.model) if max_crop is None else int(max_crop)
        if self.max_crop < 64:
            raise ValueError(f"max_crop must be >= 64 pixels, got {max_crop!r}")

    def _template_face(self, photo):
        """The face the preset's template puts in a crop of ``photo``'s size (``aligned``)."""
        return [aligned_detection(self.info, resize_transform(photo.shape, self.info.input_size))]

    def locate(self, image, detections, smoother=None):
        """Landmarks of the faces ``detections`` (:class:`~facezoo.detect.Detection`, e.g.
        from another detector, or the face an aligned crop holds:
        :func:`aligned_detection`) in a uint8 RGB ``image``: a
        :class:`~facezoo.photos.LandmarkResult` whose faces keep those detection objects."""
        return self._landmarks(np.asarray(image), list(detections), smoother)

    def _landmarks(self, photo, detections, smoother=None, source=""):
        from facezoo.registry import preprocess

        result = LandmarkResult([], self.info.name, int(photo.shape[1]), int(photo.shape[0]), source, image=photo)
        if not detections:
            result.notes.append("no face found")
        nominal = self.info.input_size[0]
        for index, detection in enumerate(detections):
            transform = face_transform(detection, self.info)  # photo -> nominal crop
            scale = np.sqrt(abs(np.linalg.det(transform[:, :2])))
            # at the photo's resolution, rounded up to a multiple of 128 pixels (so the model
            # is compiled for a few sizes only), and no larger than the model can use
            side = int(min(128 * np.ceil(nominal / scale / 128), self.max_crop))
            transform = transform * (side / nominal)  # photo -> crop at up to the photo's resolution
            batch = preprocess(warp_to_crop(photo, transform, (side, side)), self.info, resize=False)
            points = self.predict(batch)[0]
            if not np.isfinite(points).all():
                result.notes.append(f"face {index}: the model predicted non-finite landmarks; left out")
                continue
            result.faces.append(FaceLandmarks(detection, apply(invert(transform), points), transform, side))
        if smoother is not None and smoother.weight:
            _smooth_points(result.faces, smoother)
        return result

    def face_inputs(self, image, transforms=False):
        """The model inputs ``(N, H, W, 3)`` float32 of the faces found in one photo (path,
        PIL image or array), aligned as :meth:`detect` frames them, at the model's nominal
        input size (an exported file's fixed input); ``N = 0`` when none is found (``facezoo
        export --calibration`` uses these). With ``transforms=True``, ``(inputs, transforms)``:
        the ``(N, 2, 3)`` photo -> input maps, to bring a file's points back to the photo.

        Example:
            >>> faces, maps = detector.face_inputs("photo.jpg", transforms=True)
            >>> points = run_exported_file(faces)                       # (N, K, 2), input pixels
            >>> in_photo = [facezoo.align.apply(facezoo.align.invert(t), p) for t, p in zip(maps, points)]
        """
        from facezoo.registry import preprocess

        photo = read_photo(image)[0]
        maps = [face_transform(d, self.info) for d in self._detect(photo)]
        crops = [warp_to_crop(photo, t, self.info.input_size) for t in maps]
        inputs = preprocess(np.stack(crops) if crops else np.zeros((0, *self.info.input_size, 3), np.uint8), self.info,
                            resize=False)
        return (inputs, np.asarray(maps, np.float64).reshape(-1, 2, 3)) if transforms else inputs

    def detect(self, image):
        """Landmarks of every face of one photo: a :class:`~facezoo.photos.LandmarkResult`;
        faces whose prediction is not finite are left out and named in ``notes``."""
        photo, notes = read_photo(image)
        result = self._landmarks(photo, self._detect(photo), source=source_name(image))
        result.notes[:0] = notes
        return result

    def detect_batch(self, images):
        """:meth:`detect` of several photos."""
        return [self.detect(image) for image in images]

    def detect_video(self, frames, smoothing=0.0):
        """:meth:`detect` of an iterable of frames, lazily (constant memory); ``smoothing``
        averages each face's box, keypoints and points with the previous frame's
        (see :meth:`FaceParser.parse_video`)."""
        return self._frames(frames, smoothing)

    def _run_frame(self, photo, detections, smoother, source):
        return self._landmarks(photo, detections, smoother, source)


def _smooth_points(faces, smoother):
    """Blend each face's landmarks with those of the previous frame's face it matches."""
    previous = getattr(smoother, "points", [])
    for face in faces:
        match = max(previous, key=lambda p: iou(p.detection.box, face.detection.box), default=None)
        if match is not None and iou(match.detection.box, face.detection.box) >= IoU_THRESHOLD:
            face.landmarks = smoother._blend(match.landmarks, face.landmarks)
    smoother.points = list(faces)

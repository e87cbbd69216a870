"""facezoo's 68 landmarks against dlib's, on the same HELEN test photos, in one run.

    pip install -e ".[peers]"     # dlib-bin + face-recognition-models (dlib's 68-point predictor)
    python benchmarks/landmarks_peers.py --data ../shared/data/helen68 \\
        [--limit N] [--fit-limit 200] [--no-holistic] [--no-fast] [--threads 1] \\
        [--json benchmarks/results/landmarks_peers.json]

Methods, each in its own process (so its peak memory is its own), over the same photos of
``helen68/testset`` (330 HELEN test faces at full resolution, one annotated face each):

- ``dlib``: dlib's HOG frontal face detector (upsampled once when the photo's long side is
  under 1000 px) and its 68-point ensemble of regression trees
  (``shape_predictor_68_face_landmarks.dat`` from ``face-recognition-models``), run on
  every face found;
- ``facezoo``: ``facezoo.landmarks(photo)`` with ``adc_landmarks_300w``, i.e. MTCNN,
  alignment to the preset's template, the crop cut at the photo's resolution, the model,
  and the points mapped back to the photo;
- ``facezoo/holistic`` and ``facezoo/fast``: the same with ``holistic_landmarks_300w`` and
  ``adc_landmarks_300w_fast``, fed the MTCNN detections the ``facezoo`` worker found
  (replayed, so MTCNN is not run again; their end to end time adds that worker's detection
  time);
- ``.../box``: each model from a box derived from the ground truth, so that detection and
  localisation are told apart: the tight box around the 68 true points, mapped to the
  detector's own box convention by a scale and offset fitted on training photos (dlib's
  HOG boxes, resp. MTCNN's, against the tight boxes of the same faces; the first 800
  faces of ``trainset/``, never the 70 validation or the test faces), then given to the
  model as its detector would (dlib: a ``dlib.rectangle``; facezoo:
  ``facezoo.detect.BoxDetector``, which aligns a box onto the template's mean MTCNN box);
- ``dlib/tightbox``: dlib fed the tight box itself (not its convention), for reference.

A detection counts for the annotated face when its IoU with the box that the fitted
mapping expects for it is at least ``--match-iou`` (0.4); otherwise the face is
*missed* (other faces in the photo are ignored). NME = mean point error / outer-eye-corner
distance (points 36 and 45), percent, in photo pixels; failure = NME > 8 %; the mean,
median and failure rate are over the faces a method found (``fail+miss`` counts misses as
failures), and again over the faces every detector-based method found (``common``). Also:
NME by region (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67) and by face
size (terciles of the true inter-ocular distance over the photos run).

Time, per face, as CPU time of the process (``--threads 1``: TensorFlow, hence MTCNN and
facezoo's models, run on one thread; dlib is single-threaded), so a loaded machine
inflates it less than wall time (both are recorded; medians): the landmark step alone
(dlib: the shape predictor on the found box; facezoo: the compiled model call on the
aligned crop, as one reused ``LandmarkDetector`` and ``facezoo landmarks`` make it),
detection, and end to end (photo array in memory -> points in photo pixels for every face
found). Peak memory: the worker's peak
resident set, and that above its level after loading and one warm-up.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

VALIDATION = 70  # recipes/adc_landmarks_300w.py holds out the last 70 training faces
#: Other presets run on the detections of the ``facezoo`` worker: method -> (preset, worker file)
REPLAYED = {"facezoo/holistic": ("holistic_landmarks_300w", "holistic.json"),
            "facezoo/fast": ("adc_landmarks_300w_fast", "fast.json")}
TRAINING = 800
REGIONS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
           "mouth": range(48, 68)}
PEERS_MISSING = ("dlib is not installed: the peers are an optional extra. Install them with\n"
                 "    pip install -e \".[peers]\"      (or: pip install dlib-bin face-recognition-models)\n"
                 "dlib-bin is a prebuilt dlib wheel (no compiler needed); face-recognition-models carries\n"
                 "shape_predictor_68_face_landmarks.dat (about 100 MB).")


def _peers():
    try:
        import dlib
        import face_recognition_models
    except ImportError as error:
        raise SystemExit(f"{PEERS_MISSING}\n({error})") from None
    return dlib, face_recognition_models


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _limit_threads(threads):
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


class Clock:
    """Accumulates CPU and wall seconds of the calls it wraps."""

    def __init__(self):
        self.cpu = self.wall = 0.0
        self.last = (0.0, 0.0)

    def __enter__(self):
        self._c, self._w = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.last = (time.process_time() - self._c, time.perf_counter() - self._w)
        self.cpu, self.wall = self.cpu + self.last[0], self.wall + self.last[1]


def tight_box(points):
    return np.array([*points.min(0), *points.max(0)], np.float64)


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def box_mapping(detected, tight):
    """Median centre offsets and size ratios ``(ox, oy, sw, sh)`` in units of the tight box's
    width/height, taking tight boxes ``(N, 4)`` onto the detector's boxes ``(N, 4)``."""
    detected, tight = np.asarray(detected, np.float64), np.asarray(tight, np.float64)
    tw, th = tight[:, 2] - tight[:, 0], tight[:, 3] - tight[:, 1]
    dw, dh = detected[:, 2] - detected[:, 0], detected[:, 3] - detected[:, 1]
    ox = ((detected[:, 0] + detected[:, 2]) - (tight[:, 0] + tight[:, 2])) / 2 / tw
    oy = ((detected[:, 1] + detected[:, 3]) - (tight[:, 1] + tight[:, 3])) / 2 / th
    return [float(np.median(v)) for v in (ox, oy, dw / tw, dh / th)]


def apply_mapping(mapping, box):
    ox, oy, sw, sh = mapping
    w, h = box[2] - box[0], box[3] - box[1]
    cx, cy = (box[0] + box[2]) / 2 + ox * w, (box[1] + box[3]) / 2 + oy * h
    return np.array([cx - sw * w / 2, cy - sh * h / 2, cx + sw * w / 2, cy + sh * h / 2])


def _dlib_box(rect):  # dlib's right/bottom are inclusive pixel indices
    return np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], np.float64)


def _dlib_rect(dlib, box):
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return dlib.rectangle(x0, y0, x1 - 1, y1 - 1)


def _match(boxes, expected, threshold):
    """Index of the box best overlapping ``expected`` if its IoU reaches ``threshold``."""
    scores = [iou(b, expected) for b in boxes]
    best = int(np.argmax(scores)) if scores else -1
    return best if best >= 0 and scores[best] >= threshold else None


class Face:
    def __init__(self, id, image, landmarks):
        self.id, self.image, self.landmarks = id, image, landmarks


class _Faces:
    """``helen68/<split>`` photos and their 68 points, read with PIL alone: the dlib worker
    imports neither TensorFlow nor facezoo, so its memory is dlib's own. (The same files,
    order and EXIF handling as ``facezoo.data.Landmarks300W``.)"""

    def __init__(self, data, split, indices):
        folder = os.path.join(data, {"train": "trainset", "test": "testset"}[split])
        names = sorted(n for n in os.listdir(folder) if n.lower().endswith((".jpg", ".jpeg", ".png")))
        self.paths = [os.path.join(folder, names[i]) for i in indices if i < len(names)]

    def __len__(self):
        return len(self.paths)

    @property
    def ids(self):
        return [os.path.splitext(os.path.basename(p))[0] for p in self.paths]

    def __getitem__(self, index):
        from PIL import Image, ImageOps

        path = self.paths[index]
        with Image.open(path) as img:
            image = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
        with open(os.path.splitext(path)[0] + ".pts") as handle:
            text = handle.read()
        body = text[text.index("{") + 1:text.index("}")].split()
        points = np.array(body, np.float64).reshape(-1, 2)
        if points.shape != (68, 2):
            raise SystemExit(f"{path}: expected 68 points, read {points.shape}")
        return Face(os.path.splitext(os.path.basename(path))[0], image, points)


def _dataset(data, split, indices):
    return _Faces(data, split, indices)


def _fit_indices(fit_limit):
    step = max(1, TRAINING // fit_limit)
    return list(range(0, TRAINING, step))[:fit_limit]


def _dlib_upsample(image):
    return 1 if max(image.shape[:2]) < 1000 else 0


# ---------------------------------------------------------------------------------------- workers


def worker_fit(args):
    """Detector boxes of dlib and MTCNN against the tight boxes of training faces."""
    dlib, _ = _peers()
    _limit_threads(args.threads)
    from facezoo.detect import MTCNNDetector

    hog, mtcnn = dlib.get_frontal_face_detector(), MTCNNDetector()
    pairs = {"dlib": ([], []), "mtcnn": ([], [])}
    faces = _dataset(args.data, "train", _fit_indices(args.fit_limit))
    for index in range(len(faces)):
        sample = faces[index]
        tight = tight_box(sample.landmarks)
        centre = (tight[:2] + tight[2:]) / 2
        found = {"dlib": [_dlib_box(r) for r in hog(sample.image, _dlib_upsample(sample.image))],
                 "mtcnn": [np.asarray(d.box, np.float64) for d in mtcnn(sample.image)]}
        for name, boxes in found.items():
            # before a mapping exists: the box holding the true centre, nearest to it
            holding = [b for b in boxes if b[0] <= centre[0] <= b[2] and b[1] <= centre[1] <= b[3]]
            if holding:
                box = min(holding, key=lambda b: np.linalg.norm((b[:2] + b[2:]) / 2 - centre))
                pairs[name][0].append(box)
                pairs[name][1].append(tight)
    result = {name: {"mapping": box_mapping(*pairs[name]), "faces": len(pairs[name][0]), "photos": len(faces)}
              for name in pairs}
    with open(args.out, "w") as handle:
        json.dump(result, handle)


def _record(faces, sample_id, method, points, times):
    faces.setdefault(sample_id, {})[method] = {
        "points": None if points is None else np.asarray(points, np.float64).round(3).tolist(), **times}


def worker_dlib(args):
    dlib, models = _peers()
    fit = json.load(open(args.fit))["dlib"]["mapping"]
    hog = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(models.pose_predictor_model_location())
    shape = lambda image, rect: np.array([(p.x, p.y) for p in predictor(image, rect).parts()], np.float64)  # noqa: E731
    warm = np.zeros((256, 256, 3), np.uint8)
    hog(warm, 1), shape(warm, dlib.rectangle(60, 60, 190, 190))
    base = _rss_mb()
    faces = _dataset(args.data, "test", range(args.limit or 10**9))
    out, partial = {}, Partial(args.out, base, len(faces), "dlib")
    for index, sample_id in enumerate(faces.ids):
        if partial.done(sample_id):
            continue
        sample = faces[index]
        image, tight = sample.image, tight_box(sample.landmarks)
        detect, step, total = Clock(), Clock(), Clock()
        with total:
            with detect:
                rects = list(hog(image, _dlib_upsample(image)))
            all_points, step_times = [], []
            for rect in rects:
                with step:
                    all_points.append(shape(image, rect))
                step_times.append(step.last)
        hit = _match([_dlib_box(r) for r in rects], apply_mapping(fit, tight), args.match_iou)
        times = {"detect_cpu": detect.last[0], "detect_wall": detect.last[1], "total_cpu": total.last[0],
                 "total_wall": total.last[1], "faces_found": len(rects)}
        if hit is not None:  # the landmark step of the matched face alone
            times.update(step_cpu=step_times[hit][0], step_wall=step_times[hit][1])
        _record(out, sample.id, "dlib", None if hit is None else all_points[hit], times)
        for method, box in (("dlib/box", apply_mapping(fit, tight)), ("dlib/tightbox", tight)):
            with step:
                points = shape(image, _dlib_rect(dlib, box))
            _record(out, sample.id, method, points, {"step_cpu": step.last[0], "step_wall": step.last[1]})
        partial.add(sample.id, out[sample.id])
    partial.finish(args.out)


class TimedPredict:
    """A landmark pipeline's compiled predict function (``LandmarkDetector.predict``),
    each call timed: the landmark step as ``facezoo landmarks`` runs it."""

    def __init__(self, predict):
        self._predict, self.clock, self.calls = predict, Clock(), []

    def __call__(self, batch):
        with self.clock:
            out = self._predict(batch)
        self.calls.append(self.clock.last)
        return out


class SwappableDetector:
    """The detector of one reused LandmarkDetector, replaced per photo (MTCNN, replayed
    detections, or the ground-truth-derived box)."""

    detector = None

    def __call__(self, image):
        return self.detector(image)


class TimedDetector:
    def __init__(self, detector):
        self.detector, self.clock, self.found = detector, Clock(), []

    def __call__(self, image):
        with self.clock:
            self.found = self.detector(image)
        return self.found


def worker_facezoo(args):
    """facezoo.landmarks with one preset, through MTCNN (or replayed detections) and a box."""
    _limit_threads(args.threads)
    import facezoo
    from facezoo.detect import BoxDetector, MTCNNDetector
    from facezoo.pipeline import LandmarkDetector

    fit = json.load(open(args.fit))["mtcnn"]["mapping"]
    # one detector object for the whole run, as `facezoo landmarks` uses one for all its
    # photos (its compiled model is traced once per crop size, not per photo)
    swap = SwappableDetector()
    landmarker = LandmarkDetector(facezoo.load(args.preset, compile=False), detector=swap)
    model = landmarker.predict = TimedPredict(landmarker.predict)
    replay = json.load(open(args.replay)) if args.replay else None
    mtcnn = MTCNNDetector()
    warm = np.zeros((256, 256, 3), np.uint8)
    swap.detector = BoxDetector([(60, 60, 190, 190)])
    mtcnn(warm), landmarker.detect(warm)
    base = _rss_mb()
    faces = _dataset(args.data, "test", range(args.limit or 10**9))
    method, out, detections = args.method, {}, {}
    partial = Partial(args.out, base, len(faces), method)
    for index, sample_id in enumerate(faces.ids):
        if partial.done(sample_id):
            continue
        sample = faces[index]
        image, tight = sample.image, tight_box(sample.landmarks)
        expected = apply_mapping(fit, tight)
        if replay is None:
            detector = TimedDetector(mtcnn)
        else:
            found = replay[sample.id]
            detector = TimedDetector(BoxDetector([d["box"] for d in found], [d["keypoints"] for d in found])
                                     if found else (lambda image: []))
        model.calls, total, swap.detector = [], Clock(), detector
        with total:
            result = landmarker.detect(image)
        detections[sample.id] = [{"box": list(map(float, d.box)), "keypoints": np.asarray(d.keypoints).tolist()}
                                 for d in detector.found if d.keypoints is not None]
        hit = _match([np.asarray(f.detection.box, np.float64) for f in result.faces], expected, args.match_iou)
        times = {"detect_cpu": detector.clock.last[0], "detect_wall": detector.clock.last[1],
                 "total_cpu": total.last[0], "total_wall": total.last[1], "faces_found": len(result.faces)}
        if replay is not None:  # detection was done (and timed) by the facezoo worker
            times.update(detect_cpu=replay_times(args, sample.id, "detect_cpu"),
                         detect_wall=replay_times(args, sample.id, "detect_wall"))
            times.update(total_cpu=times["total_cpu"] + times["detect_cpu"],
                         total_wall=times["total_wall"] + times["detect_wall"])
        if hit is not None and len(model.calls) == len(result.faces):  # one call per face, in order
            times.update(step_cpu=model.calls[hit][0], step_wall=model.calls[hit][1])
        _record(out, sample.id, method, None if hit is None else result.faces[hit].landmarks, times)
        model.calls, swap.detector = [], BoxDetector([expected])
        with total:
            boxed = landmarker.detect(image)
        points = boxed.faces[0].landmarks if boxed.faces else None
        _record(out, sample.id, f"{method}/box", points,
                {"step_cpu": model.calls[0][0], "step_wall": model.calls[0][1], "total_cpu": total.last[0],
                 "total_wall": total.last[1]})
        partial.add(sample.id, out[sample.id], detections=detections[sample.id])
    if args.save_detections:
        with open(args.save_detections, "w") as handle:
            json.dump({i: line["detections"] for i, line in partial.lines.items()}, handle)
    partial.finish(args.out)


_REPLAY_TIMES = {}


def replay_times(args, sample_id, key):
    if not _REPLAY_TIMES:
        _REPLAY_TIMES.update(json.load(open(args.replay_times))["faces"])
    return _REPLAY_TIMES[sample_id]["facezoo"][key]


class Partial:
    """A worker's results so far, one JSON line a photo in ``OUT.partial``: a worker that is
    stopped resumes where it was (``--work`` keeps the folder); ``finish`` writes ``OUT``.
    Peak memory is the largest over the processes that worked on it."""

    def __init__(self, out, base, total, name):
        self.path, self.base, self.total, self.name, self.lines = out + ".partial", base, total, name, {}
        if os.path.exists(self.path):
            with open(self.path) as handle:
                for text in handle:
                    try:
                        line = json.loads(text)
                    except ValueError:  # a line being written (or cut off when a worker was stopped)
                        continue
                    self.lines[line["id"]] = line
            print(f"{name}: {len(self.lines)} photos done before", file=sys.stderr, flush=True)
        self.start, self.new = time.time(), 0

    def done(self, sample_id):
        return sample_id in self.lines

    def add(self, sample_id, methods, **extra):
        line = {"id": sample_id, "methods": methods, "rss_mb": _rss_mb(), "base_mb": self.base, **extra}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(line) + "\n")
        self.lines[sample_id], self.new = line, self.new + 1
        if self.new % 10 == 0:
            print(f"{self.name}: {len(self.lines)}/{self.total} photos, {(time.time() - self.start) / self.new:.1f} s "
                  f"wall a photo", file=sys.stderr, flush=True)

    def result(self):
        lines = self.lines.values()
        return {"faces": {line["id"]: line["methods"] for line in lines},
                "peak_rss_mb": max(line["rss_mb"] for line in lines),
                "peak_mb_above_loaded": max(line["rss_mb"] - line["base_mb"] for line in lines)}

    def finish(self, out):
        with open(out, "w") as handle:
            json.dump(self.result(), handle)


# ---------------------------------------------------------------------------------------- scoring


def per_face_scores(points, true):
    true, points = np.asarray(true, np.float64), np.asarray(points, np.float64)
    iod = np.linalg.norm(true[36] - true[45])
    errors = np.linalg.norm(points - true, axis=-1) / iod * 100.0
    return float(errors.mean()), {name: float(errors[list(r)].mean()) for name, r in REGIONS.items()}, float(iod)


#: photo-size bins (megapixels) for the end-to-end times: dlib's HOG detector searches the whole photo, MTCNN a
#: copy of at most 1024 pixels a side, so their costs part with the photo's size (issue #18: at 1 and 12 MP)
PHOTO_SIZES = (0.0, 1.5, 4.0, 8.0)


def summarise(methods, faces, truth, detector_methods, threshold=8.0, megapixels=None):
    """Aggregate per-method scores and times; ``faces`` is {id: {method: record}}; ``megapixels``
    ({id: MP}) adds each method's median end-to-end CPU time by photo size (:data:`PHOTO_SIZES`)."""
    ids = sorted(truth)
    iods = np.array([np.linalg.norm(truth[i][36] - truth[i][45]) for i in ids])
    edges = np.quantile(iods, [1 / 3, 2 / 3]).tolist()
    common = [i for i in ids if all(faces[i][m]["points"] is not None for m in detector_methods if m in faces[i])]
    rows = {}
    for method in methods:
        found = [i for i in ids if faces[i].get(method, {}).get("points") is not None]
        scored = {i: per_face_scores(faces[i][method]["points"], truth[i]) for i in found}
        nmes = np.array([scored[i][0] for i in found])
        row = {"faces": len(ids), "found": len(found), "missed": len(ids) - len(found)}
        if len(found):
            row.update(nme_mean=float(nmes.mean()), nme_median=float(np.median(nmes)),
                       failure_rate_8=float(100 * (nmes > threshold).mean()),
                       failure_or_miss_rate=float(100 * ((nmes > threshold).sum() + len(ids) - len(found)) / len(ids)),
                       regions={name: float(np.mean([scored[i][1][name] for i in found])) for name in REGIONS})
            sizes = {}
            for t, (lo, hi) in enumerate(zip([0.0] + edges, edges + [np.inf])):
                inside = [i for i in found if lo <= scored[i][2] < hi]
                sizes[f"iod_tercile_{t + 1}"] = {"iod_px": [round(lo, 1), None if hi == np.inf else round(hi, 1)],
                                                 "faces": len(inside),
                                                 "nme_mean": float(np.mean([scored[i][0] for i in inside]))
                                                 if inside else None}
            row["by_face_size"] = sizes
            in_common = [scored[i][0] for i in common if i in scored]
            row["common"] = {"faces": len(in_common), "nme_mean": float(np.mean(in_common)) if in_common else None,
                             "nme_median": float(np.median(in_common)) if in_common else None,
                             "failure_rate_8": float(100 * np.mean(np.array(in_common) > threshold))
                             if in_common else None}
        for key in ("step_cpu", "step_wall", "detect_cpu", "detect_wall", "total_cpu", "total_wall"):
            values = [faces[i][method][key] for i in ids if key in faces[i].get(method, {})]
            if values:
                row[f"ms_{key}_median"] = 1000 * float(np.median(values))
                row[f"ms_{key}_mean"] = 1000 * float(np.mean(values))
        timed = [i for i in ids if "total_cpu" in faces[i].get(method, {})]
        if megapixels and timed:
            row["ms_total_cpu_median_by_photo_size"] = {}
            for lo, hi in zip(PHOTO_SIZES, PHOTO_SIZES[1:] + (np.inf,)):
                inside = [faces[i][method]["total_cpu"] for i in timed if lo <= megapixels[i] < hi]
                row["ms_total_cpu_median_by_photo_size"][_size_bin(lo, hi)] = {
                    "photos": len(inside), "ms": 1000 * float(np.median(inside)) if inside else None}
        rows[method] = row
    return rows, common


def _size_bin(lo, hi):
    return f"{lo:g}+ MP" if hi == np.inf else f"{lo:g}-{hi:g} MP"


def print_tables(report):
    rows = report["methods"]
    print(f"\nhelen68 testset, {report['photos']} photos (one annotated face each); times per face, CPU ms "
          f"with {report['threads']} thread(s), medians; machine: {report['machine']}")
    head = (f"{'method':>18} {'found':>5} {'NME':>6} {'median':>6} {'fail8':>6} {'f+miss':>6} {'common':>6} "
            f"{'step ms':>8} {'detect':>7} {'end2end':>8} {'peak MB':>8}")
    print(head)
    for name, r in rows.items():
        fmt = lambda key, spec="6.2f": format(r[key], spec) if r.get(key) is not None else "-".rjust(int(spec[0]))  # noqa: E731
        common = r.get("common", {}).get("nme_mean")
        print(f"{name:>18} {r['found']:>5} {fmt('nme_mean')} {fmt('nme_median')} {fmt('failure_rate_8', '6.1f')} "
              f"{fmt('failure_or_miss_rate', '6.1f')} {format(common, '6.2f') if common else '-':>6} "
              f"{fmt('ms_step_cpu_median', '8.1f')} {fmt('ms_detect_cpu_median', '7.0f')} "
              f"{fmt('ms_total_cpu_median', '8.0f')} {fmt('peak_rss_mb', '8.0f')}")
    print("\nNME by region and by face size (true inter-ocular distance terciles)")
    some = next(r for r in rows.values() if "by_face_size" in r)
    terciles = list(some["by_face_size"])
    print(f"{'method':>18} " + " ".join(f"{k:>6}" for k in REGIONS) + " " + " ".join(
        f"{'iod ' + str(some['by_face_size'][t]['iod_px'][0]) + '+':>10}" for t in terciles))
    for name, r in rows.items():
        if "regions" in r:
            print(f"{name:>18} " + " ".join(f"{r['regions'][k]:6.2f}" for k in REGIONS) + " " + " ".join(
                f"{r['by_face_size'][t]['nme_mean']:10.2f}" if r['by_face_size'][t]['nme_mean'] else f"{'-':>10}"
                for t in terciles))
    timed = {name: r["ms_total_cpu_median_by_photo_size"] for name, r in rows.items()
             if "ms_total_cpu_median_by_photo_size" in r and "box" not in name}  # through each one's detector
    if timed:
        bins = list(next(iter(timed.values())))
        print("\nend-to-end CPU ms per face by photo size (medians; photos in each bin), and / dlib")
        print(f"{'method':>18} " + " ".join(f"{b + ' (' + str(next(iter(timed.values()))[b]['photos']) + ')':>18}"
                                            for b in bins))
        for name, by_size in timed.items():
            cells = []
            for b in bins:
                ms, base = by_size[b]["ms"], timed.get("dlib", {}).get(b, {}).get("ms")
                cells.append("-" if ms is None else f"{ms:.0f}" + (f" ({ms / base:.2f}x)" if base and name != "dlib"
                                                                   else ""))
            print(f"{name:>18} " + " ".join(f"{c:>18}" for c in cells))
    print("\nratios facezoo / dlib (NME mean, failure@8 %, landmark-step CPU ms, end-to-end CPU ms, peak MB):")
    pairs = [("facezoo", "dlib"), ("facezoo/box", "dlib/box")]
    pairs += [(m + suffix, "dlib" + suffix) for m in REPLAYED for suffix in ("", "/box")]
    for ours, theirs in pairs:
        if ours in rows and theirs in rows and "nme_mean" in rows[ours] and "nme_mean" in rows[theirs]:
            a, b = rows[ours], rows[theirs]
            ratio = lambda key: (f"{a[key] / b[key]:.2f}" if a.get(key) and b.get(key) else "-")  # noqa: E731
            print(f"{ours + ' / ' + theirs:>32}  NME {ratio('nme_mean')}  fail {ratio('failure_rate_8')}  "
                  f"step {ratio('ms_step_cpu_median')}  end2end {ratio('ms_total_cpu_median')}  "
                  f"memory {ratio('peak_rss_mb')}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="helen68 folder (testset/, and trainset/ for the box fit)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N test photos")
    parser.add_argument("--fit-limit", type=int, default=200,
                        help="training photos (spread over the first 800) for the box-convention fit")
    parser.add_argument("--match-iou", type=float, default=0.4)
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads (0: its default)")
    parser.add_argument("--no-holistic", action="store_true", help="leave out holistic_landmarks_300w")
    parser.add_argument("--no-fast", action="store_true", help="leave out adc_landmarks_300w_fast")
    parser.add_argument("--work", default=None, help="folder for the workers' files (kept; default: temporary)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--report-partial", action="store_true",
                        help="run nothing: report the photos every worker in --work has finished so far")
    parser.add_argument("--worker", choices=["fit", "dlib", "facezoo"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--fit", help=argparse.SUPPRESS)
    parser.add_argument("--preset", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--replay", help=argparse.SUPPRESS)
    parser.add_argument("--replay-times", help=argparse.SUPPRESS)
    parser.add_argument("--save-detections", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return {"fit": worker_fit, "dlib": worker_dlib, "facezoo": worker_facezoo}[args.worker](args)
    _peers()  # fail early, with the install line, when the peers are missing

    work = args.work or tempfile.mkdtemp(prefix="landmarks_peers_")
    os.makedirs(work, exist_ok=True)
    path = lambda name: os.path.join(work, name)  # noqa: E731
    common = [sys.executable, os.path.abspath(__file__), "--data", args.data, "--threads", str(args.threads),
              "--match-iou", str(args.match_iou), "--fit", path("fit.json")]
    common += ["--limit", str(args.limit)] if args.limit else []
    steps = [("fit", ["--worker", "fit", "--fit-limit", str(args.fit_limit), "--out", path("fit.json")]),
             ("dlib", ["--worker", "dlib", "--out", path("dlib.json")]),
             ("facezoo", ["--worker", "facezoo", "--preset", "adc_landmarks_300w", "--method", "facezoo",
                          "--out", path("facezoo.json"), "--save-detections", path("detections.json")])]
    left_out = {"facezoo/holistic": args.no_holistic, "facezoo/fast": args.no_fast}
    for method, (preset, file) in REPLAYED.items():
        if not left_out[method]:
            steps.append((method, ["--worker", "facezoo", "--preset", preset, "--method", method, "--out", path(file),
                                   "--replay", path("detections.json"), "--replay-times", path("facezoo.json")]))
    # dlib and facezoo run side by side (times are CPU time per process); the replaying
    # workers use facezoo's detections, so they wait for it (and run side by side)
    groups = [steps[:1], steps[1:3], steps[3:]]
    for group in ([] if args.report_partial else groups):
        running = []
        for name, extra in group:
            out = extra[extra.index("--out") + 1]
            if os.path.exists(out) and args.work:
                print(f"{name}: reusing {out}", file=sys.stderr)
                continue
            running.append((name, time.time(), subprocess.Popen(common + extra)))
        for name, start, process in running:
            if process.wait():
                raise SystemExit(f"the {name} worker failed ({process.returncode})")
            print(f"{name}: done in {time.time() - start:.0f} s", file=sys.stderr, flush=True)

    fit = json.load(open(path("fit.json")))
    faces, memory = {}, {}
    for name, file in (("dlib", "dlib.json"), ("facezoo", "facezoo.json"),
                       *((method, file) for method, (_, file) in REPLAYED.items())):
        worker = None
        if os.path.exists(path(file)):
            worker = json.load(open(path(file)))
        elif args.report_partial and os.path.exists(path(file) + ".partial"):
            worker = Partial(path(file), 0.0, 0, name).result()
        if worker is not None:
            if faces:  # only the photos every worker has done
                faces = {i: faces[i] for i in worker["faces"] if i in faces}
            for sample_id, methods in worker["faces"].items():
                if memory and sample_id not in faces:
                    continue
                faces.setdefault(sample_id, {}).update(methods)
            memory[name] = (worker["peak_rss_mb"], worker["peak_mb_above_loaded"])
    truth = {s.id: s.landmarks for s in _dataset(args.data, "test", range(args.limit or 10**9))}
    truth = {k: v for k, v in truth.items() if k in faces}
    methods = [m for m in ("dlib", "facezoo", *REPLAYED, "dlib/box", "facezoo/box", *(m + "/box" for m in REPLAYED),
                           "dlib/tightbox") if any(m in f for f in faces.values())]
    detector_methods = [m for m in methods if m in ("dlib", "facezoo")]
    rows, common_ids = summarise(methods, faces, truth, detector_methods, megapixels=_megapixels(args.data, truth))
    for method, row in rows.items():
        owner = "dlib" if method.startswith("dlib") else next(
            (m for m in REPLAYED if method.startswith(m)), "facezoo")
        if owner in memory:
            row["peak_rss_mb"], row["peak_mb_above_loaded"] = memory[owner]
    missed = {a: sorted(i for i in truth if faces[i][a]["points"] is None and faces[i][b]["points"] is not None)
              for a, b in (("facezoo", "dlib"), ("dlib", "facezoo")) if a in methods and b in methods}
    load = os.getloadavg()
    report = {
        "command": "python benchmarks/landmarks_peers.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "photos": len(truth), "partial": bool(args.report_partial), "threads": args.threads, "match_iou": args.match_iou,
        "machine": f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at the end of the run",
        "versions": _versions(), "box_fit": fit, "methods": rows, "common_faces": len(common_ids),
        "missed_by_one_found_by_other": {f"{a} misses, other finds": v for a, v in missed.items()},
        "per_face_nme": {i: {m: (round(per_face_scores(faces[i][m]["points"], truth[i])[0], 3)
                                 if faces[i].get(m, {}).get("points") is not None else None) for m in methods}
                         for i in sorted(truth)},
    }
    print_tables(report)
    print("\nbox fit on training photos (offset x, y and scale w, h of the detector box in tight-box units): "
          + "; ".join(f"{k} {[round(v, 3) for v in f['mapping']]} ({f['faces']}/{f['photos']} photos)"
                      for k, f in fit.items()))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    return 0


def _megapixels(data, ids):
    """Each test photo's size in megapixels, from its header."""
    from PIL import Image

    folder = os.path.join(data, "testset")
    names = {os.path.splitext(n)[0]: n for n in os.listdir(folder) if n.lower().endswith((".jpg", ".jpeg", ".png"))}
    sizes = {}
    for sample_id in ids:
        with Image.open(os.path.join(folder, names[sample_id])) as image:
            sizes[sample_id] = image.size[0] * image.size[1] / 1e6
    return sizes


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("facezoo", "dlib-bin", "face-recognition-models", "tensorflow", "keras", "mtcnn"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


if __name__ == "__main__":
    sys.exit(main())

"""Evaluate any model that follows the facezoo interface on a dataset, by its protocol.

The interface: a Keras model taking float32 RGB ``(B, H, W, 3)`` in [0, 1]. A *parser*
returns per-pixel scores ``(B, H, W, L)`` (logits or probabilities); a *landmark model*
returns ``(B, 68, 2)`` points in pixels of its input. Faces are resized to the model's
input; scores are resized back to each label map's own resolution (bilinear) before the
argmax, so numbers are measured at the dataset's resolution.

Example:
    >>> scores = evaluate_parsing(model, LFWPartLabels(root, "test"), protocol="lfw_pl")
    >>> scores["pixel_accuracy"]
"""

import json
import os

import numpy as np
from tqdm.auto import tqdm

from facezoo.classmaps import CELEBAMASK_TO_HELEN, HELEN, remap_table
from facezoo.data.feeding import pad_to_square, resize_sample
from facezoo.metrics import ConfusionMatrix, helen_scores, landmark_scores, lfw_scores, mean_f1_scores
from facezoo.pipeline import LandmarkDetector, aligned_face_points, takes_landmark_heatmap
from facezoo.utils import atomic_output

PROTOCOLS = {
    "helen": (HELEN.num_classes, helen_scores),
    "lfw_pl": (3, lfw_scores),
    "celebamask": (19, mean_f1_scores),
}


def _input_size(model):
    from facezoo.export import model_input_shape

    return tuple(model_input_shape(model)[1:3])


def sample_count(dataset, limit=None):
    """How many samples an evaluation reads: all of ``dataset``, or its first ``limit``.

    Raises:
        ValueError: ``limit`` is not a whole number >= 1, or the dataset is empty (the
            scores would all be NaN).
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ValueError(f"limit must be None or a whole number >= 1, got {limit!r}")
    if len(dataset) == 0:
        raise ValueError("the dataset holds no samples: nothing to evaluate")
    return len(dataset) if limit is None else min(limit, len(dataset))


def _batches(dataset, batch_size, limit):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    count = sample_count(dataset, limit)
    for start in range(0, count, batch_size):
        yield [dataset[i] for i in range(start, min(start + batch_size, count))]


#: Where a heatmap-input parser's landmarks come from in an evaluation (see predict_scores).
HEATMAP_POINTS = ("detected", "ground_truth")


def predict_scores(model, samples, size, heatmap_points="detected"):
    """Model scores for samples resized to ``size``; returns ``(B, H, W, L)`` numpy.

    A parser that takes a landmark heatmap (Wei et al.) gets it drawn from each face's 68
    points: ``heatmap_points="detected"`` (facezoo's landmark model, ``adc_landmarks_300w``,
    through :class:`facezoo.LandmarkDetector`, on the face its template puts in the crop,
    as for ``FaceParser(aligned=True)``; a new detector per call: pass one to reuse it), a
    LandmarkDetector, or ``"ground_truth"`` (the sample's own landmarks: an upper bound,
    not a deployable score).
    """
    import keras

    resized = [resize_sample(s, size) for s in samples]
    images = np.stack([s.image for s in resized]).astype(np.float32) / 255.0
    if takes_landmark_heatmap(model):
        from facezoo.models.rtparser import landmark_heatmap

        source = _heatmap_source(heatmap_points)
        heat = [landmark_heatmap(_heatmap_points(s, source, model.info), size) for s in resized]
        images = np.concatenate([images, np.stack(heat)[..., None]], -1)
    return keras.ops.convert_to_numpy(model(images, training=False))


def _heatmap_source(heatmap_points, build=True):
    """``"ground_truth"`` or a LandmarkDetector (``"detected"``: a new default one, if
    ``build``); ValueError for anything else, whether or not the model takes a heatmap."""
    if not isinstance(heatmap_points, str):
        return heatmap_points
    if heatmap_points not in HEATMAP_POINTS:
        raise ValueError(f"heatmap_points must be one of {HEATMAP_POINTS} or a LandmarkDetector, "
                         f"got {heatmap_points!r}")
    if heatmap_points == "ground_truth" or not build:
        return heatmap_points
    return LandmarkDetector()


def _heatmap_points(sample, source, info):
    """The 68 points drawing one face's heatmap (see :func:`predict_scores`); the face
    is aligned onto the model's template where it has one (helen_contours)."""
    if source == "ground_truth":
        if sample.landmarks is None:
            raise ValueError("heatmap_points='ground_truth' needs a dataset with landmarks (helen_contours)")
        return sample.landmarks
    points = aligned_face_points(source, info, sample.image)
    return np.empty((0, 2)) if points is None else points


def evaluate_parsing(model, dataset, protocol, batch_size=8, label_table=None, limit=None, progress=True,
                     prediction_table=None, heatmap_points="detected"):
    """Scores of a parser on a dataset under ``protocol`` (``helen``, ``lfw_pl``, ``celebamask``).

    ``heatmap_points``: for a parser with a landmark-heatmap input (see :func:`predict_scores`).
    ``label_table`` maps the dataset's labels into the protocol's classes first (e.g.
    CelebAMask-HQ labels into HELEN's scheme); ``prediction_table`` maps the predicted
    classes likewise (e.g. skin and hair to background where the labels cannot tell them).
    """
    import keras

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    num_classes, score_fn = PROTOCOLS[protocol]
    size = _input_size(model)
    cm = ConfusionMatrix(num_classes)
    total = sample_count(dataset, limit)
    heatmap_points = _heatmap_source(heatmap_points, build=takes_landmark_heatmap(model))  # one for the run
    with tqdm(total=total, desc=f"evaluating {protocol}", disable=not progress, leave=False) as bar:
        for samples in _batches(dataset, batch_size, limit):
            scores = predict_scores(model, samples, size, heatmap_points)
            if scores.ndim != 4 or scores.shape[-1] != num_classes:
                raise ValueError(
                    f"the {protocol} protocol needs {num_classes} class scores per pixel; "
                    f"the model returns shape {scores.shape}"
                )
            for sample, score in zip(samples, scores):
                height, width = sample.labels.shape
                if score.shape[:2] != (height, width):
                    score = keras.ops.convert_to_numpy(
                        keras.ops.image.resize(score[None], (height, width), interpolation="bilinear")
                    )[0]
                truth = sample.labels if label_table is None else label_table[sample.labels]
                predicted = np.argmax(score, axis=-1)
                cm.update(predicted if prediction_table is None else prediction_table[predicted], truth)
            bar.update(len(samples))
    result = score_fn(cm.matrix)
    result["confusion_matrix"] = cm.matrix.tolist()
    return result


def evaluate_landmarks(model, dataset, batch_size=8, limit=None, threshold=8.0, progress=True, resolution=None):
    """NME and failure rate of a landmark model, measured in each image's own pixels.

    Faces are padded to a centred square (as the landmark recipes train) and given to the
    model resized to its nominal input size (``resolution=None``), to ``R x R`` (an int),
    or at their own full resolution (``"full"``, one face per batch)."""
    predicted, true = predict_landmarks(model, dataset, batch_size, limit, progress, resolution)
    return landmark_scores(predicted, true, threshold=threshold)


def predict_landmarks(model, dataset, batch_size=8, limit=None, progress=True, resolution=None):
    """``(predicted, true)`` landmarks ``(N, K, 2)`` of ``dataset``'s faces in their own pixels,
    given to the model as :func:`evaluate_landmarks` gives them."""
    if resolution == "full":
        batch_size = 1
    elif resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int)
                                     or resolution < 16):
        raise ValueError(f"resolution must be None, 'full' or an int >= 16, got {resolution!r}")
    predicted, true = [], []
    total = sample_count(dataset, limit)
    with tqdm(total=total, desc="predicting landmarks", disable=not progress, leave=False) as bar:
        for originals in _batches(dataset, batch_size, limit):
            padded = [pad_to_square(s) for s in originals]
            samples, offsets = [p[0] for p in padded], [p[1] for p in padded]
            size = (samples[0].image.shape[:2] if resolution == "full"
                    else _input_size(model) if resolution is None else (resolution, resolution))
            points = predict_scores(model, samples, size)
            expected = originals[0].landmarks.shape
            if points.ndim != 3 or points.shape[1:] != expected:
                raise ValueError(f"a landmark model must return (B, {expected[0]}, 2) points for these faces; got "
                                 f"shape {points.shape}")
            if not np.isfinite(points).all():
                raise ValueError(f"the model predicted non-finite landmarks for {[s.id for s in samples]}")
            for sample, offset, original, p in zip(samples, offsets, originals, points):
                height, width = sample.image.shape[:2]
                scale = np.array([width / size[1], height / size[0]])
                predicted.append((p + 0.5) * scale - 0.5 - offset)  # back to the original pixels
                true.append(original.landmarks)
            bar.update(len(samples))
    return np.stack(predicted), np.stack(true)


#: HELEN classes its 194-point contours cannot label: scored as "not a component".
NOT_FROM_CONTOURS = ("skin", "hair")


def contour_tables():
    """``(label_table, prediction_table)`` for HELEN labels drawn from contours: unknown
    pixels (-1) and predicted skin or hair all count as background, so every component's
    F1 is exact and skin and hair are not scored."""
    labels = np.arange(HELEN.num_classes)
    predictions = labels.copy()
    predictions[[HELEN.index(n) for n in NOT_FROM_CONTOURS]] = 0
    return labels, predictions


def evaluate_helen_contours(model, dataset, **kwargs):
    """The HELEN protocol on labels rasterised from HELEN's contours (unknown read as
    background; skin and hair left out of the numbers)."""
    if getattr(dataset, "unknown", 0) != 0:
        raise ValueError("open HelenContours with unknown=0 to score it (unknown pixels are not components)")
    labels, predictions = contour_tables()
    scores = evaluate_parsing(model, dataset, "helen", label_table=labels, prediction_table=predictions, **kwargs)
    for name in (*NOT_FROM_CONTOURS, "background"):
        scores["f1"].pop(name, None)
    scores["not_scored"] = "skin, hair and background: HELEN's contours do not draw them"
    return scores


def aligned_helen_contours(model, root, split):
    """HELEN's faces of ``split`` as ``facezoo eval --dataset helen_contours`` scores them:
    each aligned by its 68 points onto ``model``'s template at its input size, components
    drawn from the contours in the crop, unknown pixels as background."""
    from facezoo.data import open_dataset

    size = _input_size(model)
    return open_dataset("helen_contours", root, split, unknown=0, align_to=alignment_keypoints(model, size), size=size)


def alignment_keypoints(model, size):
    """The five alignment keypoints of a model's preset in pixels of a ``size`` crop."""
    alignment = getattr(getattr(model, "info", None), "alignment", None)
    if not alignment:
        raise ValueError("this dataset is aligned onto the model's template, and the model has none (a preset's)")
    return np.asarray(alignment["keypoints"], np.float64) * (size[1], size[0])


#: Datasets scored as landmarks (NME): 300-W's 68 points, HELEN's own 194 contour points.
LANDMARK_DATASETS = ("300w", "helen194")


def evaluate(model, dataset_name, dataset, **kwargs):
    """Pick the protocol for ``dataset_name`` and the model's number of classes."""
    if dataset_name in LANDMARK_DATASETS:
        return dataset_name, evaluate_landmarks(model, dataset, **kwargs)
    if dataset_name == "helen_contours":
        return "helen", evaluate_helen_contours(model, dataset, **kwargs)
    num_classes = model.output_shape[-1] if hasattr(model, "output_shape") and model.output_shape else None
    if num_classes is None:
        num_classes = len(getattr(model, "class_names", ()))
    if dataset_name == "celebamask" and num_classes == HELEN.num_classes:
        table = remap_table("celebamask", "helen", CELEBAMASK_TO_HELEN)
        return "helen", evaluate_parsing(model, dataset, "helen", label_table=table, **kwargs)
    return dataset_name, evaluate_parsing(model, dataset, dataset_name, **kwargs)


def format_table(title, scores):
    """A plain two-column table of the numbers (the confusion matrix left out)."""
    rows = []

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}/{key}" if prefix else key, inner)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((prefix, value))

    walk("", {k: v for k, v in scores.items() if k != "confusion_matrix"})
    width = max([len(name) for name, _ in rows] + [6])
    lines = [title, f"{'metric':<{width}}  value", f"{'-' * width}  ------"]
    for name, value in rows:
        text = ("n/a" if not np.isfinite(value) else f"{value:.4f}") if isinstance(value, float) else str(value)
        lines.append(f"{name:<{width}}  {text}")
    return "\n".join(lines)


def strict_json(value):
    """``value`` with every NaN or infinity replaced by ``None``, so that it can be
    written as strict JSON (``NaN`` is not JSON: Python writes it, most parsers refuse it).
    A score is NaN when its class never occurs, e.g. the F1 of a part absent from the split."""
    if isinstance(value, dict):
        return {key: strict_json(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(inner) for inner in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_json_atomic(path, payload):
    """Write ``payload`` as strict JSON (see :func:`strict_json`) so that a crash never
    leaves a half-written file behind."""
    with atomic_output(path, suffix=".json") as temp:
        with open(temp, "w", encoding="utf-8") as out:
            json.dump(strict_json(payload), out, indent=2, allow_nan=False)


def load_model_for_eval(name_or_path, dataset_name):
    """A ``.keras`` file, a facezoo ``.npz`` checkpoint, a preset name (its published
    weights), or a fresh architecture sized for the dataset's classes."""
    import keras

    from facezoo.registry import PRESETS, build_architecture, load, model_from_name

    if name_or_path.endswith(".keras"):
        if not os.path.isfile(name_or_path):
            raise FileNotFoundError(f"no model file {name_or_path!r}")
        return keras.models.load_model(name_or_path)
    if name_or_path.endswith(".npz"):
        from facezoo.checkpoints import load_checkpoint

        return load_checkpoint(name_or_path)
    if name_or_path in PRESETS:
        return load(name_or_path, compile=False)
    if dataset_name in LANDMARK_DATASETS:
        raise ValueError(f"{name_or_path!r} is not a landmark model; pass a .keras landmark model")
    if dataset_name == "helen_contours":
        dataset_name = "helen"
    num_classes = PROTOCOLS[dataset_name][0]
    if name_or_path == "icnn":
        return build_architecture("icnn", num_classes=num_classes)
    if name_or_path == "stn_icnn":
        if dataset_name not in ("helen", "celebamask"):
            raise ValueError("stn_icnn parses HELEN's facial parts; evaluate it on --dataset helen or celebamask")
        return build_architecture(name_or_path)
    return model_from_name(name_or_path)  # raises, naming the closest models


def run_eval_command(args):
    from facezoo.data import open_dataset

    dataset = open_dataset(args.dataset, args.data, args.split)
    resolution = getattr(args, "resolution", None)
    if resolution is not None and args.dataset not in LANDMARK_DATASETS:
        raise ValueError("--resolution is for landmark evaluation (--dataset 300w or helen194)")
    extra = {} if resolution is None else {"resolution": resolution if resolution == "full" else int(resolution)}
    count = sample_count(dataset, args.limit)  # before the model loads
    model = load_model_for_eval(args.model, args.dataset)
    if args.dataset == "helen_contours":  # each face aligned by its 68 points onto the model's template
        dataset = aligned_helen_contours(model, args.data, args.split)
    if takes_landmark_heatmap(model) and args.dataset not in LANDMARK_DATASETS:
        extra["heatmap_points"] = getattr(args, "heatmap_points", "detected")
    protocol, scores = evaluate(model, args.dataset, dataset, batch_size=args.batch_size, limit=args.limit, **extra)
    title = f"{args.model} on {args.dataset}/{args.split} ({count} faces, {protocol} protocol)"
    print(format_table(title, scores))
    if args.json:
        write_json_atomic(
            args.json,
            {"model": args.model, "dataset": args.dataset, "split": args.split, "samples": count,
             "protocol": protocol, "scores": scores},
        )
        print(f"wrote {args.json}")
    return 0

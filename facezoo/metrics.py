"""Evaluation metrics, computed the way the papers do.

Parsing scores come from one confusion matrix summed over the *whole* split (never an
average of per-image scores): ``cm[t, p]`` counts pixels of true class ``t`` predicted
as ``p``. Per class: ``precision = cm[c,c] / sum(cm[:,c])``, ``recall = cm[c,c] /
sum(cm[c,:])``, ``F1 = 2PR / (P + R)``.

HELEN protocols (skin and hair excluded from "overall"):

* ``overall`` — the STN-iCNN authors' protocol: for the groups brows (both sides),
  eyes (both sides), nose, upper lip, inner mouth, lower lip and mouth (the three mouth
  classes as one), precision and recall are computed from the summed counts of the
  group's classes (a left brow predicted as right brow is an error); the group
  precisions and recalls are averaged, and overall F1 = 2 P̄ R̄ / (P̄ + R̄).
  (Their code averages per-batch ratios; we use the whole-split sums, as the paper says.)
* ``overall_strict`` — micro-averaged F1 over the eight component classes, each kept
  separate: ``2 ΣTP / (2 ΣTP + ΣFP + ΣFN)``.

Landmarks: NME = mean point-to-point error / normaliser, in percent, per face; the
normaliser is the inter-ocular distance (outer eye corners, iBUG points 36 and 45) or
the inter-pupil distance (eye centres, means of 36-41 and 42-47). Failure rate: percent
of faces with NME above a threshold (8 % by default).

Example:
    >>> cm = ConfusionMatrix(11)
    >>> for prediction, truth in pairs: cm.update(prediction, truth)
    >>> helen_scores(cm.matrix)["overall"]
"""

import numpy as np

from facezoo.classmaps import HELEN, get_class_map


class ConfusionMatrix:
    """Accumulates ``cm[true, predicted]`` pixel counts over a split."""

    def __init__(self, num_classes):
        self.num_classes = int(num_classes)
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, predicted, true):
        predicted = np.asarray(predicted).astype(np.int64).ravel()
        true = np.asarray(true).astype(np.int64).ravel()
        if predicted.shape != true.shape:
            raise ValueError(f"prediction has {predicted.size} pixels but the labels have {true.size}")
        for name, values in (("prediction", predicted), ("labels", true)):
            if values.size and (values.min() < 0 or values.max() >= self.num_classes):
                raise ValueError(f"{name} hold values outside 0..{self.num_classes - 1}")
        self.matrix += np.bincount(true * self.num_classes + predicted, minlength=self.num_classes**2).reshape(
            self.num_classes, self.num_classes
        )
        return self


def confusion_matrix(predicted, true, num_classes):
    return ConfusionMatrix(num_classes).update(predicted, true).matrix


def _ratio(numerator, denominator):
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.full_like(numerator, np.nan), where=denominator > 0)


def precision_recall_f1(cm):
    """Per-class precision, recall and F1 (NaN where a class is absent from both)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    precision = _ratio(tp, cm.sum(axis=0))
    recall = _ratio(tp, cm.sum(axis=1))
    f1 = _ratio(2 * tp, cm.sum(axis=0) + cm.sum(axis=1))
    return precision, recall, f1


def pixel_accuracy(cm):
    cm = np.asarray(cm, dtype=np.float64)
    return float(np.trace(cm) / cm.sum())


def _group_counts(cm, class_ids):
    """TP, FP, FN of a group of classes, each class strict (summed per class)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = sum(cm[c, c] for c in class_ids)
    fp = sum(cm[:, c].sum() - cm[c, c] for c in class_ids)
    fn = sum(cm[c, :].sum() - cm[c, c] for c in class_ids)
    return tp, fp, fn


def _merged_counts(cm, class_ids):
    """TP, FP, FN of the union of classes treated as one class."""
    cm = np.asarray(cm, dtype=np.float64)
    ids = list(class_ids)
    tp = cm[np.ix_(ids, ids)].sum()
    return tp, cm[:, ids].sum() - tp, cm[ids, :].sum() - tp


def helen_scores(cm, class_map=HELEN):
    """HELEN numbers: per-class F1, per-group F1, ``overall`` and ``overall_strict``."""
    class_map = get_class_map(class_map)
    _, _, f1 = precision_recall_f1(cm)
    scores = {"f1": {name: float(v) for name, v in zip(class_map.names, f1)}}
    precisions, recalls, groups = [], [], {}
    for group in class_map.overall_groups:
        ids = [class_map.index(n) for n in class_map.groups[group]]
        # "mouth" merges its classes (inner mouth predicted as lip still counts as mouth).
        tp, fp, fn = _merged_counts(cm, ids) if group == "mouth" else _group_counts(cm, ids)
        p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        precisions.append(p)
        recalls.append(r)
        groups[group] = float(_ratio(2 * tp, 2 * tp + fp + fn))
    p_mean, r_mean = float(np.nanmean(precisions)), float(np.nanmean(recalls))
    scores["groups"] = groups
    scores["overall"] = float(_ratio(2 * p_mean * r_mean, p_mean + r_mean))
    components = sorted({class_map.index(n) for g in class_map.overall_groups for n in class_map.groups[g]})
    tp, fp, fn = _group_counts(cm, components)
    scores["overall_strict"] = float(_ratio(2 * tp, 2 * tp + fp + fn))
    return scores


def lfw_scores(cm, class_map="lfw_pl"):
    """LFW-PL numbers: pixel accuracy and per-class F1."""
    class_map = get_class_map(class_map)
    _, _, f1 = precision_recall_f1(cm)
    return {"pixel_accuracy": pixel_accuracy(cm), "f1": {n: float(v) for n, v in zip(class_map.names, f1)}}


def mean_f1_scores(cm, class_map="celebamask"):
    """CelebAMask-HQ numbers: per-class F1 and their mean over the classes present in the
    split (in the labels or the predictions)."""
    class_map = get_class_map(class_map)
    _, _, f1 = precision_recall_f1(cm)
    return {
        "mean_f1": float(np.nanmean(f1)),
        "pixel_accuracy": pixel_accuracy(cm),
        "f1": {n: float(v) for n, v in zip(class_map.names, f1)},
    }


#: Per point scheme (by its number of points): the outer eye corners (image left, image right)
#: and the two eyes' point ranges. HELEN's 194-point eye contours start at the inner corner;
#: the outer one is their 11th point (on 616 and 511 of 800 training faces the most lateral).
EYE_CORNERS = {68: (36, 45), 194: (144, 124)}
EYE_RANGES = {68: ((36, 42), (42, 48)), 194: ((134, 154), (114, 134))}


def landmark_normaliser(landmarks, norm="inter_ocular"):
    """Per-face normalising distance of ``(B, K, 2)`` ground-truth landmarks: iBUG's 68
    points or HELEN's 194 (the outer eye corners' distance, or the eye centres')."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim != 3 or landmarks.shape[1] not in EYE_CORNERS or landmarks.shape[2] != 2:
        raise ValueError(f"NME normalisers need (faces, 68 or 194, 2) landmarks, got {landmarks.shape}")
    if norm == "inter_ocular":
        a, b = (landmarks[:, i] for i in EYE_CORNERS[landmarks.shape[1]])
    elif norm == "inter_pupil":
        a, b = (landmarks[:, start:stop].mean(axis=1) for start, stop in EYE_RANGES[landmarks.shape[1]])
    else:
        raise ValueError(f"norm must be 'inter_ocular' or 'inter_pupil', got {norm!r}")
    return np.linalg.norm(a - b, axis=-1)


def _landmark_pair(predicted, true):
    """Both as float64 arrays of one shape, the prediction finite (ValueError otherwise)."""
    predicted = np.asarray(predicted, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if predicted.shape != true.shape:
        raise ValueError(f"predicted landmarks {predicted.shape} and ground truth {true.shape} differ in shape")
    if not np.isfinite(predicted).all():
        raise ValueError("predicted landmarks hold non-finite values")
    return predicted, true


def point_errors(predicted, true, norm="inter_ocular"):
    """``(faces, K)`` each point's error / its face's normaliser * 100 (a region's NME is the
    mean over its points' columns)."""
    predicted, true = _landmark_pair(predicted, true)
    return 100.0 * np.linalg.norm(predicted - true, axis=-1) / landmark_normaliser(true, norm)[:, None]


def contour_distances(predicted, true, contours, norm="inter_ocular"):
    """``(faces, K)`` each point's distance to its true contour (the polyline through the
    true points of its ``(first, last, closed)`` contour, :data:`facezoo.classmaps.CONTOURS`) /
    its face's normaliser * 100: the error across the contour, whatever the point's place
    along it. It bounds from below how far a region drawn from the points is off (points
    bunched along a true line score 0 and still draw a wrong region)."""
    predicted, true = _landmark_pair(predicted, true)
    if not np.isfinite(true).all():
        raise ValueError("true landmarks hold non-finite values")
    distances = np.zeros(predicted.shape[:2])
    covered = np.zeros(predicted.shape[1], bool)
    for first, last, closed in contours:
        if last <= first or covered[first:last + 1].any():
            raise ValueError(f"contour ({first}, {last}) is empty or overlaps another")
        covered[first:last + 1] = True
        line = true[:, first:last + 1]
        starts, ends = (line, np.roll(line, -1, axis=1)) if closed else (line[:, :-1], line[:, 1:])
        points = predicted[:, first:last + 1, None]                               # (N, n, 1, 2)
        along = ends - starts                                                     # (N, m, 2)
        length = np.maximum((along ** 2).sum(-1), 1e-12)[:, None]                 # (N, 1, m)
        t = np.clip(((points - starts[:, None]) * along[:, None]).sum(-1) / length, 0.0, 1.0)
        nearest = starts[:, None] + t[..., None] * along[:, None]                 # (N, n, m, 2)
        distances[:, first:last + 1] = np.linalg.norm(points - nearest, axis=-1).min(-1)
    if not covered.all():
        raise ValueError(f"contours {contours} do not cover all {predicted.shape[1]} points")
    return 100.0 * distances / landmark_normaliser(true, norm)[:, None]


def nme(predicted, true, norm="inter_ocular"):
    """Per-face NME in percent: mean point error / normaliser * 100."""
    return point_errors(predicted, true, norm).mean(axis=-1)


def landmark_scores(predicted, true, threshold=8.0):
    """NME (inter-ocular and inter-pupil, percent) and failure rate at ``threshold`` percent."""
    io = nme(predicted, true, "inter_ocular")
    ip = nme(predicted, true, "inter_pupil")
    return {
        "nme_inter_ocular": float(io.mean()),
        "nme_inter_pupil": float(ip.mean()),
        f"failure_rate_{threshold:g}": float(100.0 * (io > threshold).mean()),
        "faces": int(len(io)),
    }

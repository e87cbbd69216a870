"""Each metric against numbers worked out by hand on small arrays."""

import numpy as np
import pytest

from facezoo.classmaps import HELEN
from facezoo.metrics import (
    ConfusionMatrix, confusion_matrix, helen_scores, landmark_scores, lfw_scores, mean_f1_scores, nme,
    point_errors, precision_recall_f1,
)


def test_confusion_matrix_precision_recall_f1_by_hand():
    true = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    cm = confusion_matrix(pred, true, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    precision, recall, f1 = precision_recall_f1(cm)
    np.testing.assert_allclose(precision, [1 / 2, 2 / 3, 1])
    np.testing.assert_allclose(recall, [1 / 2, 1, 1 / 2])
    np.testing.assert_allclose(f1, [1 / 2, 4 / 5, 2 / 3])
    scores = lfw_scores(cm)
    assert scores["pixel_accuracy"] == pytest.approx(4 / 6)
    assert scores["f1"] == pytest.approx({"background": 0.5, "skin": 0.8, "hair": 2 / 3})


def test_confusion_matrix_sums_over_the_split_not_per_image():
    cm = ConfusionMatrix(2)
    cm.update(np.array([[1, 1], [1, 1]]), np.array([[1, 1], [1, 1]]))  # a perfect, large image
    cm.update(np.array([0]), np.array([1]))  # one wrong pixel
    _, _, f1 = precision_recall_f1(cm.matrix)
    assert f1[1] == pytest.approx(2 * 4 / (2 * 4 + 1))  # per-image mean would give (1 + 0) / 2


def test_confusion_matrix_refuses_out_of_range_and_mismatched_inputs():
    with pytest.raises(ValueError, match="outside 0..2"):
        confusion_matrix(np.array([3]), np.array([0]), 3)
    with pytest.raises(ValueError, match="pixels"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)


def helen_cm(entries):
    cm = np.zeros((11, 11), np.int64)
    for (t, p), n in entries.items():
        cm[HELEN.index(t), HELEN.index(p)] += n
    return cm


def test_helen_overall_by_hand():
    cm = helen_cm({
        ("l_brow", "l_brow"): 8, ("l_brow", "r_brow"): 2, ("r_brow", "r_brow"): 10,
        ("nose", "nose"): 5, ("background", "nose"): 5,
        ("skin", "hair"): 1000,  # skin and hair never count in "overall"
    })
    scores = helen_scores(cm)
    # brows: TP 18, FP 2, FN 2 -> P = R = 0.9; nose: TP 5, FP 5, FN 0 -> P 0.5, R 1.
    p_mean, r_mean = (0.9 + 0.5) / 2, (0.9 + 1.0) / 2
    assert scores["overall"] == pytest.approx(2 * p_mean * r_mean / (p_mean + r_mean))
    # strict: TP 23, FP 7, FN 2 over the component classes.
    assert scores["overall_strict"] == pytest.approx(46 / (46 + 9))
    assert scores["groups"]["brows"] == pytest.approx(0.9)
    assert scores["f1"]["l_brow"] == pytest.approx(16 / 18)
    assert np.isnan(scores["groups"]["eyes"])


def test_helen_mouth_group_merges_its_classes():
    cm = helen_cm({("u_lip", "i_mouth"): 4, ("l_lip", "l_lip"): 4})
    scores = helen_scores(cm)
    assert scores["groups"]["mouth"] == pytest.approx(1.0)  # all 8 mouth pixels found as mouth
    assert scores["f1"]["u_lip"] == 0.0 and scores["f1"]["l_lip"] == 1.0


def test_mean_f1_over_present_classes():
    cm = np.zeros((19, 19), np.int64)
    cm[0, 0], cm[1, 1], cm[1, 0] = 10, 3, 1  # background F1 20/21, skin F1 6/7
    scores = mean_f1_scores(cm)
    assert scores["mean_f1"] == pytest.approx((20 / 21 + 6 / 7) / 2)


def _landmarks():
    gt = np.zeros((1, 68, 2))
    gt[0, 42:48] = (8, 0)
    gt[0, 45] = (10, 0)  # outer corners 36 (0,0) and 45 (10,0): inter-ocular 10
    return gt  # pupils: (0,0) and (50/6, 0)


def test_nme_inter_ocular_and_inter_pupil_by_hand():
    gt = _landmarks()
    pred = gt + np.array([1.0, 0.0])  # every point 1 px off
    assert nme(pred, gt, "inter_ocular")[0] == pytest.approx(10.0)
    assert nme(pred, gt, "inter_pupil")[0] == pytest.approx(100 / (50 / 6))
    scores = landmark_scores(np.concatenate([pred, gt]), np.concatenate([gt, gt]), threshold=8.0)
    assert scores["nme_inter_ocular"] == pytest.approx(5.0)
    assert scores["failure_rate_8"] == pytest.approx(50.0)


def test_contour_distances_measure_only_the_error_across_the_true_line():
    from facezoo.classmaps import CONTOURS
    from facezoo.metrics import contour_distances

    gt = _landmarks()  # inter-ocular 10
    gt[0, 0:17] = np.stack([np.arange(17) * 2.0, np.full(17, 20.0)], -1)  # the jaw: a line along x
    along, across = gt.copy(), gt.copy()
    along[0, 1:16, 0] += 1.0   # inner jaw points slid along the line: no error across it
    across[0, 0:17, 1] += 1.0  # every jaw point 1 px off the line
    assert contour_distances(along, gt, CONTOURS[68])[0, :17].max() == pytest.approx(0.0)
    np.testing.assert_allclose(contour_distances(across, gt, CONTOURS[68])[0, :17], 10.0)  # 1 px / 10 * 100
    assert point_errors(along, gt)[0, 1:16].min() == pytest.approx(10.0)  # what point errors count instead
    closed = gt.copy()
    closed[0, 36:42] = [(0, 0), (2, -1), (4, -1), (6, 0), (4, 1), (2, 1)]  # the right eye, a closed line
    off = closed.copy()
    off[0, 36] = (1, 0.5)  # on the closing segment 41 -> 36, 2 / sqrt(5) px from the others
    assert contour_distances(off, closed, CONTOURS[68])[0, 36] == pytest.approx(0.0)
    as_open = [(a, b, False) for a, b, _ in CONTOURS[68]]
    assert contour_distances(off, closed, as_open)[0, 36] == pytest.approx(20 / np.sqrt(5))
    past = gt.copy()
    past[0, 16] = (36.0, 23.0)  # 4 px past the open jaw's end and 3 across: 5 px from its last point
    assert contour_distances(past, gt, CONTOURS[68])[0, 16] == pytest.approx(50.0)
    with pytest.raises(ValueError, match="do not cover"):
        contour_distances(gt, gt, CONTOURS[68][:3])
    with pytest.raises(ValueError, match="non-finite"):
        contour_distances(np.full_like(gt, np.nan), gt, CONTOURS[68])


def test_nme_refuses_non_finite_predictions_and_bad_shapes():
    gt = _landmarks()
    with pytest.raises(ValueError, match="non-finite"):
        nme(np.full_like(gt, np.nan), gt)
    with pytest.raises(ValueError, match="68 or 194, 2"):
        nme(gt[:, :5], gt[:, :5])


def test_the_validation_benchmarks_paired_difference_and_its_interval():
    from helpers import script_module

    paired_difference = script_module("benchmarks", "landmarks_validation").paired_difference
    rng = np.random.default_rng(1)
    base = rng.uniform(2, 5, 70)
    assert paired_difference(base + 0.1, base) == pytest.approx((0.1, 0.1, 0.1))  # the same shift on every face
    noisy = base + rng.normal(0.05, 0.3, 70)
    mean, low, high = paired_difference(noisy, base)
    assert mean == pytest.approx((noisy - base).mean())
    standard_error = (noisy - base).std() / np.sqrt(70)  # the interval is about +-2 standard errors
    assert low < mean < high and high - low == pytest.approx(4 * standard_error, rel=0.2)

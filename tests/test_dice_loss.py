"""Soft Dice and cross-entropy + Dice on cases small enough to compute by hand."""

import keras
import numpy as np
import pytest

from facezoo.losses import DiceCrossEntropy, soft_dice

BIG = 30.0  # logits this far apart give one-hot probabilities (to float32 precision)


def _logits(predicted, num_classes):
    return (np.eye(num_classes, dtype=np.float32)[np.asarray(predicted)] * BIG)[None]


def test_soft_dice_of_hard_predictions_is_the_pixel_dice_of_each_class():
    labels = np.array([[0, 0, 1, 1, 2, 2]], np.int32)
    logits = _logits([[0, 1, 1, 1, 2, 0]], 4)  # class 3: absent from both
    dice = np.asarray(soft_dice(labels, logits, smooth=1.0))
    # class 0: overlap 1, 2 predicted + 2 true; class 1: 2, 3 + 2; class 2: 1, 1 + 2
    expected = [(2 * 1 + 1) / (4 + 1), (2 * 2 + 1) / (5 + 1), (2 * 1 + 1) / (3 + 1), 1.0]
    np.testing.assert_allclose(dice, expected, rtol=1e-5)


def test_dice_cross_entropy_adds_one_minus_the_mean_dice_to_the_cross_entropy():
    labels = np.array([[0, 1, 1, 2]], np.int32)
    logits = np.random.default_rng(0).normal(size=(1, 4, 3)).astype(np.float32)
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    cross_entropy = -np.mean(np.log(probabilities[0, np.arange(4), labels[0]]))
    onehot = np.eye(3)[labels[0]]
    dice = (2 * (probabilities[0] * onehot).sum(0) + 1) / (probabilities[0].sum(0) + onehot.sum(0) + 1)
    loss = DiceCrossEntropy(dice_weight=0.5)(labels, logits)
    assert float(loss) == pytest.approx(cross_entropy + 0.5 * (1 - dice.mean()), rel=1e-5)
    assert float(DiceCrossEntropy(dice_weight=0.0)(labels, logits)) == pytest.approx(cross_entropy, rel=1e-5)
    # (B, H, W, 1) labels are read as (B, H, W)
    assert float(DiceCrossEntropy(dice_weight=0.5)(labels[..., None], logits)) == pytest.approx(float(loss), rel=1e-6)


def test_dice_term_weighs_a_small_class_as_much_as_a_large_one():
    # 98 pixels of class 0, 2 of class 1; a model that never predicts class 1 is 98 % right
    labels = np.array([[0] * 98 + [1] * 2], np.int32)
    misses_small = _logits([[0] * 100], 2)
    misses_large = _logits([[1] * 2 + [0] * 96 + [1] * 2], 2)  # 2 background pixels wrong instead
    dice_loss = DiceCrossEntropy(dice_weight=1.0)
    ce_only = DiceCrossEntropy(dice_weight=0.0)
    # the same number of wrong pixels: cross-entropy cannot tell them apart, Dice can
    assert float(ce_only(labels, misses_small)) == pytest.approx(float(ce_only(labels, misses_large)), rel=1e-4)
    assert float(dice_loss(labels, misses_small)) > float(dice_loss(labels, misses_large)) + 0.15  # 0.338 vs 0.148


def test_compiles_and_round_trips_through_its_config():
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))
    model.compile(optimizer="adam", loss=DiceCrossEntropy(dice_weight=0.7))
    history = model.fit(np.random.rand(2, 4, 4, 3).astype("float32"), np.zeros((2, 4, 4), "int32"), epochs=1,
                        verbose=0)
    assert np.isfinite(history.history["loss"][0])
    again = DiceCrossEntropy.from_config(DiceCrossEntropy(dice_weight=0.7, smooth=2.0).get_config())
    assert (again.dice_weight, again.smooth) == (0.7, 2.0)

"""Statistical Contextual loss on cases small enough to compute by hand."""

import keras
import numpy as np
import pytest

from facezoo.losses import StatisticalContextualLoss


def _case(points, labels):
    """Embeddings (1, 1, N, 2) and labels (1, 1, N) from lists."""
    return np.asarray(labels, np.int32)[None, None], np.asarray(points, np.float32)[None, None]


def test_intra_term_is_the_mean_squared_distance_to_the_class_centre():
    labels, points = _case([(0, 0), (2, 0), (10, 0)], [0, 0, 1])
    loss = StatisticalContextualLoss(num_classes=2, margin=5.0, inter_weight=0.0)
    # class 0 centre (1, 0): squared distances 1 and 1; class 1 alone: 0 -> (1 + 1 + 0) / 3
    assert float(loss(labels, points)) == pytest.approx(2 / 3, rel=1e-5)


def test_inter_term_pushes_only_centres_closer_than_the_margin():
    labels, points = _case([(0, 0), (2, 0), (10, 0)], [0, 0, 1])  # centres 9 apart
    far = StatisticalContextualLoss(num_classes=2, margin=5.0, intra_weight=0.0)
    assert float(far(labels, points)) == pytest.approx(0.0, abs=1e-6)
    near = StatisticalContextualLoss(num_classes=2, margin=12.0, intra_weight=0.0)
    assert float(near(labels, points)) == pytest.approx((12 - 9) ** 2, rel=1e-5)


def test_only_the_closest_centre_counts_and_absent_classes_are_ignored():
    # centres: A (0,0), B (3,0), C (0,4); class 3 absent. Nearest: A->B 3, B->A 3, C->A 4.
    labels, points = _case([(0, 0), (3, 0), (0, 4)], [0, 1, 2])
    loss = StatisticalContextualLoss(num_classes=4, margin=5.0, intra_weight=0.0)
    assert float(loss(labels, points)) == pytest.approx((4 + 4 + 1) / 3, rel=1e-5)
    single, points1 = _case([(1, 1), (3, 3)], [2, 2])  # one class: no rival, no inter term
    assert float(loss(single, points1)) == pytest.approx(0.0, abs=1e-6)


def test_labels_are_resized_to_the_embedding_grid_and_compile_accepts_it():
    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    logits = keras.layers.UpSampling2D(2, name="logits")(keras.layers.Conv2D(3, 1)(features))
    embedding = keras.layers.Conv2D(2, 1, name="embedding")(features)
    model = keras.Model(inputs, {"logits": logits, "embedding": embedding})
    model.compile("adam", loss={"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                "embedding": StatisticalContextualLoss(num_classes=3)})
    x = np.random.default_rng(0).uniform(size=(4, 8, 8, 3)).astype("float32")
    y = np.random.default_rng(1).integers(0, 3, (4, 8, 8))
    history = model.fit(x, {"logits": y, "embedding": y}, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and history.history["embedding_loss"][0] > 0

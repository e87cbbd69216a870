"""RTParser, its NRF, landmark heatmaps, multiply-adds and semi-supervised distillation."""

import keras
import numpy as np
import pytest

from facezoo.models.rtparser import Distiller, RTParser, landmark_heatmap, multiply_adds
from facezoo.receptive_field import normalized_receptive_field, receptive_field


def test_rtparser_shapes_heatmap_channel_and_embedding():
    model = RTParser(num_classes=3, input_size=(64, 64), heatmap_channel=True, embedding_dims=8)
    out = model(np.zeros((2, 64, 64, 4), "float32"))
    assert out["logits"].shape == (2, 64, 64, 3) and out["embedding"].shape == (2, 8, 8, 8)


def test_dilation_sets_the_receptive_field():
    """Context layers add 2*(d-1)... by hand: each dilated 3x3 at jump 8 adds 2*d*8."""
    small, large = (RTParser(input_size=(128, 128), dilation=d) for d in (1, 4))
    r_small, r_large = receptive_field(small)[0], receptive_field(large)[0]
    # the two context layers have dilations (d, 2d): growth 2*8*(d + 2d) = 48 d pixels
    assert r_large - r_small == 48 * (4 - 1)
    assert normalized_receptive_field(large, 128) == pytest.approx(r_large / 128)


def test_a_0_4_width_student_has_at_least_4x_fewer_multiply_adds():
    teacher, student = RTParser(input_size=(256, 256)), RTParser(input_size=(256, 256), width=0.4)
    assert multiply_adds(teacher) >= 4 * multiply_adds(student)
    conv = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Conv2D(3, 3, padding="same")])
    assert multiply_adds(conv) == 8 * 8 * 3 * 3 * 2 * 3  # by hand


def test_landmark_heatmap_squares_blurred_to_a_peak_of_one():
    heat = landmark_heatmap([(10, 5), (100, 100)], (20, 30), half_width=1, sigma=0)
    assert heat.sum() == 9 and heat[4:7, 9:12].all()  # the outside point is skipped
    blurred = landmark_heatmap([(10, 5)], (20, 30), sigma=2.0)
    assert blurred.max() == pytest.approx(1.0) and blurred[5, 10] == blurred.max() and blurred[5, 20] < 0.05


def test_distillation_trains_the_student_on_labelled_and_unlabelled_faces(tmp_path):
    rng = np.random.default_rng(0)
    teacher = RTParser(num_classes=3, input_size=(32, 32))
    student = RTParser(num_classes=3, input_size=(32, 32), width=0.5)
    faces = rng.uniform(size=(4, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 3, (4, 32, 32))
    labels[2:] = -1  # two unlabelled faces: teacher's soft labels only
    distiller = Distiller(student, teacher, temperature=2.0)
    distiller.compile(optimizer="adam")
    teacher_before = [np.array(w) for w in teacher.weights]
    student_before = [np.array(w) for w in student.trainable_weights]
    history = distiller.fit(faces, labels, epochs=3, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert all(np.array_equal(a, b) for a, b in zip(teacher_before, teacher.weights)), "the teacher is frozen"
    assert any(not np.allclose(a, b) for a, b in zip(student_before, student.trainable_weights))
    # a student that copies the teacher has no distillation loss left beyond the labels
    copy = Distiller(teacher, teacher, alpha=1.0)
    unlabelled = np.full((2, 32, 32), -1)
    assert float(copy.compute_loss(faces[:2], unlabelled, teacher(faces[:2]))) == pytest.approx(0.0, abs=1e-4)


def test_the_embedding_head_is_dropped_for_inference_and_export(tmp_path):
    import facezoo

    trained = RTParser(num_classes=3, input_size=(64, 64), embedding_dims=8)
    faces = np.random.default_rng(2).uniform(size=(2, 64, 64, 3)).astype("float32")
    inference = trained.without_embedding()
    np.testing.assert_allclose(np.asarray(inference(faces)), np.asarray(trained(faces)["logits"]), atol=1e-6)
    result = facezoo.export(inference, tmp_path / "rt.tflite", sample_inputs=faces, verbose=False)
    assert result.max_abs_diff <= result.atol and not [op for op in result.ops if op.startswith("Flex")]
    inference.save(tmp_path / "rt.keras")
    np.testing.assert_allclose(np.asarray(keras.models.load_model(tmp_path / "rt.keras")(faces)),
                               np.asarray(inference(faces)), atol=1e-6)


def test_distillation_dice_term_uses_labels_where_given_and_the_teacher_elsewhere():
    from facezoo.losses import soft_dice_of_probabilities

    rng = np.random.default_rng(3)
    teacher = RTParser(num_classes=4, input_size=(16, 16), width=0.25)
    student = RTParser(num_classes=4, input_size=(16, 16), width=0.25)
    faces = rng.uniform(size=(2, 16, 16, 3)).astype("float32")
    labels = rng.integers(0, 4, (2, 16, 16))
    labels[1] = -1  # the second face is unlabelled
    student_logits = np.asarray(student(faces))
    plain = float(Distiller(student, teacher).compute_loss(faces, labels, student_logits))
    with_dice = float(Distiller(student, teacher, dice_weight=0.5).compute_loss(faces, labels, student_logits))

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    targets = np.concatenate([np.eye(4)[labels[:1]], softmax(np.asarray(teacher(faces[1:])))])
    p, q = softmax(student_logits).reshape(-1, 4), targets.reshape(-1, 4)
    dice = (2 * (p * q).sum(0) + 1) / (p.sum(0) + q.sum(0) + 1)
    assert with_dice - plain == pytest.approx(0.5 * (1 - dice.mean()), rel=1e-4)
    np.testing.assert_allclose(np.asarray(soft_dice_of_probabilities(p, q)), dice, rtol=1e-5)
    again = Distiller.from_config(Distiller(student, teacher, dice_weight=0.5).get_config())
    assert again.dice_weight == 0.5

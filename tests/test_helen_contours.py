"""HELEN's own 194-point annotation: reading, rasterising the components, splits, ignore."""

import numpy as np
import pytest

from facezoo.classmaps import HELEN
from facezoo.data import DataError
from facezoo.data.helen import IGNORE, HelenContours, rasterise_components, read_helen_annotation
from facezoo.losses import sparse_cross_entropy
from fixtures import helen_contours, make_helen_contours


def test_a_square_eye_gives_exactly_its_pixels():
    labels = rasterise_components(helen_contours(eye_box=(9.5, 9.5, 20.5, 16.5)), (64, 64))
    eye = labels == HELEN.index("l_eye")  # the subject's left eye, on the image's right
    expected = np.zeros((64, 64), bool)
    expected[10:17, 10:21] = True
    np.testing.assert_array_equal(eye, expected)


def test_anti_aliased_edges_take_the_majority_of_the_pixel():
    # edges through pixel centres' quarter: x from 9.75 covers 3/4 of column 10 -> in; 20.25 covers 3/4 of column 20
    labels = rasterise_components(helen_contours(eye_box=(9.75, 9.5, 20.25, 16.5)), (64, 64))
    np.testing.assert_array_equal(np.where((labels == HELEN.index("l_eye")).any(0))[0], np.arange(10, 21))
    labels = rasterise_components(helen_contours(eye_box=(10.25, 9.5, 19.75, 16.5)), (64, 64))
    np.testing.assert_array_equal(np.where((labels == HELEN.index("l_eye")).any(0))[0], np.arange(11, 20))


def test_lips_mouth_and_the_unknown_rest():
    labels = rasterise_components(helen_contours(), (64, 64))
    column = labels[:, 30]
    assert set(column[41:44]) == {HELEN.index("u_lip")}     # outer upper line 40.5 .. inner 43.5
    assert set(column[44:46]) == {HELEN.index("i_mouth")}   # inside the inner line
    assert set(column[46:49]) == {HELEN.index("l_lip")}     # inner lower 45.5 .. outer 48.5
    assert labels[60, 5] == IGNORE and labels[0, 0] == IGNORE  # skin, hair, background: not known
    assert rasterise_components(helen_contours(), (64, 64), unknown=0)[0, 0] == 0
    assert labels[33, 31] == HELEN.index("nose")
    assert labels[5, 15] == HELEN.index("l_brow") and labels[5, 45] == HELEN.index("r_brow")


def test_dataset_layout_splits_and_samples(tmp_path):
    make_helen_contours(tmp_path, train=("a_1", "b_1", "d_1", "e_1"), test=("c_1",))
    assert HelenContours(tmp_path, "test").ids == ["c_1"]
    assert HelenContours(tmp_path, "train").ids == ["a_1", "b_1"]
    assert HelenContours(tmp_path, "val").ids == ["d_1", "e_1"]
    assert len(HelenContours(tmp_path, "trainval")) == 4
    sample = HelenContours(tmp_path, "test")[0]
    assert sample.contours.shape == (194, 2) and sample.landmarks.shape == (68, 2)
    assert sample.labels.dtype == np.int32 and sample.labels.shape == sample.image.shape[:2]
    assert (sample.labels == HELEN.index("l_eye")).sum() == 7 * 11


def test_a_point_file_with_193_lines_names_the_file(tmp_path):
    make_helen_contours(tmp_path, lines=193)
    with pytest.raises(DataError, match=r"annotation/.*\.txt: expected 194 'x , y' lines after the image name, found 193"):
        HelenContours(tmp_path, "test")[0]


def test_a_bad_coordinate_line_names_file_and_line(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("a_1\n" + "1 , 2\n" * 10 + "1 ; 2\n" + "1 , 2\n" * 183)
    with pytest.raises(DataError, match=r"x.txt, line 12: expected 'x , y'"):
        read_helen_annotation(path)


def test_aligned_faces_rasterise_in_the_crop(tmp_path):
    make_helen_contours(tmp_path)
    plain = HelenContours(tmp_path, "test")[0]
    from facezoo.data.helen import five_keypoints

    # aligning onto its own keypoints doubled in a 128x128 crop scales everything by 2
    aligned = HelenContours(tmp_path, "test", align_to=five_keypoints(plain.landmarks) * 2 + 0.5,
                            size=(128, 128))[0]
    assert aligned.image.shape == (128, 128, 3)
    assert abs((aligned.labels == HELEN.index("l_eye")).sum() - 4 * 7 * 11) <= 4 * 2 * (7 + 11)
    np.testing.assert_allclose(aligned.contours, plain.contours * 2 + 0.5, atol=1e-3)


def test_unknown_labels_are_left_out_of_the_loss():
    logits = np.random.default_rng(0).normal(size=(1, 4, 4, 3)).astype("float32")
    labels = np.array([[[0, 1, 2, IGNORE]] * 4], np.int32)
    full = float(sparse_cross_entropy(labels[..., :3], logits[..., :3, :]))
    assert float(sparse_cross_entropy(labels, logits)) == pytest.approx(full, rel=1e-6)
    # changing the logits of unknown pixels changes nothing
    other = logits.copy()
    other[..., 3, :] = 50.0
    assert float(sparse_cross_entropy(labels, other)) == pytest.approx(full, rel=1e-6)


def test_unknown_labels_survive_flips_and_remapping():
    from facezoo.data import ParsingSequence, Sample
    from facezoo.data.augment import flip_sample

    labels = np.full((4, 4), IGNORE, np.int32)
    labels[0, 0] = HELEN.index("r_eye")
    flipped = flip_sample(Sample("x", np.zeros((4, 4, 3), np.uint8), labels), "helen")
    assert flipped.labels[0, 3] == HELEN.index("l_eye") and (flipped.labels == IGNORE).sum() == 15
    table = np.arange(HELEN.num_classes)[::-1]
    seq = ParsingSequence([Sample("x", np.zeros((4, 4, 3), np.uint8), labels)], 1, label_table=table)
    _, batch = seq[0]
    assert batch[0, 0, 0] == table[HELEN.index("r_eye")] and (batch == IGNORE).sum() == 15


def test_real_helen_annotation(data_root):
    test = HelenContours(data_root / "helen68", "test")
    assert len(test) == 330 and len(HelenContours(data_root / "helen68", "train")) == 800
    sample = test[0]
    counts = {name: int((sample.labels == HELEN.index(name)).sum()) for name in HELEN.names[2:10]}
    assert all(v > 0 for k, v in counts.items() if k != "i_mouth"), counts
    # the subject's left eye lies on the image's right of the other
    ys, xs = np.nonzero(sample.labels == HELEN.index("l_eye"))
    ys2, xs2 = np.nonzero(sample.labels == HELEN.index("r_eye"))
    assert xs.mean() > xs2.mean()

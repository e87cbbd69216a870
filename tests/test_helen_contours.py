"""HELEN's own 194-point annotation: reading, rasterising the components, splits, ignore."""

import numpy as np
import pytest

from facezoo.classmaps import HELEN
from facezoo.data import DataError
from facezoo.classmaps import FLIP_194
from facezoo.data.augment import flip_sample
from facezoo.data.base import Sample
from facezoo.data.helen import (IGNORE, HelenContourPoints, HelenContours, component_polygons, rasterise_components,
                               read_helen_annotation)
from facezoo.metrics import landmark_normaliser
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


# --- HELEN's 194 points as landmarks ---------------------------------------------------

def test_contour_points_are_the_landmarks_split_as_the_parsing_faces(tmp_path):
    points = make_helen_contours(tmp_path, train=("a_1", "b_1", "d_1", "e_1"), test=("c_1",))
    assert HelenContourPoints(tmp_path, "val").ids == HelenContours(tmp_path, "val").ids == ["d_1", "e_1"]
    sample = HelenContourPoints(tmp_path, "test")[0]
    assert sample.labels is None and sample.landmarks.shape == (194, 2)
    np.testing.assert_allclose(sample.landmarks, points, atol=0.006)


def test_a_flip_mirrors_the_194_points_onto_the_same_parts():
    image = np.zeros((64, 64, 3), np.uint8)
    points = helen_contours()
    flipped = flip_sample(Sample("f", image, landmarks=points.astype(np.float32)))
    drawn = {name: polygon for name, polygon in component_polygons(flipped.landmarks)}
    # the fixture's subject's left eye (image right) moves to the image's left: it is now the right eye
    np.testing.assert_allclose(drawn["r_eye"].min(0), (63 - 20.5, 9.5))
    np.testing.assert_allclose(flipped.landmarks[0], (63 - 60, 58))  # the jaw starts at the other ear
    brows = np.stack([63 - points[174:194, 0], points[174:194, 1]], -1)
    np.testing.assert_allclose(flipped.landmarks[154:174], brows)  # the other side's brow
    assert sorted(FLIP_194.tolist()) == list(range(194)) and np.all(FLIP_194[FLIP_194] == np.arange(194))
    with pytest.raises(ValueError, match="cannot flip 5 points"):
        flip_sample(Sample("f", image, landmarks=np.zeros((5, 2), np.float32)))


def test_194_point_nme_is_normalised_by_the_outer_eye_corners():
    points = helen_contours()[None]
    # the fixture's eye rings start at a box's top-left corner; their 11th point is the bottom-right one:
    # (50.5, 16.5) and (20.5, 16.5)
    np.testing.assert_allclose(landmark_normaliser(points), [30.0])
    with pytest.raises(ValueError, match="68 or 194"):
        landmark_normaliser(np.zeros((1, 100, 2)))


def test_the_194_point_mirror_on_real_faces(data_root):
    """The mirror permutation fits HELEN's annotation: a flipped face's points land on the
    mirrored mean shape better than under any other rotation or reversal of a contour."""
    from facezoo.layers.shape_correction import procrustes_mean

    faces = HelenContourPoints(data_root / "helen68", "train")
    shapes = np.stack([read_helen_annotation(record[2])[1] for record in faces.records[:200]])
    mean = np.asarray(procrustes_mean(shapes), np.float64)
    mirrored = mean * [-1, 1]
    error = np.linalg.norm(mean - mirrored[FLIP_194], axis=-1).mean()
    jaw_shifted = FLIP_194.copy()
    jaw_shifted[:41] = np.roll(jaw_shifted[:41], 1)
    eyes_reversed = FLIP_194.copy()
    eyes_reversed[114:134] = 134 + (-np.arange(20)) % 20
    for other in (jaw_shifted, eyes_reversed):
        assert error < np.linalg.norm(mean - mirrored[other], axis=-1).mean()
    assert error < 0.06  # of the shape's unit RMS radius


def test_the_contours_as_affine_mixes_of_the_68_points(data_root):
    from facezoo.data import read_pts
    from facezoo.data.helen import contour_combination

    combination = contour_combination(data_root / "helen68")
    assert combination.shape == (194, 68) and np.allclose(combination.sum(1), 1.0)
    # it maps unseen faces' annotated 68 points near their 194 (validation faces, ~160 px between the outer eye
    # corners): 6.3 px measured; a map that ignored the face would be tens of pixels off
    errors = []
    for _, image, annotation in HelenContourPoints(data_root / "helen68", "val").records[:20]:
        points = read_pts(image.rsplit(".", 1)[0] + ".pts")
        errors.append(np.linalg.norm(combination @ points - read_helen_annotation(annotation)[1], axis=-1).mean())
    assert np.mean(errors) < 8.0, np.mean(errors)

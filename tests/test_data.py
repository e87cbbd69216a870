"""Dataset layouts on fixtures, bad input, augmentation and feeding Keras."""

import os
import re

import keras
import numpy as np
import pytest
from PIL import Image

from facezoo.classmaps import CELEBAMASK_TO_HELEN, HELEN, flip_permutation, remap_table
from facezoo.data import (
    Augmenter, CelebAMask, CelebAMaskMerged, CelebAMaskOfficial, DataError, HelenParsing, Landmarks300W,
    LFWPartLabels, ParsingSequence, Sample, read_image, read_pts, to_tf_dataset,
)
from facezoo.data.augment import FLIP_68, flip_sample, similarity_matrix, warp_sample
from fixtures import (
    make_celebamask_merged, make_celebamask_official, make_helen, make_landmark_folder, make_lfw,
)

# --- layouts -----------------------------------------------------------------------------


@pytest.mark.parametrize("soft", [False, True])
def test_helen_smith_layout(tmp_path, soft):
    truth = make_helen(tmp_path, soft=soft)
    counts = {split: len(HelenParsing(tmp_path, split)) for split in ("train", "val", "test")}
    assert counts == {"train": 2, "val": 1, "test": 2}
    test = HelenParsing(tmp_path, "test")
    sample = test[1]
    assert sample.id == "104_1" and sample.image.shape == (40, 48, 3) and sample.image.dtype == np.uint8
    np.testing.assert_array_equal(sample.labels, truth["104_1"])


def test_helen_missing_mask_names_the_file(tmp_path):
    make_helen(tmp_path)
    os.remove(tmp_path / "labels" / "103_1" / "103_1_lbl07.png")
    with pytest.raises(DataError, match="103_1_lbl07.png: label mask missing"):
        HelenParsing(tmp_path, "test")


@pytest.mark.parametrize("ext", [".ppm", ".png"])
def test_lfw_pl_layout_with_unpadded_numbers(tmp_path, ext):
    truth = make_lfw(tmp_path, ext=ext)
    data = LFWPartLabels(tmp_path, "val")
    assert data.ids == ["Ann_Lee_0001", "Bob_Stone_0012"]
    np.testing.assert_array_equal(data[1].labels, truth["Bob_Stone_0012"])


def test_lfw_pl_label_colour_outside_the_class_map(tmp_path):
    make_lfw(tmp_path, ext=".png")
    path = tmp_path / "parts_lfw_funneled_gt_images" / "Ann_Lee_0001.png"
    rgb = np.array(Image.open(path))
    rgb[0, 0] = (10, 20, 30)
    Image.fromarray(rgb).save(path)
    with pytest.raises(DataError, match=r"Ann_Lee_0001.png: 1 pixels have colours outside the class map, e.g. \(10, 20, 30\)"):
        LFWPartLabels(tmp_path, "test")[0]


def test_celebamask_official_layout(tmp_path):
    truth = make_celebamask_official(tmp_path)
    data = CelebAMask(tmp_path, "all")
    assert isinstance(data, CelebAMaskOfficial)
    assert data.ids == ["0", "1", "2001"]
    sample = data[2]
    assert sample.image.shape == (32, 32, 3)  # resized to the masks, as the official preprocessing
    np.testing.assert_array_equal(sample.labels, truth["2001"])
    with pytest.raises(DataError, match="CelebA-HQ-to-CelebA-mapping.txt: needed for train/val/test splits"):
        CelebAMask(tmp_path, "train")


def test_celebamask_official_splits_follow_celeba_partition(tmp_path):
    make_celebamask_official(tmp_path)
    (tmp_path / "CelebA-HQ-to-CelebA-mapping.txt").write_text("idx orig_idx orig_file\n0 10 000011.jpg\n1 20 000021.jpg\n2001 30 000031.jpg\n")
    (tmp_path / "list_eval_partition.txt").write_text("000011.jpg 0\n000021.jpg 2\n000031.jpg 0\n")
    assert CelebAMask(tmp_path, "train").ids == ["0", "2001"]
    assert CelebAMask(tmp_path, "test").ids == ["1"]


def test_celebamask_merged_layout_and_helen_mapping(tmp_path):
    truth = make_celebamask_merged(tmp_path)
    data = CelebAMask(tmp_path, "test")
    assert isinstance(data, CelebAMaskMerged) and len(data) == 2
    np.testing.assert_array_equal(data[0].labels, truth["f0"])
    table = remap_table("celebamask", "helen", CELEBAMASK_TO_HELEN)
    assert HELEN.names[table[4]] == "l_eye"  # both name sides by the subject
    assert HELEN.names[table[11]] == "u_lip" and HELEN.names[table[18]] == "background"


def test_celebamask_label_out_of_range_names_the_file(tmp_path):
    make_celebamask_merged(tmp_path, count=1)
    Image.fromarray(np.full((32, 32), 42, np.uint8)).save(tmp_path / "test" / "masks" / "f0.png")
    with pytest.raises(DataError, match=r"f0.png: label values \[42\] are outside the class map \(0..18\)"):
        CelebAMask(tmp_path, "test")[0]


def test_image_and_label_of_different_sizes(tmp_path):
    make_celebamask_merged(tmp_path, count=1)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "test" / "masks" / "f0.png")
    with pytest.raises(DataError, match="image is 32x32 but its label map is 16x16"):
        CelebAMask(tmp_path, "test")[0]


def test_a_colour_mask_is_refused_with_the_way_to_index_it(tmp_path):
    make_celebamask_merged(tmp_path, count=1)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "test" / "masks" / "f0.png")
    with pytest.raises(DataError, match=r"f0.png: label map must be single-channel class indices, got mode RGB "
                                        r"\(a colour-coded mask: convert each colour to its class index"):
        CelebAMask(tmp_path, "test")[0]


def test_missing_label_for_an_image(tmp_path):
    make_celebamask_merged(tmp_path, count=2)
    os.remove(tmp_path / "test" / "masks" / "f1.png")
    with pytest.raises(DataError, match=r"f1.png: label missing for .*f1.jpg"):
        CelebAMask(tmp_path, "test")


def test_corrupt_image_is_reported_or_skipped_and_counted(tmp_path, capsys):
    make_celebamask_merged(tmp_path, count=3)
    (tmp_path / "test" / "images" / "f1.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(DataError, match=r"f1.jpg: not a readable image"):
        CelebAMask(tmp_path, "test")[1]
    data = CelebAMask(tmp_path, "test", on_error="skip")
    assert data.ids == ["f0", "f2"]
    assert [sid for sid, _ in data.skipped] == ["f1"]
    assert "skipped 1 bad samples" in capsys.readouterr().out


def test_missing_root_and_empty_split_and_unknown_split(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        LFWPartLabels(tmp_path / "nowhere", "test")
    (tmp_path / "test" / "images").mkdir(parents=True)
    with pytest.raises(DataError, match="split 'test' .* holds no samples"):
        CelebAMaskMerged(tmp_path, "test")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        CelebAMaskMerged(tmp_path, "dev")


@pytest.mark.parametrize("header", [True, False])
def test_300w_pts_with_and_without_header(tmp_path, header):
    truth = make_landmark_folder(tmp_path / "testset", header=header)
    data = Landmarks300W(tmp_path, "test")
    assert len(data) == 2
    np.testing.assert_allclose(data[1].landmarks, truth["face1"], atol=1e-3)


def test_pts_header_count_mismatch(tmp_path):
    path = tmp_path / "a.pts"
    path.write_text("version: 1\nn_points: 68\n{\n1 2\n3 4\n}\n")
    with pytest.raises(DataError, match="header says 68 points but the file holds 2"):
        read_pts(path)


# --- image reading ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["L", "RGBA", "I;16", "P"])
def test_read_image_converts_any_mode_to_rgb(tmp_path, mode):
    rng = np.random.default_rng(0)
    if mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65535, (8, 9), dtype=np.uint16))
    else:
        img = Image.fromarray(rng.integers(0, 255, (8, 9, 3), dtype=np.uint8)).convert(mode)
    img.save(tmp_path / "x.png")
    array = read_image(tmp_path / "x.png")
    assert array.shape == (8, 9, 3) and array.dtype == np.uint8


def test_a_transparent_photo_is_composited_on_white_and_says_so(tmp_path):
    from facezoo.data.io import read_photo

    rgba = np.zeros((6, 7, 4), np.uint8)
    rgba[..., 3] = 255
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    rgba[0, 0, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "hole.png")
    assert read_photo(tmp_path / "opaque.png")[1] == []
    photo, notes = read_photo(tmp_path / "hole.png")
    assert notes == ["transparent pixels were composited on white"]
    assert photo[0, 0].tolist() == [255, 255, 255] and photo[1, 1].tolist() == [0, 0, 0]


def test_read_image_applies_exif_rotation(tmp_path):
    img = Image.new("RGB", (30, 10), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "phone.jpg", exif=exif)
    assert read_image(tmp_path / "phone.jpg").shape == (30, 10, 3)


# --- augmentation ----------------------------------------------------------------------


def _blob_sample():
    image = np.zeros((64, 64, 3), np.uint8)
    labels = np.zeros((64, 64), np.int32)
    image[20:30, 10:20] = 200
    labels[20:30, 10:20] = HELEN.index("l_eye")
    landmarks = np.zeros((68, 2), np.float32)
    landmarks[36] = (14.5, 24.5)  # centre of the blob
    return Sample("blob", image, labels, landmarks)


def test_warp_moves_image_labels_and_landmarks_together():
    sample = _blob_sample()
    matrix = similarity_matrix(30, 1.2, (5, -3), (31.5, 31.5))
    warped = warp_sample(sample, matrix, (64, 64))
    ys, xs = np.nonzero(warped.labels == HELEN.index("l_eye"))
    np.testing.assert_allclose(warped.landmarks[36], (xs.mean(), ys.mean()), atol=0.6)
    iy, ix = np.nonzero(warped.image[..., 0] > 100)
    np.testing.assert_allclose((ix.mean(), iy.mean()), (xs.mean(), ys.mean()), atol=0.6)
    assert set(np.unique(warped.labels)) <= {0, HELEN.index("l_eye")}  # nearest: no new values


def test_flip_swaps_sides_in_labels_and_landmarks():
    sample = _blob_sample()
    flipped = flip_sample(sample, "helen")
    assert (flipped.labels == HELEN.index("r_eye")).sum() == 100
    assert (flipped.labels == HELEN.index("l_eye")).sum() == 0
    np.testing.assert_allclose(flipped.landmarks[45], (63 - 14.5, 24.5))  # left outer corner -> right
    assert sorted(FLIP_68.tolist()) == list(range(68)) and np.all(FLIP_68[FLIP_68] == np.arange(68))
    assert np.all(flip_permutation("helen")[flip_permutation("helen")] == np.arange(11))


def test_augmenter_is_seeded_and_keeps_labels_valid():
    sample = _blob_sample()
    aug = Augmenter(class_map="helen", flip=0.5)
    a = aug(sample, np.random.default_rng([1, 2]))
    b = aug(sample, np.random.default_rng([1, 2]))
    c = aug(sample, np.random.default_rng([1, 3]))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.image, c.image)
    assert set(np.unique(a.labels)) <= {0, HELEN.index("l_eye"), HELEN.index("r_eye")}
    with pytest.raises(ValueError, match="scale_range"):
        Augmenter(scale_range=(1.5, 0.8))


# --- feeding Keras ---------------------------------------------------------------------


def test_parsing_sequence_and_tf_dataset_feed_model_fit(tmp_path):
    make_celebamask_merged(tmp_path, split="train", count=5, size=(40, 40))
    data = CelebAMask(tmp_path, "train")
    table = remap_table("celebamask", "helen", CELEBAMASK_TO_HELEN)
    seq = ParsingSequence(data, batch_size=2, image_size=(16, 16), augment=Augmenter("celebamask"),
                          shuffle=True, seed=3, label_table=table)
    assert len(seq) == 3
    images, labels = seq[0]
    assert images.shape == (2, 16, 16, 3) and images.dtype == np.float32 and 0 <= images.min() <= images.max() <= 1
    assert labels.shape == (2, 16, 16) and labels.max() < 11
    again = ParsingSequence(data, batch_size=2, image_size=(16, 16), augment=Augmenter("celebamask"),
                            shuffle=True, seed=3, label_table=table)[0]
    np.testing.assert_array_equal(again[0], images)

    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(11, 3, padding="same")])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(seq, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and seq.epoch >= 2  # new order and augmentation each epoch
    history = model.fit(to_tf_dataset(seq), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_landmark_sequence_scales_points(tmp_path):
    truth = make_landmark_folder(tmp_path / "trainset", size=(60, 50))
    seq = ParsingSequence(Landmarks300W(tmp_path, "train"), 2, image_size=(30, 25), target="landmarks")
    _, points = seq[0]
    np.testing.assert_allclose(points[0], (truth["face0"] + 0.5) * 0.5 - 0.5, atol=1e-3)  # .pts keeps 3 decimals


def test_sequence_refuses_mixed_sizes_and_bad_batch(tmp_path):
    make_helen(tmp_path)
    make_helen(tmp_path, {"tuning.txt": ["105_1"]}, size=(30, 30))  # a smaller face...
    with open(tmp_path / "testing.txt", "a") as handle:
        handle.write("3 , 105_1\n")  # ...in the test split
    with pytest.raises(DataError, match="different sizes .* pass image_size"):
        ParsingSequence(HelenParsing(tmp_path, "test"), 3)[0]
    with pytest.raises(ValueError, match="batch_size"):
        ParsingSequence(HelenParsing(tmp_path, "train"), 0)


# --- the real data, when it is there -----------------------------------------------------


def test_real_split_counts(data_root):
    assert {s: len(LFWPartLabels(data_root / "lfw_pl", s)) for s in ("train", "val", "test")} == {
        "train": 1500, "val": 500, "test": 927}
    assert {s: len(CelebAMask(data_root / "celebamask_subset", s)) for s in ("train", "test")} == {
        "train": 1000, "test": 100}
    assert {s: len(Landmarks300W(data_root / "helen68", s)) for s in ("train", "test")} == {
        "train": 870, "test": 330}


def test_real_samples_are_well_formed(data_root):
    lfw = LFWPartLabels(data_root / "lfw_pl", "val")
    sample = lfw[0]  # "Dianne_Feinstein 2": an unpadded number
    assert sample.id == "Dianne_Feinstein_0002" and sample.labels.shape == (250, 250)
    assert set(np.unique(sample.labels)) <= {0, 1, 2}
    celeb = CelebAMask(data_root / "celebamask_subset", "test")[0]
    assert celeb.image.shape == (512, 512, 3) and celeb.labels.max() <= 18
    face = Landmarks300W(data_root / "helen68", "test")[0]
    assert face.landmarks.shape == (68, 2)
    assert (face.landmarks[:, 0].max() < face.image.shape[1]) and (face.landmarks[:, 1].max() < face.image.shape[0])


def _point_list(tmp_path, faces, points_per_face=3):
    import json

    path = tmp_path / "points.json"
    path.write_text(json.dumps({"source": "hand-made", "points_per_face": points_per_face, "faces": faces}))
    return path


def test_frame_like_300w_is_twice_the_points_box_centred():
    from facezoo.data.point_list import frame_like_300w

    # a box of 40 x 20 centred at (50, 60): a square of side 80 around the same centre
    assert frame_like_300w([[30, 50], [70, 70], [50, 60]]) == [10.0, 20.0, 80.0]


def test_point_list_cuts_the_square_from_the_photo_and_moves_the_points(tmp_path):
    from facezoo.data import PointList

    photo = np.zeros((40, 60, 3), np.uint8)
    photo[..., 0] = np.arange(60)[None, :] + 1      # every pixel tells where it came from
    photo[..., 1] = np.arange(40)[:, None] + 1
    Image.fromarray(photo).save(tmp_path / "a.png")
    listing = _point_list(tmp_path, [
        {"image": "a.png", "crop": [20, 5, 30], "points": [[30, 10], [40, 20], [35, 15]]},
        {"image": "a.png", "crop": [45, -10, 30], "points": [[50, 0], [59, 10], [55, 5]]},  # top and right off
        {"image": "a.png", "crop": [-5.4, 30.2, 20], "points": [[0, 30], [10, 39], [5, 35]]},  # left and bottom
        {"image": "a.png", "crop": [100, 100, 10], "points": [[101, 101]] * 3},             # wholly off
    ])
    faces = PointList(tmp_path, listing)
    assert len(faces) == 4
    first = faces[0]
    assert first.image.shape == (30, 30, 3)
    np.testing.assert_array_equal(first.image, photo[5:35, 20:50])
    np.testing.assert_array_equal(first.landmarks, [[10, 5], [20, 15], [15, 10]])
    second = faces[1]  # origin (45, -10): photo rows 0..19 and columns 45..59 land at [10:30, 0:15]
    np.testing.assert_array_equal(second.image[10:, :15], photo[0:20, 45:60])
    assert second.image[:10].max() == 0 and second.image[:, 15:].max() == 0
    np.testing.assert_array_equal(second.landmarks, [[5, 10], [14, 20], [10, 15]])
    third = faces[2]  # the origin rounds to (-5, 30)
    np.testing.assert_array_equal(third.image[:10, 5:], photo[30:40, 0:15])
    assert third.image[:, :5].max() == 0 and third.image[10:].max() == 0
    np.testing.assert_array_equal(third.landmarks[0], [5, 0])
    assert faces[3].image.shape == (10, 10, 3) and faces[3].image.max() == 0


def test_point_list_errors_name_the_file(tmp_path):
    from facezoo.data import PointList

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    three = [[1, 1]] * 3
    bad_entries = {  # each is refused when the list is opened, naming the file and the face
        "expected 3 finite": {"image": "a.png", "crop": [0, 0, 8], "points": [[1, 1], [2, 2]]},
        "expected 3 finite (x, y)": {"image": "a.png", "crop": [0, 0, 8], "points": [[1, 1], [2, float("nan")], [3, 3]]},
        "malformed": {"image": "a.png", "crop": [0, 0, 8], "points": [[1, 1], [2], [3, 3]]},
        "missing or malformed 'crop'": {"image": "a.png", "points": three},
        "crop must be": {"image": "a.png", "crop": [0, 0], "points": three},
        "side >= 1": {"image": "a.png", "crop": [0, 0, 0.2], "points": three},
        "'image' must be": {"image": 7, "crop": [0, 0, 8], "points": three},
        "b.png: no such photo": {"image": "b.png", "crop": [0, 0, 8], "points": three},
        "expected an object": ["a.png"],
    }
    for message, entry in bad_entries.items():
        listing = _point_list(tmp_path, [{"image": "a.png", "crop": [0, 0, 8], "points": three}, entry])
        with pytest.raises(DataError, match=r"points\.json: face 1.*" + re.escape(message)):
            PointList(tmp_path, listing)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match=r"bad\.json: not a point list"):
        PointList(tmp_path, tmp_path / "bad.json")

"""facezoo.parse and `facezoo parse` on real photos: detection, alignment, mapping back."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import facezoo
from facezoo.cli import main
from facezoo.detect import BoxDetector, MTCNNDetector
from facezoo.photos import as_rgb

ASTRONAUT = Path(__file__).resolve().parent.parent / "examples" / "astronaut.jpg"  # NASA, public domain


@pytest.fixture(scope="module")
def photo():
    return np.asarray(Image.open(ASTRONAUT).convert("RGB"))


@pytest.fixture(scope="module")
def icnn():
    return facezoo.load("icnn_lfw", compile=False)


def _box_mask(shape, box, grow=1.0):
    x0, y0, x1, y1 = box
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2 * grow, (y1 - y0) / 2 * grow
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return (abs(xx - cx) <= hw) & (abs(yy - cy) <= hh)


def _check_face_parsed(result, face, skin=1):
    """Skin fills the detected face box and stays near it."""
    box = face.detection.box
    inner = _box_mask(result.labels.shape, box, 0.6)
    near = _box_mask(result.labels.shape, box, 2.5)
    assert (result.labels[inner] == skin).mean() > 0.6
    assert (result.labels[~near] == 0).mean() > 0.99


def test_one_real_face(photo, icnn):
    result = facezoo.parse(photo, model=icnn)
    assert result.labels.shape == photo.shape[:2] and result.labels.dtype == np.uint8
    assert len(result.faces) == 1 and result.faces[0].detection.score > 0.95
    _check_face_parsed(result, result.faces[0])
    assert (result.labels == 2).sum() > 1000, "hair above the face"
    data = result.to_json()
    assert data["model"] == "icnn_lfw" and data["class_names"] == ["background", "skin", "hair"]
    assert set(data["faces"][0]["landmarks"]) == {"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}


def test_several_faces_at_different_sizes_on_a_large_photo(photo, icnn):
    """Three copies of the face (0.5x, 1x, 3x) on a 6000x4000 canvas: all found, each parsed
    in place, at the photo's full resolution. The 0.5x face is 42 pixels wide, 0.7 % of the
    canvas: under the default search size's limit (1024 px, faces from 2 %), so the search
    is widened to 1600 px."""
    canvas = np.full((4000, 6000, 3), 90, np.uint8)
    placements = [(0.5, (300, 300)), (1.0, (1200, 2500)), (3.0, (3000, 800))]
    for scale, (x, y) in placements:
        size = int(512 * scale)
        canvas[y:y + size, x:x + size] = np.asarray(Image.fromarray(photo).resize((size, size), Image.LANCZOS))
    result = facezoo.parse(canvas, model=icnn, detector=MTCNNDetector(max_side=1600))
    assert result.labels.shape == (4000, 6000) and len(result.faces) == 3
    for face in result.faces:
        _check_face_parsed(result, face)
    widths = sorted(f.detection.box[2] - f.detection.box[0] for f in result.faces)
    assert widths[2] / widths[0] == pytest.approx(6, rel=0.2)


def test_no_face_gives_an_empty_result(icnn):
    blank = np.full((300, 400, 3), 128, np.uint8)
    result = facezoo.parse(blank, model=icnn)
    assert result.faces == [] and not result.labels.any() and result.notes == ["no face found"]


def test_user_boxes_and_aligned_crops(photo, icnn):
    detected = MTCNNDetector()(photo)[0]
    from_box = facezoo.parse(photo, model=icnn, detector=BoxDetector([detected.box]))
    _check_face_parsed(from_box, from_box.faces[0])
    with_points = facezoo.parse(photo, model=icnn, detector=BoxDetector([detected.box], [detected.keypoints]))
    reference = facezoo.parse(photo, model=icnn)
    np.testing.assert_array_equal(with_points.labels, reference.labels)
    crop = np.asarray(Image.fromarray(photo).crop((100, 0, 350, 250)))  # roughly an LFW-style crop
    aligned = facezoo.parse(crop, model=icnn, aligned=True)
    assert aligned.labels.shape == (250, 250) and (aligned.labels == 1).mean() > 0.1
    with pytest.raises(ValueError, match="x1 > x0"):
        BoxDetector([(10, 10, 5, 20)])


def test_odd_inputs_are_converted(photo):
    grey = photo.mean(-1).astype(np.uint8)
    assert as_rgb(grey).shape == photo.shape
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    np.testing.assert_array_equal(as_rgb(rgba), photo)
    deep = photo.astype(np.uint16) * 257
    np.testing.assert_array_equal(as_rgb(deep), photo)
    with pytest.raises(ValueError, match="expected an image"):
        as_rgb(np.zeros((4, 4, 5)))
    unit = photo / 255.0
    unit[0, 0, 0] = 1.01  # a resize's overshoot: still [0, 1], not 0..255
    converted = as_rgb(unit)
    assert converted[0, 0, 0] == 255 and np.abs(converted[1:].astype(int) - photo[1:]).max() <= 1
    assert np.abs(as_rgb(photo.astype(np.float32)).astype(int) - photo).max() == 0
    unit[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        as_rgb(unit)
    with pytest.raises(ValueError, match=r"\[0, 1\] or \[0, 255\]"):
        as_rgb(photo * 4.0)


def _odd_files(folder, photo):
    """The photo as grey PNG, RGBA PNG, 16-bit PNG, WebP, an EXIF-rotated JPEG (stored
    sideways, 700 wide when upright), plus a file that is not an image."""
    Image.fromarray(photo).convert("L").save(folder / "grey.png")
    Image.fromarray(photo).convert("RGBA").save(folder / "rgba.png")
    Image.fromarray((photo[..., 1].astype(np.uint16) * 257)).save(folder / "deep16.png")
    Image.fromarray(photo).save(folder / "photo.webp", quality=90)
    wide = np.full((512, 700, 3), 60, np.uint8)
    wide[:, :512] = photo
    sideways = Image.fromarray(wide).rotate(90, expand=True)  # stored 700 high, 512 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    sideways.save(folder / "phone.jpg", exif=exif, quality=92)
    (folder / "notes.jpg").write_bytes(b"this is not a jpeg")


def test_cli_parses_a_folder_reports_the_bad_file_and_fails(photo, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    _odd_files(inputs, photo)
    out = tmp_path / "out"
    assert main(["parse", str(inputs), "--model", "icnn_lfw", "-o", str(out)]) == 1
    captured = capsys.readouterr()
    assert "notes.jpg" in captured.err and "5 of 6 input(s) done" in captured.out
    for stem in ("grey", "rgba", "deep16", "photo", "phone"):
        labels = np.asarray(Image.open(out / f"{stem}.labels.png"))
        meta = json.loads((out / f"{stem}.json").read_text())
        assert Image.open(out / f"{stem}.labels.png").mode == "L"
        assert labels.shape == (meta["height"], meta["width"]) and len(meta["faces"]) == 1, stem
        assert Image.open(out / f"{stem}.overlay.png").size == (meta["width"], meta["height"])
    assert json.loads((out / "phone.json").read_text())["width"] == 700, "EXIF rotation applied"
    assert not [p for p in os.listdir(out) if p.startswith(".tmp-")] and not (out / "notes.labels.png").exists()


def test_cli_default_model_and_no_face(photo, tmp_path):
    Image.fromarray(photo).save(tmp_path / "face.png")
    Image.fromarray(np.full((200, 300, 3), 200, np.uint8)).save(tmp_path / "wall.png")
    out = tmp_path / "out"
    assert main(["parse", str(tmp_path / "face.png"), str(tmp_path / "wall.png"), "-o", str(out)]) == 0
    face = json.loads((out / "face.json").read_text())
    assert face["model"] == "stn_icnn_celebamask" and len(face["faces"]) == 1
    labels = np.asarray(Image.open(out / "face.labels.png"))
    names = face["class_names"]
    assert {names.index(n) for n in ("l_eye", "r_eye", "nose", "u_lip", "l_lip")} <= set(np.unique(labels))
    wall = json.loads((out / "wall.json").read_text())
    assert wall["faces"] == [] and wall["notes"] == ["no face found"]


def test_a_failed_write_leaves_no_file(photo, icnn, tmp_path, monkeypatch):
    result = facezoo.parse(photo, model=icnn)

    def broken_overlay(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(result), "overlay", broken_overlay)
    with pytest.raises(OSError, match="disk full"):
        result.save(tmp_path / "out", "face", photo)
    assert os.listdir(tmp_path / "out") == []


def test_cli_errors(tmp_path, capsys):
    assert main(["parse", str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "o")]) == 1
    said = capsys.readouterr().err
    assert f"{tmp_path / 'missing.jpg'}: no such image file or folder" in said and "nothing written" in said
    assert not (tmp_path / "o").exists()  # found before the output folder is made (or the model loads)
    assert main(["landmarks", str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "o")]) == 1
    assert not (tmp_path / "o").exists()
    assert main(["parse", str(tmp_path), "-o", str(tmp_path / "o")]) == 1  # a folder without images
    assert main(["parse", str(ASTRONAUT), "--model", "icnn_lvf", "-o", str(tmp_path / "o")]) == 2
    capsys.readouterr()
    (tmp_path / "notes.jpg").write_bytes(b"this is not a jpeg")
    (tmp_path / "empty.png").write_bytes(b"")
    for command in ("parse", "landmarks"):  # unreadable files are found before the model loads or -o is made
        assert main([command, str(tmp_path / "notes.jpg"), str(tmp_path / "empty.png"), "-o", str(tmp_path / "o")]) == 1
        said = capsys.readouterr().err
        assert "notes.jpg: not an image file" in said and "empty.png: an empty file" in said
        assert "nothing written" in said
        assert not (tmp_path / "o").exists()
    assert main(["parse", str(ASTRONAUT), "--model", str(tmp_path / "nosuch.keras"), "-o", str(tmp_path / "o")]) == 2
    assert "no model file" in capsys.readouterr().err
    assert main(["landmarks", str(ASTRONAUT), "--model", str(tmp_path / "notes.jpg"), "-o", str(tmp_path / "o")]) == 2
    assert "neither a preset nor a model file" in capsys.readouterr().err and not (tmp_path / "o").exists()
    # export: the format follows the output's suffix; one it cannot tell is refused
    assert main(["export", "icnn_lfw", "-o", str(tmp_path / "m.tfl")]) == 2
    assert "cannot tell the format from" in capsys.readouterr().err
    assert main(["export", "icnn_lfw", "--quantize", "fp16", "-o", str(tmp_path / "m.onnx")]) == 2
    assert "onnx exports are float32" in capsys.readouterr().err


class _TemplateOracle:
    """A 'landmark model' that answers, in its input's pixels, the preset's template
    keypoints for points 0-4 (and NaN everywhere when ``broken``)."""

    def __init__(self, preset, broken=False):
        import keras

        class Oracle(keras.Model):
            def call(self, images, training=False):
                side = images.shape[1]
                points = np.zeros((1, 68, 2), np.float32)
                points[0, :5] = np.asarray(preset.alignment["keypoints"]) * side
                return points * (np.nan if broken else 1.0)

        self.model = Oracle()
        self.model.info = preset.info  # what facezoo.load gives a model: the pipeline reads only this


@pytest.fixture
def landmark_preset():
    import dataclasses

    from facezoo import registry

    return dataclasses.replace(
        registry.PRESETS["icnn_lfw"], name="oracle", architecture="adc_landmarks", task="landmarks", class_map=None,
        config={}, input_size=(512, 512), weights_file=None, sha256=None,
        alignment={"keypoints": ((0.36, 0.42), (0.64, 0.42), (0.5, 0.56), (0.39, 0.7), (0.61, 0.7)),
                   "box": (0.2, 0.15, 0.8, 0.9)})


def test_landmarks_come_back_in_photo_pixels_from_a_full_resolution_crop(photo, landmark_preset, tmp_path):
    """Points the model puts on the template come back onto the detector's keypoints (up to
    the similarity fit), at 1x and at 4x the photo's size; the crop grows with the face."""
    from facezoo.photos import landmarks

    oracle = _TemplateOracle(landmark_preset).model
    sizes = []
    for scale in (1, 4):
        big = np.asarray(Image.fromarray(photo).resize((512 * scale, 512 * scale), Image.BICUBIC))
        result = landmarks(big, model=oracle, max_crop=4096)
        face = result.faces[0]
        keypoints = face.detection.keypoints
        eyes = np.linalg.norm(keypoints[0] - keypoints[1])
        assert np.abs(face.landmarks[:5] - keypoints).max() < 0.15 * eyes
        sizes.append(face.crop_size)
    assert sizes[1] > 2 * sizes[0], "the crop grows with the face (rounded up to 128 pixels)"
    assert landmarks(big, model=oracle).faces[0].crop_size == 512, "by default no larger than the model uses"
    from facezoo.data.io import read_pts

    paths = result.save(tmp_path, "big")
    np.testing.assert_allclose(read_pts(paths["face0"]), face.landmarks, atol=0.01)
    assert json.loads(open(paths["json"]).read())["faces"][0]["crop_size"] == sizes[1]


def test_non_finite_landmarks_are_reported_not_written(photo, landmark_preset, tmp_path):
    from facezoo.photos import landmarks

    result = landmarks(photo, model=_TemplateOracle(landmark_preset, broken=True).model)
    assert result.faces == [] and "non-finite" in result.notes[0]
    paths = result.save(tmp_path, "face")
    assert list(paths) == ["json"] and json.loads(open(paths["json"]).read())["faces"] == []
    with pytest.raises(ValueError, match="is a parsing model"):
        landmarks(photo, model=facezoo.load("icnn_lfw", compile=False))


def test_unlabelled_faces_are_aligned_and_fed_as_minus_one(photo, tmp_path):
    from facezoo.data import AlignedFaces, ConcatDataset, ParsingSequence

    Image.fromarray(photo).save(tmp_path / "face.jpg")
    Image.fromarray(np.full((100, 100, 3), 128, np.uint8)).save(tmp_path / "wall.jpg")
    faces = AlignedFaces(tmp_path, "icnn_lfw", (250, 250))
    assert len(faces) == 1 and faces.skipped == [(str(tmp_path / "wall.jpg"), "no face found")]
    crop = faces[0].image
    assert crop.shape == (250, 250, 3) and crop[100:150, 100:150].std() > 10  # a face in the middle
    both = ConcatDataset(faces, faces)
    images, labels = ParsingSequence(both, 2, (64, 64), unlabelled=True)[0]
    assert images.shape == (2, 64, 64, 3) and (labels == -1).all()


def test_cli_landmarks_with_the_shipped_model_on_a_real_photo(photo, tmp_path):
    """The 68 points land on the face: eye centres (mean of points 36-41 and 42-47) within
    a fifth of the eye distance of MTCNN's eye keypoints, and the .pts matches the JSON."""
    from facezoo.data.io import read_pts

    Image.fromarray(photo).save(tmp_path / "face.png")
    out = tmp_path / "out"
    assert main(["landmarks", str(tmp_path / "face.png"), "-o", str(out), "--overlay"]) == 0
    meta = json.loads((out / "face.json").read_text())
    assert meta["model"] == "adc_landmarks_300w" and len(meta["faces"]) == 1
    face = meta["faces"][0]
    points = np.asarray(face["landmarks"])
    np.testing.assert_allclose(read_pts(out / "face_face0.pts"), points, atol=0.01)
    keypoints = face["detector_keypoints"]
    assert "left_eye is the subject's right eye" in meta["keypoint_sides"]
    left, right = np.asarray(keypoints["left_eye"]), np.asarray(keypoints["right_eye"])
    eyes = np.linalg.norm(right - left)
    assert np.linalg.norm(points[36:42].mean(0) - left) < 0.2 * eyes
    assert np.linalg.norm(points[42:48].mean(0) - right) < 0.2 * eyes
    drawn = np.asarray(Image.open(out / "face.overlay.png"))
    assert drawn.shape == photo.shape
    for x, y in np.round(points[[8, 30, 36]]).astype(int):  # chin, nose tip, an eye corner: red dots
        assert tuple(drawn[y, x]) == (255, 40, 40)
    changed = np.abs(drawn.astype(int) - photo).sum(-1) > 0
    corners = np.concatenate([np.reshape(face["box"], (2, 2)), points])  # MTCNN's box may cut the chin
    (x0, y0), (x1, y1) = np.round(corners.min(0)).astype(int), np.round(corners.max(0)).astype(int)
    changed[max(0, y0 - 4):y1 + 5, max(0, x0 - 4):x1 + 5] = False
    assert not changed.any(), "nothing drawn away from the face's box and points"
    assert main(["landmarks", str(tmp_path / "face.png"), "-o", str(out), "--skip-existing"]) == 0
    (out / "face.overlay.png").unlink()
    assert main(["landmarks", str(tmp_path / "face.png"), "-o", str(out), "--overlay", "--skip-existing"]) == 0
    assert (out / "face.overlay.png").is_file(), "an output missing: the photo is not done"
    assert main(["landmarks", str(tmp_path / "face.png"), "-o", str(out)]) == 0
    assert not (out / "face.overlay.png").exists(), "an overlay of earlier points is not left behind"


def test_a_landmark_overlay_joins_the_68_points_along_their_contours():
    from facezoo.classmaps import IBUG68_CONTOURS
    from facezoo.detect import Detection
    from facezoo.photos import FaceLandmarks, LandmarkResult

    photo = np.zeros((300, 400, 3), np.uint8)
    points = np.stack([np.linspace(50, 350, 68), np.full(68, 150.0)], -1)  # one horizontal row
    points[36:42] = [(100, 60), (120, 60), (140, 60), (140, 90), (120, 90), (100, 90)]  # an eye: a closed loop
    face = FaceLandmarks(Detection((0, 0, 100, 100)), points, np.eye(2, 3), 64)  # 1-pixel lines and dots
    result = LandmarkResult([face], "m", 400, 300, image=photo)
    drawn = result.overlay(boxes=False)
    green = (drawn[..., 1] > 150) & (drawn[..., 0] < 100)
    assert green[75, 99:102].any(), "the eye's last point joined back to its first"
    assert green[150, 200] and not green[150, 20], "the nostrils (points 33, 34 at x 197.8, 202.2) joined"
    assert not green[150, 124], "contours stay apart: the jaw's end (x 121.6) is not joined to a brow (126.0)"
    assert len(IBUG68_CONTOURS) == 9 and drawn[0, 50].sum() == 0
    assert tuple(result.overlay()[0, 50]) == (255, 255, 255), "and the box when asked"
    off_grid = points + np.linspace(-0.5, 0.5, 68)[:, None] * (1, -1)  # fractions a float-centred dot can miss
    face.landmarks = off_grid
    drawn = result.overlay(boxes=False)
    for x, y in np.round(off_grid).astype(int):
        assert tuple(drawn[y, x]) == (255, 40, 40), "every point's own pixel is under its dot"
    for wrong in (np.zeros((10, 10, 3), np.uint8), photo / 255.0, np.zeros((300, 400, 4), np.uint8)):
        with pytest.raises(ValueError, match="400x300 uint8 RGB photo"):
            result.overlay(wrong)
    with pytest.raises(ValueError, match="400x300 uint8 RGB photo"):
        LandmarkResult([face], "m", 400, 300).overlay()


def test_helens_194_points_are_drawn_along_their_contours_and_named_in_the_json():
    from facezoo.detect import Detection
    from facezoo.photos import FaceLandmarks, LandmarkResult
    from fixtures import helen_contours

    photo = np.zeros((64, 64, 3), np.uint8)
    points = helen_contours()  # every component a small rectangle
    result = LandmarkResult([FaceLandmarks(Detection((0, 0, 50, 50)), points, np.eye(2, 3), 64)], "m", 64, 64,
                            image=photo)
    drawn = result.overlay(boxes=False)
    green = (drawn[..., 1] > 150) & (drawn[..., 0] < 100)
    # the subject's left eye, box x 9.5-20.5, y 9.5-16.5: its ring is joined between the dots, its inside empty
    assert green[13, 9] and green[9, 9] and not drawn[13, 15].any()
    assert not green[30, 5], "the jaw (y 58) and the lips are not joined across the face"
    assert result.to_json()["points"].startswith("HELEN 194")
    result.faces[0].landmarks = points[:68]
    assert result.to_json()["points"].startswith("iBUG 68")


def test_cli_same_names_from_two_folders_do_not_overwrite(photo, tmp_path):
    """a.png, a_2.png in one folder and a.png in another: three outputs, none replaced."""
    for folder, name in (("one", "a.png"), ("one", "a_2.png"), ("two", "a.png")):
        (tmp_path / folder).mkdir(exist_ok=True)
        Image.fromarray(photo[100:350, 100:350]).save(tmp_path / folder / name)
    out = tmp_path / "out"
    assert main(["parse", str(tmp_path / "one"), str(tmp_path / "two"), "--model", "icnn_lfw", "--aligned",
                 "-o", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.json")) == ["a.json", "a_1.json", "a_2.json"]


def test_a_photo_without_a_face_is_searched_quietly():
    """MTCNN's later stages get no candidate on a flat grey photo: no face, and nothing
    from TensorFlow on stderr (its networks fail on an empty batch unless spared one), in a
    process whose TensorFlow logs at its default level."""
    import subprocess
    import sys

    code = ("import numpy as np; from facezoo.detect import MTCNNDetector; "
            "print(MTCNNDetector()(np.full((200, 240, 3), 128, np.uint8)))")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stderr[-2000:]
    assert "rendezvous" not in run.stderr.lower()


def test_mtcnn_finds_what_the_plain_package_finds(photo):
    """The detector's compiled networks and its one tensor of the photo (converted once, not
    once per pyramid scale) change no detection: boxes, scores and keypoints as the ``mtcnn``
    package's own eager ``detect_faces`` gives them, on the astronaut and on a 2x2 tiling of her."""
    from mtcnn import MTCNN

    from facezoo.detect import _StageOnTensor

    plain, detector = MTCNN(), MTCNNDetector()
    tiled = np.tile(photo[::2, ::2], (2, 2, 1))  # the photo's shape: a memo stuck on it would find one face
    for image in (photo, tiled):
        expected = sorted(plain.detect_faces(image, threshold_onet=0.9), key=lambda f: -f["confidence"])
        found = detector(image)
        assert len(found) == len(expected) >= 1
        for face, reference in zip(found, expected):
            x, y, w, h = reference["box"]
            np.testing.assert_allclose(face.box, (x, y, x + w, y + h), atol=0.05)
            np.testing.assert_allclose(face.score, reference["confidence"], atol=1e-4)
            keypoints = [reference["keypoints"][name] for name in facezoo.detect.KEYPOINT_NAMES]
            np.testing.assert_allclose(face.keypoints, keypoints, atol=0.05)
    assert all(isinstance(stage, _StageOnTensor) for stage in detector._mtcnn.stages)


def test_mtcnns_photo_tensor_is_made_once_per_photo_and_not_kept():
    """The stages of one search share one float32 tensor of the photo; a new photo gets a new
    one, and none outlives its photo's array."""
    import gc

    from facezoo.detect import _PhotoAsTensor

    as_tensor, rng = _PhotoAsTensor(), np.random.default_rng(0)
    array = rng.normal(size=(1, 30, 40, 3))
    first = as_tensor(array)
    assert first.dtype.name == "float32" and as_tensor(array) is first
    np.testing.assert_allclose(first.numpy(), array, rtol=1e-6)
    other = array.copy()
    assert as_tensor(other) is not first and as_tensor(other) is as_tensor(other)
    assert as_tensor(first) is first  # a tensor passes through
    del array, other
    gc.collect()
    assert as_tensor._memo is None
    for _ in range(3):  # a new array in a freed one's place (often at its address) gets its own values
        array = rng.normal(size=(1, 30, 40, 3))
        np.testing.assert_allclose(as_tensor(array).numpy(), array, rtol=1e-6)
        del array


def test_a_face_too_large_for_mtcnns_pyramid_is_found_at_half_size(data_root, photo, monkeypatch):
    """HELEN test photo 30542618_1: a 400-pixel face running off a 427x640 photo, which
    MTCNN misses at the photo's own size (the top of its pyramid) and finds at half. A photo
    whose face is found costs one search."""
    from facezoo.data import read_image

    path = data_root / "helen68" / "testset" / "30542618_1.jpg"
    if not path.exists():
        pytest.skip(f"{path} not found")
    detector = MTCNNDetector()
    searches = []
    search = detector._search
    monkeypatch.setattr(detector, "_search", lambda image, scale: searches.append(scale) or search(image, scale))
    faces = detector(read_image(path))
    assert searches == [1.0, 0.5] and len(faces) == 1 and faces[0].score > 0.9
    x0, y0, x1, y1 = faces[0].box
    assert 40 < x0 < 90 and 420 < x1 < 480 and y1 > 400  # in the photo's pixels, around the annotated face
    searches.clear()
    assert detector(photo) and searches == [1.0]


def test_the_one_call_forms_keep_a_presets_pipeline_for_the_next_call(monkeypatch):
    """A loop of facezoo.landmarks(photo) / facezoo.parse(photo) builds the pipeline once
    (it was loaded and compiled again each call: 2.7 s against 0.27 s per HELEN photo, and
    TensorFlow's retracing warning); other settings, files, model objects and detectors get
    their own."""
    import facezoo.pipeline
    from facezoo import photos

    built = []

    class Counted:
        def __init__(self, model, detector, **settings):
            built.append((model, settings))

        def detect(self, image):
            return self

        parse = detect

    monkeypatch.setattr(facezoo.pipeline, "LandmarkDetector", Counted)
    monkeypatch.setattr(facezoo.pipeline, "FaceParser", Counted)
    photos._kept_pipeline.cache_clear()
    try:
        first = facezoo.landmarks("photo", "adc_landmarks_300w_fast")
        assert facezoo.landmarks("photo", "adc_landmarks_300w_fast") is first and len(built) == 1
        assert facezoo.landmarks("photo", "adc_landmarks_300w_fast", max_faces=1) is not first
        assert facezoo.parse("photo", "icnn_lfw") is facezoo.parse("photo", "icnn_lfw") and len(built) == 3
        for model, detector in (("weights/icnn_lfw.npz", None), (object(), None), ("icnn_lfw", lambda image: [])):
            assert facezoo.parse("photo", model, detector=detector) is not facezoo.parse("photo", model,
                                                                                        detector=detector)
        heatmap = facezoo.parse("photo", "rtparser_helen", landmarks="adc.keras")  # a file: not kept either
        assert facezoo.parse("photo", "rtparser_helen", landmarks="adc.keras") is not heatmap
        assert len(built) == 11
    finally:
        photos._kept_pipeline.cache_clear()


def test_a_parsers_face_inputs_and_maps_paste_back_to_what_parse_gives(photo, icnn):
    """What an exported file's user does: the faces at the model's input size, the model run
    on them, its probabilities pasted back through the maps: parse()'s labels."""
    import keras

    from facezoo.align import paste_faces

    parser = facezoo.FaceParser(icnn)
    faces, maps = parser.face_inputs(photo, transforms=True)
    assert faces.shape == (1, *icnn.info.input_size, 3) and maps.shape == (1, 2, 3)
    outputs = icnn(faces)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(outputs) if icnn.info.output == "logits" else outputs)
    pasted = paste_faces(list(zip(probabilities, maps)), photo.shape[:2])
    labels = parser.parse(photo).labels
    assert (pasted == labels).mean() > 0.999 and (labels > 0).sum() > 1000

"""The reusable photo pipeline: the fast paste against the per-channel PIL paste it
replaces, FaceParser / LandmarkDetector (batches, video, smoothing), result masks, the
light and quiet command line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import facezoo
import facezoo.registry
from facezoo.align import apply, paste_faces, paste_faces_by_channel, paste_labels, warp_to_crop
from facezoo.detect import BoxDetector, Detection
from facezoo.pipeline import FaceParser, LandmarkDetector, _Smoother, landmark_crop_side

ROOT = Path(__file__).resolve().parent.parent
ASTRONAUT = ROOT / "examples" / "astronaut.jpg"  # NASA, public domain


@pytest.fixture(scope="module")
def photo():
    return np.asarray(Image.open(ASTRONAUT).convert("RGB"))


@pytest.fixture(scope="module")
def parser():
    return FaceParser("icnn_lfw")




def test_compiled_model_traces_once_per_size_with_an_open_batch():
    """One trace per input size, whatever the batch, each call giving the model's own output."""
    import keras

    from facezoo.models import ICNN
    from facezoo.pipeline import CompiledModel

    model = ICNN(num_classes=3, input_shape=(24, 24, 3), channels=(4, 4))
    predict = CompiledModel(model)
    faces = np.random.default_rng(0).uniform(0, 1, (3, 24, 24, 3)).astype("float32")
    for batch in (faces[:1], faces, faces[:2]):
        np.testing.assert_allclose(predict(batch), keras.ops.convert_to_numpy(model(batch)), atol=1e-5)
    assert list(predict._functions) == [(24, 24, 3)]


def _crop_probabilities(parser, photo, scale, angle=0.0):
    """A real face's crop probabilities and its transform into a photo ``scale`` x larger,
    rotated by ``angle`` degrees."""
    from facezoo.photos import face_transform

    big = np.asarray(Image.fromarray(photo).resize((int(512 * scale),) * 2, Image.BICUBIC).rotate(angle))
    detection = parser._detect(big)[0]
    transform = face_transform(detection, parser.info)
    from facezoo.align import warp_to_crop

    probs = parser.probabilities(warp_to_crop(big, transform, parser.info.input_size)[None])[0]
    return big, probs, transform


@pytest.mark.parametrize("scale, angle", [(1.0, 0.0), (3.0, 20.0), (0.5, -10.0)])
def test_fast_paste_gives_the_old_labels(parser, photo, scale, angle):
    """On a real face, upscaled 3x (a 1536-pixel photo) and rotated, or downscaled: the
    new paste agrees with the old per-channel PIL paste on all but a border ring."""
    big, probs, transform = _crop_probabilities(parser, photo, scale, angle)
    new = paste_faces([(probs, transform)], big.shape[:2])
    old = paste_faces_by_channel([(probs, transform)], big.shape[:2])
    face = (old > 0) | (new > 0)
    assert face.sum() > 0.05 * face.size
    assert (new[face] == old[face]).mean() > 0.995
    assert {0, 1, 2} <= set(np.unique(new))
    window, labels = paste_labels(probs, transform, big.shape[:2])
    x0, y0, x1, y1 = window
    assert not new[:y0].any() and not new[y1:].any() and not new[:, :x0].any() and not new[:, x1:].any()


def test_overlapping_faces_go_to_the_surer_one(parser, photo):
    """Two faces' crops shifted so their windows overlap: nearly the old rule's answer (it
    differs only where one face labels a pixel its neighbour calls background)."""
    big, probs, transform = _crop_probabilities(parser, photo, 1.0)
    shifted = transform.copy()
    shifted[0, 2] -= 90.0  # the second face's crop sits 90 crop pixels to the right
    faces = [(probs, transform), (probs[:, ::-1].copy(), shifted)]
    new = paste_faces(faces, big.shape[:2])
    old = paste_faces_by_channel(faces, big.shape[:2])
    face = (old > 0) | (new > 0)
    assert (new[face] == old[face]).mean() > 0.99


def test_paste_of_an_empty_crop_and_bad_input():
    probs = np.zeros((8, 8, 3), np.float32)
    probs[..., 0] = 1.0
    assert paste_labels(probs, np.eye(2, 3), (20, 20))[1].size == 0
    with pytest.raises(ValueError, match="need probabilities"):
        paste_labels(np.zeros((1, 8, 3)), np.eye(2, 3), (20, 20))


def test_parser_batch_equals_single_and_masks(parser, photo):
    single = parser.parse(photo)
    flipped = photo[:, ::-1].copy()
    batch = parser.parse_batch([photo, flipped, np.full((100, 120, 3), 128, np.uint8)])
    np.testing.assert_array_equal(batch[0].labels, single.labels)
    assert (batch[1].labels > 0).sum() == pytest.approx((single.labels > 0).sum(), rel=0.05)
    assert batch[2].faces == [] and batch[2].notes == ["no face found"]
    assert single.mask("hair").sum() == (single.labels == 2).sum() > 1000
    assert single.mask("face").sum() == (single.labels == 1).sum()
    with pytest.raises(ValueError, match="groups: face"):
        single.mask("lips")
    overlay = single.overlay()
    assert overlay.shape == photo.shape and (overlay != photo).any()
    plain = single.overlay(boxes=False, legend=False)  # only the classes: background pixels untouched
    np.testing.assert_array_equal(plain[single.labels == 0], photo[single.labels == 0])
    assert (overlay[:12, :12] != plain[:12, :12]).any()  # the legend's corner


def test_group_masks_of_the_celebamask_map():
    from facezoo.photos import ParseResult
    from facezoo.classmaps import CELEBAMASK

    labels = np.arange(19, dtype=np.uint8).reshape(1, 19)
    result = ParseResult(labels, [], "x", CELEBAMASK.names, CELEBAMASK.colors)
    names = lambda group: [CELEBAMASK.names[i] for i in np.flatnonzero(result.mask(group)[0])]  # noqa: E731
    assert names("lips") == ["u_lip", "l_lip"] and names("eyes") == ["l_eye", "r_eye"]
    assert "hair" not in names("face") and "skin" in names("face") and names("hair") == ["hair"]
    with pytest.raises(ValueError, match="overlay needs the photo"):
        result.overlay()


def test_min_score_and_max_faces(photo):
    boxes = BoxDetector([(180, 65, 264, 173), (0, 0, 50, 50)])
    boxes.detections[1].score = 0.5
    parser = FaceParser("icnn_lfw", detector=boxes, min_score=0.8)
    assert len(parser.parse(photo).faces) == 1
    assert len(FaceParser("icnn_lfw", detector=boxes).parse(photo).faces) == 2
    assert len(FaceParser("icnn_lfw", detector=boxes, max_faces=1).parse(photo).faces) == 1
    with pytest.raises(ValueError, match="max_faces"):
        FaceParser("icnn_lfw", max_faces=0)
    with pytest.raises(ValueError, match="min_score"):
        FaceParser("icnn_lfw", min_score=2)
    with pytest.raises(ValueError, match="landmarks model"):
        FaceParser("adc_landmarks_300w")


def test_video_is_lazy_and_smoothing_steadies_the_boxes(parser, photo):
    """Frames made from the still photo with a jittering shift of up to 3 pixels: the
    smoothed boxes move less from frame to frame (after undoing the shift) than raw."""
    rng = np.random.default_rng(0)
    shifts = [rng.integers(-3, 4, size=2) for _ in range(8)]
    frames = (np.roll(photo, (int(dy), int(dx)), axis=(0, 1)) for dx, dy in shifts)  # a generator
    raw, smooth = [], []
    for results, smoothing in ((raw, 0.0), (smooth, 0.7)):
        frames = (np.roll(photo, (int(dy), int(dx)), axis=(0, 1)) for dx, dy in shifts)
        for result, (dx, dy) in zip(parser.parse_video(frames, smoothing=smoothing), shifts):
            box = np.asarray(result.faces[0].detection.box)
            results.append(box - [dx, dy, dx, dy])
    jitter = lambda boxes: np.abs(np.diff(boxes, axis=0)).mean()  # noqa: E731
    assert jitter(smooth) < jitter(raw)
    assert len(raw) == len(shifts)
    with pytest.raises(ValueError, match="smoothing"):
        next(parser.parse_video([photo], smoothing=1.5))


def test_cli_smoothing_treats_a_folder_as_the_frames_of_a_video(photo, tmp_path, capsys):
    """`facezoo parse frames/ --smoothing W`: the frames, in name order, are one video;
    the boxes it writes jitter less than those of the same frames parsed as photos (a
    still face under sensor noise: the detector's own jitter is all there is)."""
    from facezoo.cli import main

    rng = np.random.default_rng(1)
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(6):
        noisy = np.clip(photo + rng.normal(0, 12, photo.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(frames / f"{index:03d}.png")
    boxes = {}
    for smoothing in ("0", "0.7"):
        assert main(["parse", str(frames), "--model", "icnn_lfw", "-o", str(tmp_path / smoothing), "--json",
                     "--smoothing", smoothing]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [os.path.basename(line["image"]) for line in lines] == sorted(os.listdir(frames))
        boxes[smoothing] = np.array([line["faces"][0]["box"] for line in lines])
    jitter = {k: np.abs(np.diff(b, axis=0)).mean() for k, b in boxes.items()}
    assert jitter["0"] > 0 and jitter["0.7"] < 0.6 * jitter["0"], jitter
    with pytest.raises(SystemExit):
        main(["parse", str(frames), "-o", str(tmp_path / "x"), "--smoothing", "1"])
    assert "below 1" in capsys.readouterr().err
    assert main(["parse", str(frames), "-o", str(tmp_path / "x"), "--smoothing", "0.5", "--aligned"]) == 2
    assert "--aligned" in capsys.readouterr().err


def test_detections_hold_plain_floats():
    """Found: boxes from a detector computing in numpy integers printed as np.int64(...)."""
    detection = Detection((np.int64(1), np.int32(2), 3, np.float32(4.5)), np.float32(0.9))
    assert detection.box == (1.0, 2.0, 3.0, 4.5) and all(type(v) is float for v in detection.box)
    assert type(detection.score) is float and repr(detection.box) == "(1.0, 2.0, 3.0, 4.5)"


def test_smoother_matches_faces_by_overlap():
    smoother = _Smoother(0.5)
    first = smoother.detections([Detection((0, 0, 10, 10)), Detection((100, 100, 110, 110))])
    second = smoother.detections([Detection((102, 100, 112, 110)), Detection((50, 50, 60, 60))])
    assert second[0].box == (101.0, 100.0, 111.0, 110.0)  # matched: halfway
    assert second[1].box == (50, 50, 60, 60) and len(first) == 2  # new face: as detected


def test_landmark_detector_crop_is_capped_at_what_the_model_uses(photo):
    detector = LandmarkDetector()
    assert landmark_crop_side(detector.model) == 512 == detector.max_crop
    big = np.asarray(Image.fromarray(photo).resize((2048, 2048), Image.BICUBIC))
    small_result, big_result = detector.detect(photo), detector.detect(big)
    assert big_result.faces[0].crop_size == 512
    np.testing.assert_allclose(big_result.faces[0].landmarks / 4, small_result.faces[0].landmarks, atol=4)
    frames = list(detector.detect_video([photo, photo], smoothing=0.5))
    np.testing.assert_allclose(frames[1].faces[0].landmarks, frames[0].faces[0].landmarks, atol=1e-6)


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "facezoo.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=600)


@pytest.fixture(scope="module")
def landmarker():
    return LandmarkDetector()


def _heatmap_parser(landmarker):
    """A small random RTParser that takes a landmark heatmap, aligned like the HELEN
    parsers (stn_icnn_celebamask's template), with a spy on its model input."""
    import dataclasses

    from facezoo.models import RTParser

    model = RTParser(num_classes=11, input_size=(128, 128), heatmap_channel=True, width=0.25)
    template = facezoo.registry.get_preset("stn_icnn_helen").info
    model.info = dataclasses.replace(template, name="tiny_heatmap", input_size=(128, 128))
    return _spied(FaceParser(model, landmarks=landmarker))


def _spied(parser):
    """``parser`` with a list of every batch its model is given."""
    inputs, predict = [], parser.predict
    parser.predict = lambda batch: inputs.append(batch) or predict(batch)
    return parser, inputs


def test_a_heatmap_parser_is_fed_the_landmark_models_points_of_each_face(photo, landmarker):
    """Wei et al.'s landmark-heatmap input at inference: the fourth channel has its peaks
    where facezoo's landmark model, run on its own, puts the face's 68 points in the crop."""
    from facezoo.models.rtparser import landmark_heatmap

    parser, inputs = _heatmap_parser(landmarker)
    assert parser.landmarker is landmarker and FaceParser("icnn_lfw").landmarker is None
    result = parser.parse(photo)
    assert len(result.faces) == 1 and inputs[0].shape == (1, 128, 128, 4)
    points = apply(result.faces[0].transform, landmarker.detect(photo).faces[0].landmarks)
    assert (points > 0).all() and (points < 127).all()  # the whole face is inside the crop
    fed = inputs[0][0, ..., 3]
    np.testing.assert_allclose(fed, landmark_heatmap(points, (128, 128)), atol=1e-5)
    # a 3x3 square at each rounded point, blurred (sigma 2, separable, radius 6): bright on
    # every point (an isolated one keeps at least 0.147 of the peak), and nothing more than
    # 1 + 6 pixels from every rounded point along x or y
    rounded = np.round(points).astype(int)
    ys, xs = np.mgrid[:128, :128]
    chebyshev = np.maximum(np.abs(xs[..., None] - rounded[:, 0]), np.abs(ys[..., None] - rounded[:, 1])).min(-1)
    assert (fed[rounded[:, 1], rounded[:, 0]] > 0.1).all()
    assert fed[chebyshev > 7].max() == 0 and fed.max() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="landmark heatmap"):
        parser.probabilities(np.zeros((1, 128, 128, 3), np.uint8))  # the channel cannot be forgotten
    # Aligned crops (here at twice the model's size): the landmark model is given the face
    # the template puts there, not a detection, and the heatmap lands where the photo's did.
    aligned, aligned_inputs = _spied(FaceParser(parser.model, aligned=True, landmarks=landmarker,
                                                detector=lambda image: pytest.fail("detected an aligned crop")))
    crop = warp_to_crop(photo, result.faces[0].transform * 2, (256, 256))
    parsed = aligned.parse(crop)
    assert parsed.labels.shape == (256, 256) and not parsed.notes
    again = aligned_inputs[0][0, ..., 3]

    def centre(heat):
        ys, xs = np.mgrid[:128, :128]
        return np.array([(heat * xs).sum(), (heat * ys).sum()]) / heat.sum()

    assert np.corrcoef(fed.ravel(), again.ravel())[0, 1] > 0.6
    assert np.abs(centre(fed) - centre(again)).max() < 1.5  # pixels of the 128x128 input
    frames = [photo, np.roll(photo, 2, axis=1)]
    assert len([r for r in parser.parse_video(frames, smoothing=0.5)]) == 2  # points smoothed, too


def test_help_and_models_do_not_import_tensorflow():
    code = ("import sys; from facezoo.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('TF' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'LIGHT')")
    for args in (["--help"], ["models"], ["parse", "--help"]):
        run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)
        assert run.stdout.strip().endswith("LIGHT") and run.stderr == "", (args, run.stderr[-500:])


def test_import_facezoo_then_keras_registers_the_layers(tmp_path):
    code = ("import facezoo, sys; assert 'keras' not in sys.modules; import keras; "
            "print(keras.saving.get_registered_object('facezoo>ICNN').__name__)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.stdout.strip() == "ICNN", run.stderr[-1000:]


def test_cli_is_silent_and_prints_json_lines(photo, tmp_path):
    """No TensorFlow line on stderr without --verbose; --json gives one line per photo
    naming its outputs; the plain log line names every file written."""
    Image.fromarray(photo).save(tmp_path / "face.png")
    Image.fromarray(np.full((200, 300, 3), 200, np.uint8)).save(tmp_path / "wall.png")
    run = _run("parse", str(tmp_path), "--model", "icnn_lfw", "-o", str(tmp_path / "out"), "--json")
    assert run.returncode == 0 and run.stderr == "", run.stderr[-2000:]
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [len(line["faces"]) for line in lines] == [1, 0]
    assert lines[0]["outputs"]["labels.png"].endswith("face.labels.png") and os.path.exists(lines[0]["outputs"]["json"])
    run = _run("landmarks", str(tmp_path / "face.png"), "-o", str(tmp_path / "points"))
    assert run.returncode == 0 and run.stderr == "", run.stderr[-2000:]
    assert "face.json" in run.stdout and "face_face0.pts" in run.stdout
    quiet = _run("parse", str(tmp_path / "wall.png"), "--model", "icnn_lfw", "-o", str(tmp_path / "q"), "--quiet")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    verbose = _run("parse", str(tmp_path / "wall.png"), "--model", "icnn_lfw", "-o", str(tmp_path / "q"), "--verbose",
                   env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert verbose.returncode == 0 and verbose.stderr != ""
    bad = _run("parse", str(tmp_path / "wall.png"), "-o", str(tmp_path / "q"), "--min-score", "3")
    assert bad.returncode == 2 and "--min-score" in bad.stderr


def test_models_lists_every_dataset_whose_terms_bind_a_checkpoint(capsys):
    """A fine-tune carries its starting model's terms: stn_icnn_helen is HELEN's and
    CelebAMask-HQ's (non-commercial), not HELEN's alone."""
    from facezoo.cli import main

    assert main(["models"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    assert lines["stn_icnn_helen"].endswith("[HELEN + CelebAMask-HQ terms]")
    assert lines["icnn_lfw"].endswith("[LFW Part Labels terms]")
    # a parenthesis cut by the terms' own colon is closed; a model started from another carries its terms
    assert lines["adc_landmarks_helen194"].endswith(
        "[HELEN + HELEN with 300-W annotation + dlib's predictor (iBUG 300-W) + LFW Part Labels + CelebAMask-HQ terms]")


def test_aligned_landmarks_read_a_preset_framed_crop_without_detection(data_root, tmp_path, capsys):
    """A HELEN crop (the framing adc_landmarks_300w was trained on): `landmarks --aligned`
    gives the points the model gives for the whole image, with no detector involved (a
    detector that would raise proves it is not called); a grey image still gets one face."""
    from facezoo.cli import main
    from facezoo.data import Landmarks300W
    from facezoo.pipeline import LandmarkDetector

    sample = Landmarks300W(data_root / "helen68", "train")[0]
    image = np.asarray(Image.fromarray(sample.image).resize((512, 512)))  # square: the template is the resize
    model = facezoo.load("adc_landmarks_300w_fast", compile=False)
    whole = np.asarray(model(model.preprocess(image)))[0]

    def no_detector(photo):
        raise AssertionError("aligned: no detection")

    found = LandmarkDetector(model, detector=no_detector, aligned=True).detect(image)
    assert len(found.faces) == 1
    assert np.abs(found.faces[0].landmarks - whole).max() < 1.0
    one_call = facezoo.landmarks(image, model=model, detector=no_detector, aligned=True)
    np.testing.assert_allclose(one_call.faces[0].landmarks, found.faces[0].landmarks, atol=1e-3)
    eyes = np.linalg.norm(whole[36] - whole[45])
    assert np.linalg.norm(whole - sample.landmarks * 512 / np.array(sample.image.shape[1::-1]), axis=-1).mean() < (
        0.08 * eyes), "and they are the face's points"
    Image.fromarray(np.full((300, 300, 3), 128, np.uint8)).save(tmp_path / "grey.png")
    assert main(["landmarks", str(tmp_path / "grey.png"), "-o", str(tmp_path / "out"), "--aligned",
                 "--model", "adc_landmarks_300w_fast", "--quiet"]) == 0
    assert len(json.loads((tmp_path / "out" / "grey.json").read_text())["faces"]) == 1
    assert main(["landmarks", str(tmp_path / "grey.png"), "-o", str(tmp_path / "out"), "--aligned",
                 "--smoothing", "0.5"]) != 0
    assert "cannot be used with --aligned" in capsys.readouterr().err

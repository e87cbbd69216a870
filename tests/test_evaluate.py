"""`facezoo eval` and the evaluation loop, on fixtures and (when present) real LFW-PL."""

import json

import keras
import numpy as np
import pytest

from facezoo.cli import main
from facezoo.data import CelebAMask, Landmarks300W
from facezoo.evaluate import evaluate, evaluate_parsing, format_table
from fixtures import make_celebamask_merged, make_landmark_folder


class Oracle(keras.Model):
    """Returns one-hot scores of fixed label maps: a perfect parser for the fixtures."""

    def __init__(self, labels, num_classes):
        super().__init__()
        self.scores = keras.ops.one_hot(np.stack(labels), num_classes)
        self.num_classes = num_classes
        self.calls = 0

    def call(self, images, training=False):
        out = self.scores[self.calls : self.calls + images.shape[0]]
        self.calls += images.shape[0]
        return out


def test_perfect_parser_scores_one_and_remapping_to_helen(tmp_path):
    truth = make_celebamask_merged(tmp_path, count=3, size=(32, 32))
    data = CelebAMask(tmp_path, "test")
    oracle = Oracle([truth[i] for i in data.ids], 19)
    oracle.input_size = (32, 32)
    protocol, scores = evaluate(oracle, "celebamask", data, batch_size=2, progress=False)
    assert protocol == "celebamask" and scores["mean_f1"] == pytest.approx(1.0)
    assert "mean_f1" in format_table("t", scores)


def test_wrong_number_of_classes_is_a_clear_error(tmp_path):
    make_celebamask_merged(tmp_path, count=1, size=(32, 32))
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(5, 1)])
    with pytest.raises(ValueError, match="needs 19 class scores per pixel; the model returns shape"):
        evaluate_parsing(model, CelebAMask(tmp_path, "test"), "celebamask", progress=False)


def test_landmark_evaluation_in_original_pixels(tmp_path):
    """An oracle that returns the truth in its input's pixels (faces padded to a square,
    then resized) scores NME 0 at the nominal size, at R x R and at full resolution."""
    from facezoo.data.feeding import pad_to_square

    make_landmark_folder(tmp_path / "testset", count=2, size=(60, 50))
    data = Landmarks300W(tmp_path, "test")
    padded = [pad_to_square(s)[0] for s in data]

    class Points(keras.Model):
        input_size = (30, 25)

        def call(self, images, training=False):
            height, width = images.shape[1:3]
            side = padded[0].image.shape[0]
            return np.stack([(s.landmarks + 0.5) * [width / side, height / side] - 0.5 for s in padded])

    for resolution in (None, 40, "full"):
        kwargs = {} if resolution is None else {"resolution": resolution}
        if resolution == "full":
            padded = padded[:1]
            data.records = data.records[:1]
        protocol, scores = evaluate(Points(), "300w", data, progress=False, **kwargs)
        assert protocol == "300w" and scores["nme_inter_ocular"] == pytest.approx(0.0, abs=1e-4), resolution
    with pytest.raises(ValueError, match="resolution must be"):
        evaluate(Points(), "300w", data, progress=False, resolution=8)


def test_landmark_evaluation_on_helens_194_points_and_the_wrong_scheme(tmp_path):
    """HELEN's 194 points are scored like 300-W's 68 (normalised by the outer eye corners);
    a model of the other scheme is refused, naming both counts."""
    from facezoo.data import HelenContourPoints
    from fixtures import make_helen_contours

    make_helen_contours(tmp_path)
    data = HelenContourPoints(tmp_path, "test")
    truth = data[0].landmarks

    class Points(keras.Model):
        input_size = (64, 64)
        shift = 0.0

        def call(self, images, training=False):
            return np.stack([truth + self.shift] * images.shape[0])

    model = Points()
    protocol, scores = evaluate(model, "helen194", data, progress=False)
    assert protocol == "helen194" and scores["nme_inter_ocular"] == pytest.approx(0.0, abs=1e-4)
    model.shift = np.array([3.0, 0.0])  # every point 3 px right: 3 / 30 px between the fixture's outer eye corners
    assert evaluate(model, "helen194", data, progress=False)[1]["nme_inter_ocular"] == pytest.approx(10.0, rel=1e-4)
    model.call = lambda images, training=False: np.zeros((images.shape[0], 68, 2), np.float32)
    with pytest.raises(ValueError, match=r"must return \(B, 194, 2\) points for these faces; got shape \(1, 68, 2\)"):
        evaluate(model, "helen194", data, progress=False)


def test_cli_eval_fresh_icnn_on_lfw_pl(data_root, tmp_path, capsys):
    out = tmp_path / "scores.json"
    code = main(["eval", "icnn", "--dataset", "lfw_pl", "--data", str(data_root / "lfw_pl"),
                 "--split", "test", "--limit", "16", "--json", str(out)])
    assert code == 0
    table = capsys.readouterr().out
    assert "icnn on lfw_pl/test (16 faces, lfw_pl protocol)" in table
    for row in ("pixel_accuracy", "f1/background", "f1/skin", "f1/hair"):
        assert row in table
    payload = json.loads(out.read_text())
    assert payload["samples"] == 16 and 0 <= payload["scores"]["pixel_accuracy"] <= 1
    assert np.asarray(payload["scores"]["confusion_matrix"]).sum() == 16 * 250 * 250


def test_cli_eval_errors(tmp_path, capsys):
    assert main(["eval", "icnn", "--dataset", "lfw_pl", "--data", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    make_celebamask_merged(tmp_path, count=1)
    assert main(["eval", "nonet", "--dataset", "celebamask", "--data", str(tmp_path)]) == 2
    assert "unknown model 'nonet'" in capsys.readouterr().err


class _Spy(keras.Model):
    """A 'parser' that takes a landmark heatmap and records what it was fed."""

    heatmap_channel = True

    def __init__(self, info=None):
        super().__init__()
        self.inputs_seen = []
        self.info = info or type("Info", (), {"alignment": None})()

    def call(self, images, training=False):
        self.inputs_seen.append(keras.ops.convert_to_numpy(images))
        return keras.ops.zeros((*images.shape[:3], 11))


def test_a_heatmap_parser_is_evaluated_with_ground_truth_or_given_landmarks():
    """The heatmap channel comes from the samples' points (scaled with the face) or from a
    landmark detector run on each face image, never silently left out."""
    from facezoo.data import Sample
    from facezoo.evaluate import predict_scores
    from facezoo.models.rtparser import landmark_heatmap

    points = np.array([[10.0, 20.0], [40.0, 30.0]], np.float32)
    sample = Sample("a", np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64), np.int32), points)
    spy = _Spy()
    predict_scores(spy, [sample], (32, 32), heatmap_points="ground_truth")
    fed = spy.inputs_seen[-1]
    assert fed.shape == (1, 32, 32, 4)
    np.testing.assert_allclose(fed[0, ..., 3], landmark_heatmap((points + 0.5) / 2 - 0.5, (32, 32)))

    class Found:  # a LandmarkDetector stand-in: one face, its points in the image it was given
        def __init__(self):
            self.given = []

        def detect(self, image):
            assert image.shape == (32, 32, 3)
            return type("R", (), {"faces": [type("F", (), {"landmarks": np.array([[5.0, 6.0]])})]})

        def locate(self, image, detections):
            self.given.append(detections)
            return self.detect(image)

    found = Found()
    predict_scores(spy, [sample], (32, 32), heatmap_points=found)
    assert np.unravel_index(spy.inputs_seen[-1][0, ..., 3].argmax(), (32, 32)) == (6, 5) and not found.given
    # a model with a template: the landmark model is given the face the template puts in the crop
    import facezoo.registry

    info = facezoo.registry.get_preset("stn_icnn_helen").info.replace(input_size=(32, 32))
    predict_scores(_Spy(info), [sample], (32, 32), heatmap_points=found)
    (detection,), = found.given
    np.testing.assert_allclose(detection.keypoints, np.asarray(info.alignment["keypoints"]) * 32, atol=1e-4)
    with pytest.raises(ValueError, match="heatmap_points"):
        predict_scores(spy, [sample], (32, 32), heatmap_points="guess")
    with pytest.raises(ValueError, match="heatmap_points"):  # refused for any parser, not only heatmap ones
        evaluate_parsing(keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(11, 1)]),
                         [sample], "helen", heatmap_points="guess")

"""The landmark-peer benchmark's own arithmetic, and dlib staying an optional extra.

The benchmark itself is run by hand (benchmarks/landmarks_peers.py); these tests only
check the pieces its numbers rest on: the box-convention fit that maps a ground-truth
box to each detector's convention, the NME, and that a missing dlib is reported with the
line that installs it rather than a traceback.
"""

import subprocess
import sys
import tomllib

import numpy as np
import pytest

from conftest import REPO
from helpers import script_module


@pytest.fixture(scope="module")
def peers():
    return script_module("benchmarks", "landmarks_peers")


def test_box_fit_recovers_a_known_convention(peers):
    rng = np.random.default_rng(0)
    corner, size = rng.uniform(0, 500, (50, 2)), rng.uniform(50, 400, (50, 2))
    tight = np.hstack([corner, corner + size])
    truth = [0.05, -0.09, 1.05, 1.3]  # centre offsets and size ratios, in tight-box units
    detected = np.stack([peers.apply_mapping(truth, box) for box in tight])
    detected[:5] += rng.uniform(-80, 80, (5, 4))  # a few bad detections: the median ignores them
    fitted = peers.box_mapping(detected, tight)
    np.testing.assert_allclose(fitted, truth, atol=1e-9)
    np.testing.assert_allclose(peers.apply_mapping(fitted, tight[7]), detected[7], atol=1e-6)


def test_matching_takes_the_best_overlap_above_the_threshold(peers):
    expected = np.array([100.0, 100.0, 200.0, 200.0])
    boxes = [np.array([400.0, 400.0, 500.0, 500.0]), np.array([110.0, 105.0, 205.0, 210.0])]
    assert peers._match(boxes, expected, 0.4) == 1
    assert peers._match(boxes[:1], expected, 0.4) is None  # another face is not the annotated one
    assert peers._match([], expected, 0.4) is None


def test_nme_by_region_is_in_percent_of_the_outer_eye_corners(peers):
    true = np.zeros((68, 2))
    true[36], true[45] = (0.0, 0.0), (100.0, 0.0)  # inter-ocular distance 100 px
    predicted = true.copy()
    predicted[0:17] += (3.0, 4.0)  # every jaw point 5 px off
    nme, regions, iod = peers.per_face_scores(predicted, true)
    assert iod == 100.0
    assert regions["jaw"] == pytest.approx(5.0) and regions["eyes"] == 0.0
    assert nme == pytest.approx(5.0 * 17 / 68)


def test_end_to_end_times_are_binned_by_photo_size(peers):
    """Each method's median end-to-end time within each photo-size bin, from the photos in it
    alone (the size is a photo's, whatever its face)."""
    true = np.zeros((68, 2))
    true[36], true[45] = (0.0, 0.0), (100.0, 0.0)
    megapixels = {"a": 0.3, "b": 1.2, "c": 2.0, "d": 12.0}
    seconds = {"a": 0.1, "b": 0.3, "c": 0.5, "d": 2.0}
    faces = {i: {"dlib": {"points": true, "total_cpu": t}} for i, t in seconds.items()}
    rows, _ = peers.summarise(["dlib"], faces, {i: true for i in faces}, ["dlib"], megapixels=megapixels)
    by_size = rows["dlib"]["ms_total_cpu_median_by_photo_size"]
    assert list(by_size) == ["0-1.5 MP", "1.5-4 MP", "4-8 MP", "8+ MP"]
    assert by_size["0-1.5 MP"] == {"photos": 2, "ms": pytest.approx(200.0)}
    assert by_size["1.5-4 MP"] == {"photos": 1, "ms": pytest.approx(500.0)}
    assert by_size["4-8 MP"] == {"photos": 0, "ms": None} and by_size["8+ MP"]["ms"] == pytest.approx(2000.0)


def test_missing_dlib_says_how_to_install_it(peers, monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib -> ImportError
    with pytest.raises(SystemExit) as exit_info:
        peers._peers()
    assert 'pip install -e ".[peers]"' in str(exit_info.value)


def test_dlib_is_an_optional_extra_never_a_runtime_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if "dlib" in d or "face-recognition" in d]
    assert {d.split(">")[0] for d in project["optional-dependencies"]["peers"]} == {
        "dlib-bin", "face-recognition-models"}
    code = "import sys, facezoo; facezoo.load('adc_landmarks_300w'); print('dlib' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "False"


def test_dlib_pseudo_label_boxes_for_test_time_augmentation():
    recipe = script_module("recipes", "dlib_pseudo_landmarks")
    boxes = np.array(recipe.augmented_boxes((100, 200, 300, 400), shift=0.05, scale=0.1))
    assert boxes.shape == (7, 4) and tuple(boxes[0]) == (100, 200, 300, 400)
    centres, sides = (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]
    np.testing.assert_allclose(centres[1:5] - (200, 300), [(10, 0), (-10, 0), (0, 10), (0, -10)])
    np.testing.assert_allclose(sides[:, 0], [200] * 5 + [220, 180])
    np.testing.assert_allclose(sides[:, 1], sides[:, 0])


def test_dlib_pseudo_labels_land_on_the_annotated_points(data_root, tmp_path):
    """recipes/dlib_pseudo_landmarks.py on three HELEN training photos: the PointList it
    writes holds dlib's points, which sit within a few percent of 300-W's annotation; with
    ``--tta`` within 2 % of the eye distance of the plain points (a mirrored prediction put
    back in the wrong order moves them by about 9 %)."""
    pytest.importorskip("dlib")
    pytest.importorskip("face_recognition_models")
    from facezoo.data import PointList, read_pts

    labelled = {}
    for name, extra in (("plain", []), ("tta", ["--tta"])):
        out = tmp_path / name / "pseudo.json"
        out.parent.mkdir()
        result = subprocess.run([sys.executable, str(REPO / "recipes" / "dlib_pseudo_landmarks.py"),
                                 "--root", str(data_root / "helen68"), "--folder", "trainset", "--limit", "3",
                                 "--out", str(out)] + extra, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        labelled[name] = PointList(data_root / "helen68", out)
        assert len(labelled[name]) == 3
        assert [p.name for p in out.parent.iterdir()] == ["pseudo.json"]  # no temporary left beside it
    for face, tta, (_, path, crop, _), (*_, tta_crop, _) in zip(labelled["plain"], labelled["tta"],
                                                               labelled["plain"].records, labelled["tta"].records):
        truth = read_pts(path.replace(".jpg", ".pts"))
        truth_in_crop = truth - np.round(crop[:2])
        eyes = np.linalg.norm(truth[36] - truth[45])
        assert np.linalg.norm(face.landmarks - truth_in_crop, axis=1).mean() / eyes < 0.08
        assert face.image.shape[0] == face.image.shape[1] == int(round(crop[2]))
        tta_points = tta.landmarks + np.round(tta_crop[:2]) - np.round(crop[:2])  # in the plain crop's pixels
        assert np.linalg.norm(tta_points - face.landmarks, axis=1).mean() / eyes < 0.02


def test_facezoo_worker_times_the_landmark_step_of_a_reused_detector(data_root, tmp_path):
    """The benchmark's facezoo worker on one HELEN test photo: points through MTCNN and from
    the box, and the landmark step timed through the pipeline's compiled predict (a worker
    that timed an eager model call broke when the pipeline began compiling it)."""
    import json

    fit = tmp_path / "fit.json"
    # MTCNN's box convention as the benchmark fitted it on 200 training photos
    fit.write_text(json.dumps({"mtcnn": {"mapping": [-0.014, -0.174, 0.95, 1.291]}}))
    out = tmp_path / "facezoo.json"
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "landmarks_peers.py"), "--data",
                          str(data_root / "helen68"), "--limit", "1", "--fit", str(fit), "--worker", "facezoo",
                          "--preset", "adc_landmarks_300w", "--method", "facezoo", "--out", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    (face,) = json.loads(out.read_text())["faces"].values()
    for method in ("facezoo", "facezoo/box"):
        assert np.asarray(face[method]["points"]).shape == (68, 2), face[method]
        assert 0 < face[method]["step_cpu"] <= face[method]["total_cpu"], face[method]

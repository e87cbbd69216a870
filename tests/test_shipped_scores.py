"""The shipped checkpoints still score what their cards say, on a slice of real faces.

Each bound sits about half a point under the score the shipped file gets on that slice
(measured when it was shipped), so a broken checkpoint, preprocessing or preset config
fails while float rounding across machines does not.
"""

import pytest

import facezoo
from facezoo.data import CelebAMask, Landmarks300W, LFWPartLabels
from facezoo.evaluate import evaluate_landmarks, evaluate_parsing

# pixel accuracy on the first 48 validation faces when shipped: icnn_lfw 96.04 %, rtparser_lfw
# 95.82 %, rtparser_lfw_student 94.63 %
PARSERS = {"icnn_lfw": 0.955, "rtparser_lfw": 0.953, "rtparser_lfw_student": 0.941}
# pixel accuracy on the first 16 CelebAMask-HQ test faces when shipped: rtparser_celebamask 91.35 %
CELEBAMASK_PARSERS = {"rtparser_celebamask": 0.908}
# NME % on the first 24 test faces at 512x512 when shipped: ADC 5.06, holistic 7.75
LANDMARKS = {"adc_landmarks_300w": 5.5, "holistic_landmarks_300w": 8.3}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_shipped_lfw_parsers_keep_their_accuracy(name, data_root):
    scores = evaluate_parsing(facezoo.load(name, compile=False), LFWPartLabels(data_root / "lfw_pl", "val"),
                              "lfw_pl", limit=48, progress=False)
    assert scores["pixel_accuracy"] >= PARSERS[name], scores


@pytest.mark.parametrize("name", sorted(CELEBAMASK_PARSERS))
def test_shipped_celebamask_parsers_keep_their_accuracy(name, data_root):
    scores = evaluate_parsing(facezoo.load(name, compile=False), CelebAMask(data_root / "celebamask_subset", "test"),
                              "celebamask", limit=16, progress=False)
    assert scores["pixel_accuracy"] >= CELEBAMASK_PARSERS[name], scores


def test_shipped_landmark_models_keep_their_nme_and_adc_beats_holistic(data_root):
    faces = Landmarks300W(data_root / "helen68", "test")
    nme = {name: evaluate_landmarks(facezoo.load(name, compile=False), faces, limit=24,
                                    progress=False)["nme_inter_ocular"] for name in LANDMARKS}
    for name, bound in LANDMARKS.items():
        assert nme[name] <= bound, nme
    assert nme["adc_landmarks_300w"] < 0.8 * nme["holistic_landmarks_300w"], nme

"""The STN-iCNN gap benchmark's geometry ceiling (benchmarks/stn_icnn_gap.py): exact part
probabilities through a model's own crop and paste give back the labels wherever a part
fits its crop window, and lose what lies outside it."""

import numpy as np
import pytest

from facezoo.models import STNiCNN
from facezoo.models.stn_icnn.schedule import SMOKE_STN_CONFIG
from helpers import script_module


@pytest.fixture(scope="module")
def gap():
    return script_module("benchmarks", "stn_icnn_gap")


def _face(model, mouth_width):
    """A 96x96 label map: skin, two brows, two eyes, a nose and a three-class mouth."""
    labels = np.full((1, 96, 96), model.class_names.index("skin"), np.int32)
    for name, (y0, y1, x0, x1) in {"r_brow": (20, 24, 18, 34), "l_brow": (20, 24, 62, 78),
                                   "r_eye": (30, 35, 20, 32), "l_eye": (30, 35, 64, 76),
                                   "nose": (44, 56, 42, 54)}.items():
        labels[0, y0:y1, x0:x1] = model.class_names.index(name)
    left = 48 - mouth_width // 2
    for name, (y0, y1) in {"u_lip": (66, 69), "i_mouth": (69, 71), "l_lip": (71, 75)}.items():
        labels[0, y0:y1, left:left + mouth_width] = model.class_names.index(name)
    return labels


def test_the_geometry_ceiling_gives_back_parts_that_fit_their_crop(gap):
    model = STNiCNN(**SMOKE_STN_CONFIG)  # 21x21 crops at the image's own resolution
    labels = _face(model, mouth_width=17)
    predicted = gap.perfect_probabilities(model, labels).argmax(-1)
    np.testing.assert_array_equal(predicted, labels)


def test_the_geometry_ceiling_loses_what_a_crop_cannot_hold(gap):
    model = STNiCNN(**SMOKE_STN_CONFIG)
    labels = _face(model, mouth_width=33)  # wider than the 21-pixel window
    predicted = gap.perfect_probabilities(model, labels).argmax(-1)
    mouth = np.isin(labels, [model.class_names.index(n) for n in ("u_lip", "i_mouth", "l_lip")])
    kept = (predicted == labels)[mouth].mean()
    assert 0.55 < kept < 0.75, kept  # about 21 of 33 columns
    outside = mouth[0].copy()
    outside[:, 38:59] = False  # the window, centred on the mouth
    assert not (predicted[0] == labels[0])[outside].any()


def test_fixed_crops_sit_at_each_parts_mean_centre_over_the_faces_that_have_it(gap):
    from types import SimpleNamespace

    model = STNiCNN(**SMOKE_STN_CONFIG)
    first, second = _face(model, mouth_width=17), _face(model, mouth_width=17)
    second[0] = np.roll(second[0], (4, 6), axis=(0, 1))  # every part 4 px lower, 6 px right
    third = _face(model, mouth_width=17)
    third[third == model.class_names.index("nose")] = model.class_names.index("skin")  # no nose
    third[0] = np.roll(third[0], (-8, 0), axis=(0, 1))
    faces = [SimpleNamespace(labels=f[0]) for f in (first, second, third)]
    centres = gap.mean_part_centres(model, faces, limit=None)
    thetas = [model.centroid_thetas(f)[0, :, :, 2] for f in (first, second, third)]
    nose = [i for i, spec in enumerate(model.parts) if spec.name == "nose"][0]
    expected = np.mean(thetas, axis=0)
    expected[nose] = np.mean([thetas[0][nose], thetas[1][nose]], axis=0)  # the face without one left out
    np.testing.assert_allclose(centres, expected, atol=1e-6)
    assert len(gap.mean_part_centres(model, faces, limit=1)) == len(model.parts)

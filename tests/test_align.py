"""Similarity alignment, warping into a crop and mapping crops back onto the photo."""

import numpy as np
import pytest
from PIL import Image

from facezoo.align import (apply, box_transform, invert, paste_probabilities, similarity_transform,
                           warp_to_crop)


def _similarity(angle, scale, tx, ty):
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, tx], [s, c, ty]])


def test_similarity_transform_recovers_a_known_one_and_never_reflects():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 500, (5, 2))
    truth = _similarity(0.3, 0.42, 17.0, -5.5)
    np.testing.assert_allclose(similarity_transform(source, apply(truth, source)), truth, atol=1e-9)
    mirrored = apply(truth, source) * [-1, 1]  # a mirror image is not a similarity
    fit = similarity_transform(source, mirrored)
    assert np.linalg.det(fit[:, :2]) > 0
    np.testing.assert_allclose(apply(invert(truth), apply(truth, source)), source, atol=1e-9)


def test_similarity_transform_refuses_bad_points():
    with pytest.raises(ValueError, match="matching"):
        similarity_transform(np.zeros((5, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="one place"):
        similarity_transform(np.ones((5, 2)), np.random.rand(5, 2))
    with pytest.raises(ValueError, match="finite"):
        similarity_transform(np.full((5, 2), np.nan), np.random.rand(5, 2))


def test_an_integer_shift_crops_exactly_the_slice():
    image = np.random.default_rng(1).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    crop = warp_to_crop(image, [[1, 0, -13], [0, 1, -7]], (20, 30))
    np.testing.assert_array_equal(crop, image[7:27, 13:43])


@pytest.mark.parametrize("transform", [
    [[1, 0, -13], [0, 1, -7]],                    # an integer shift
    [[0.5, 0, -3.25], [0, 0.5, -1.75]],           # exactly half size (bilinear weights of 0.5)
    [[2.0, 0, -40.0], [0, 2.0, -30.0]],           # twice the size
    [[0.95, -0.31, 10.0], [0.31, 0.95, -20.0]],   # rotated
    [[0.24, 0.03, 1.0], [-0.03, 0.24, 2.0]],      # a big face: reduced 4x first
    [[0.09, 0.0, -0.4], [0.0, 0.09, 0.3]],        # reduced 11x, its last block partial
])
def test_the_crop_is_the_whole_photos_warp(transform):
    """warp_to_crop hands PIL only the region the crop sees: the same pixels as warping
    (and box-reducing) the whole photo, as it did before."""
    from facezoo.align import _pil_coefficients

    image = np.random.default_rng(5).integers(0, 256, (333, 421, 3), dtype=np.uint8)
    transform = np.asarray(transform, np.float64)
    scale = np.sqrt(abs(np.linalg.det(transform[:, :2])))
    factor = int(1.0 / scale) if scale < 0.5 else 1
    source = Image.fromarray(image).reduce(factor) if factor > 1 else Image.fromarray(image)
    to_photo = np.array([[factor, 0, (factor - 1) / 2], [0, factor, (factor - 1) / 2], [0, 0, 1]])
    expected = np.asarray(source.transform((64, 48), Image.AFFINE, _pil_coefficients(transform @ to_photo),
                                           Image.BILINEAR))
    np.testing.assert_array_equal(warp_to_crop(image, transform, (48, 64)), expected)


def test_a_crop_off_the_photo_is_black():
    image = np.full((50, 60, 3), 200, np.uint8)
    crop = warp_to_crop(image, [[1, 0, 500], [0, 1, 0]], (20, 30))
    assert crop.shape == (20, 30, 3) and crop.dtype == np.uint8 and not crop.any()


def test_a_big_face_is_box_filtered_not_aliased():
    """A 4x downscale equals PIL's box-filtered resize, where plain bilinear sampling of a
    fine stripe pattern would alias."""
    stripes = np.zeros((400, 400, 3), np.uint8)
    stripes[:, ::2] = 255
    crop = warp_to_crop(stripes, [[0.25, 0, 0.25 * 0.5 - 0.5], [0, 0.25, 0.25 * 0.5 - 0.5]], (100, 100))
    reference = np.asarray(Image.fromarray(stripes).resize((100, 100), Image.BOX))
    assert np.abs(crop.astype(int) - reference).mean() < 2
    assert abs(crop.mean() - 127.5) < 3


def test_crop_then_paste_returns_the_shape_to_the_photo():
    """A disc in the photo, cropped through a rotation + scale, labelled in the crop and
    pasted back, lands on the original disc (IoU > 0.95)."""
    yy, xx = np.mgrid[0:300, 0:400]
    disc = (xx - 230) ** 2 + (yy - 140) ** 2 < 50 ** 2
    photo = np.where(disc[..., None], 255, 0).astype(np.uint8).repeat(3, -1)
    transform = _similarity(0.4, 0.6, -60.0, -60.0)  # the disc lands whole inside the crop
    crop = warp_to_crop(photo, transform, (128, 128))
    probs = np.stack([1 - crop[..., 0] / 255.0, crop[..., 0] / 255.0], -1).astype(np.float32)
    (x0, y0, x1, y1), back, inside = paste_probabilities(probs, transform, photo.shape[:2])
    pasted = np.zeros(disc.shape, bool)
    pasted[y0:y1, x0:x1] = inside & (back.argmax(-1) == 1)
    assert (pasted & disc).sum() / (pasted | disc).sum() > 0.95


def test_paste_near_and_past_the_border():
    probs = np.full((32, 32, 2), 0.5, np.float32)
    window, back, inside = paste_probabilities(probs, [[1, 0, 10], [0, 1, 10]], (50, 50))  # crop starts at -10
    assert window == (0, 0, 22, 22) and back.shape[:2] == inside.shape == (22, 22) and inside.all()
    window, back, inside = paste_probabilities(probs, [[1, 0, 500], [0, 1, 0]], (50, 50))  # entirely outside
    assert back.size == 0 and not inside.any()


def test_box_transform_maps_a_box_onto_the_template_box():
    transform = box_transform((100, 50, 300, 250), (0.25, 0.25, 0.75, 0.75), (128, 128))
    np.testing.assert_allclose(apply(transform, [[100, 50], [300, 250]]), [[32, 32], [96, 96]])


@pytest.mark.parametrize("classes, concentration", [(19, 0.3), (19, 5.0), (11, 1.0), (3, 1.0), (2, 1.0)])
def test_the_candidate_class_blend_gives_the_full_blends_argmax(classes, concentration):
    """paste_labels' short path (only the classes that can win in each cell) against the
    blend of every class, on random distributions: peaked ones (few candidates per cell,
    the short path) and flat ones (many candidates, the full path), at any sub-pixel point
    and through a rotation with the crop's clipped border included."""
    from facezoo.align import _bilinear, _bilinear_argmax

    rng = np.random.default_rng(classes)
    probabilities = rng.dirichlet(np.full(classes, concentration), size=(40, 30)).astype(np.float32)
    xs, ys = rng.uniform(-0.4, 29.4, 50000), rng.uniform(-0.4, 39.4, 50000)
    angle = np.deg2rad(7.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 2.0], [np.sin(angle), np.cos(angle), -1.5]])
    for transform in (np.array([[1.0, 0, 0], [0, 1.0, 0]]), rotation):
        expected = _bilinear(probabilities, transform, xs, ys).argmax(-1)
        np.testing.assert_array_equal(_bilinear_argmax(probabilities, transform, xs, ys), expected)


def test_the_candidate_class_blend_survives_float_ties_and_nan():
    """Classes one float32 step apart (the full blend's rounding decides) and a NaN cell."""
    from facezoo.align import _bilinear, _bilinear_argmax

    near = np.float32(0.45)
    cell = np.array([near, np.nextafter(near, np.float32(1)), 0.1], np.float32)
    probabilities = np.tile(cell, (2, 2, 1))
    rng = np.random.default_rng(0)
    xs, ys = rng.uniform(0, 1, 20000), rng.uniform(0, 1, 20000)
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    expected = _bilinear(probabilities, identity, xs, ys).argmax(-1)
    assert len(set(expected)) == 2  # rounding makes both classes win somewhere
    np.testing.assert_array_equal(_bilinear_argmax(probabilities, identity, xs, ys), expected)
    probabilities[0, 0, 2] = np.nan
    expected = _bilinear(probabilities, identity, xs, ys).argmax(-1)
    np.testing.assert_array_equal(_bilinear_argmax(probabilities, identity, xs, ys), expected)


def _smooth_logits(seed, size=40, classes=7):
    """Smooth random class scores: regions of several classes with curved boundaries."""
    coarse = np.random.default_rng(seed).normal(size=(6, 6, classes)).astype(np.float32)
    return 4 * np.stack([np.asarray(Image.fromarray(coarse[..., c]).resize((size, size), Image.BICUBIC))
                         for c in range(classes)], -1)


def test_pasting_logits_gives_the_labels_of_their_softmax():
    """The paste given logits (its softmax taken only where it blends) equals the paste of
    the full softmax: one large face (sub-cells), and two overlapping faces (the surer one
    decided from background probabilities at the overlap only)."""
    from facezoo.align import paste_faces, paste_labels
    from facezoo.pipeline import _softmax

    first, second = _smooth_logits(1), _smooth_logits(2)
    big = _similarity(0.2, 1 / 13.8, 3.0, 2.0)
    window, labels = paste_labels(first, big, (600, 600), logits=True)
    expected_window, expected = paste_labels(_softmax(first.copy()), big, (600, 600))
    assert window == expected_window and len(np.unique(expected)) >= 4
    np.testing.assert_array_equal(labels, expected)
    faces = [(first, _similarity(0.1, 0.25, -2.0, -1.0)), (second, _similarity(-0.1, 0.3, -20.0, -8.0))]
    pasted = paste_faces(faces, (220, 260), logits=True)
    expected = paste_faces([(_softmax(f.copy()), t) for f, t in faces], (220, 260))
    np.testing.assert_array_equal(pasted, expected)
    alone = paste_faces(faces[:1], (220, 260), logits=True)
    assert (pasted != alone).mean() > 0.05  # the second face does overlap the first


@pytest.mark.parametrize("photo_pixels_per_crop_pixel", [1.6, 7.0, 13.8])
def test_paste_labels_is_the_full_blends_argmax_at_every_face_size(photo_pixels_per_crop_pixel):
    """paste_labels (the code image, its sub-cells where the face is large, the candidate
    blend) against every class blended at every photo pixel the crop covers, for a small,
    a large and a very large face (an 11 MP close-up: 13.8), rotated; only pixels a hair
    from a cell edge, where PIL's nearest warp and numpy round differently, may differ."""
    from facezoo.align import _bilinear, _window_to_source, paste_labels

    probabilities = np.exp(_smooth_logits(int(photo_pixels_per_crop_pixel * 10)))
    probabilities = (probabilities / probabilities.sum(-1, keepdims=True)).astype(np.float32)
    scale = 1.0 / photo_pixels_per_crop_pixel
    transform = _similarity(0.2, scale, 3.0, 2.0)  # photo -> crop, the crop well inside the photo
    side = int(60 * photo_pixels_per_crop_pixel)
    (x0, y0, x1, y1), labels = paste_labels(probabilities, transform, (side, side))
    to_crop = _window_to_source(transform, x0, y0)
    yy, xx = np.mgrid[0:y1 - y0, 0:x1 - x0]
    xs, ys = xx.ravel().astype(np.float64), yy.ravel().astype(np.float64)
    u, v = apply(to_crop, np.stack([xs, ys], -1)).T
    inside = (u >= 0) & (u <= 39) & (v >= 0) & (v <= 39)
    expected = _bilinear(probabilities, to_crop, xs[inside], ys[inside]).argmax(-1)
    assert len(np.unique(expected)) >= 5
    differ = labels.ravel()[inside] != expected
    assert differ.mean() < 1e-4
    off = np.flatnonzero(differ)
    edge = np.minimum(np.abs(u[inside][off] - np.round(u[inside][off])), np.abs(v[inside][off] - np.round(v[inside][off])))
    assert (edge < 0.005).all()


@pytest.mark.parametrize("swap", [False, True])
def test_overlapping_faces_keep_labels_only_one_gives_and_the_surer_wins_the_rest(swap):
    """Face A (photo columns 0-19) calls everything class 1, barely (0.55); face B (columns
    10-29) calls its left part background, though only at 0.4 (it is surer than A that
    something is there: 0.6), and its right part class 2 at 0.95. Where A labels and B says
    background, A's label stays; where both label, the surer B wins; in either order."""
    from facezoo.align import paste_faces

    a = np.tile(np.float32([0.45, 0.55, 0.0]), (20, 20, 1))
    b = np.tile(np.float32([0.4, 0.3, 0.3]), (20, 20, 1))
    b[:, 4:] = [0.05, 0.0, 0.95]
    b[:2] = [0.05, 0.0, 0.95]  # a labelled strip on top: B's window starts at its crop's left edge
    faces = [(a, np.array([[1.0, 0, 0], [0, 1.0, 0]])), (b, np.array([[1.0, 0, -10], [0, 1.0, 0]]))]
    labels = paste_faces(faces[::-1] if swap else faces, (20, 40))
    assert (labels[4:18, 1:9] == 1).all()     # A alone
    assert (labels[4:18, 11:14] == 1).all()   # A labels, B calls it background (the old rule: 0)
    assert (labels[4:18, 16:19] == 2).all()   # both label: B is surer
    assert (labels[4:18, 21:29] == 2).all()   # B alone

"""Augmentation of the STN-iCNN paper, applied consistently to image, labels and landmarks.

One random similarity transform per sample (rotation within +-15 degrees, shift, scale
0.8-1.5 about the image centre) warps the image bilinearly, the label map with nearest
neighbour (outside the image: background) and the landmarks exactly; Gaussian noise then
touches the image only. A horizontal flip swaps left/right classes and landmark indices.
Everything is seeded: the same seed gives the same samples.

Example:
    >>> aug = Augmenter(class_map="helen", seed=0)
    >>> sample = aug(sample, rng=np.random.default_rng([0, epoch, index]))
"""

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from facezoo.classmaps import FLIP_68, MIRRORS, flip_permutation, get_class_map  # noqa: F401 (FLIP_68: API)

def similarity_matrix(angle_deg, scale, shift_xy, center_xy):
    """3x3 matrix mapping source pixels to target pixels: rotate/scale about ``center``, then shift."""
    a = np.deg2rad(angle_deg)
    cos, sin = np.cos(a) * scale, np.sin(a) * scale
    cx, cy = center_xy
    tx, ty = shift_xy
    return np.array(
        [[cos, -sin, cx - cos * cx + sin * cy + tx], [sin, cos, cy - sin * cx - cos * cy + ty], [0, 0, 1]],
        dtype=np.float64,
    )


def warp_image(image, matrix, size, resample=Image.BILINEAR, fill=0):
    """Warp an (H, W[, C]) array by a 3x3 source->target matrix into ``size = (H, W)``."""
    inverse = np.linalg.inv(matrix)
    # PIL samples source (x, y) = inverse @ (target pixel centre); pixel centres at +0.5.
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    unshift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    coeffs = (shift @ inverse @ unshift)[:2].ravel()
    height, width = size
    if image.dtype == np.uint8:
        pil = Image.fromarray(image)
    else:
        pil = Image.fromarray(image.astype(np.int32), mode="I")
    out = pil.transform((width, height), Image.AFFINE, data=tuple(coeffs), resample=resample, fillcolor=fill)
    return np.asarray(out, dtype=image.dtype)


def warp_sample(sample, matrix, size):
    """Warp a sample's image (bilinear), labels (nearest, background outside) and landmarks."""
    image = warp_image(sample.image, matrix, size, Image.BILINEAR)
    labels = None if sample.labels is None else warp_image(sample.labels.astype(np.int32), matrix, size, Image.NEAREST)
    def move(points):
        if points is None:
            return None
        return (np.concatenate([points, np.ones((len(points), 1))], axis=1) @ matrix.T)[:, :2].astype(np.float32)

    return replace(sample, image=image, labels=labels, landmarks=move(sample.landmarks), contours=move(sample.contours))


def flip_sample(sample, class_map=None):
    """Mirror a sample left-right, swapping l_/r_ classes and the points' indices (iBUG's 68
    or HELEN's 194, :data:`facezoo.classmaps.MIRRORS`; a sample with points of another
    scheme cannot be flipped: its mirror order is unknown)."""
    image = sample.image[:, ::-1].copy()
    labels = None
    if sample.labels is not None:
        perm = flip_permutation(class_map) if class_map is not None else None
        labels = sample.labels[:, ::-1]
        if perm is not None:  # unknown (negative) labels stay unknown
            labels = np.where(labels < 0, labels, perm[np.maximum(labels, 0)])
        labels = labels.astype(np.int32)
    width = sample.image.shape[1]
    return replace(sample, image=image, labels=labels, landmarks=_mirrored(sample.landmarks, width),
                   contours=_mirrored(sample.contours, width))


def _mirrored(points, width):
    if points is None:
        return None
    if len(points) not in MIRRORS:
        raise ValueError(f"cannot flip {len(points)} points: their mirror order is known for "
                         f"{' and '.join(map(str, MIRRORS))} points only (turn flips off)")
    points = np.array(points, copy=True)
    points[:, 0] = width - 1 - points[:, 0]
    return points[MIRRORS[len(points)]]


@dataclass
class Augmenter:
    """The paper's augmentation; ``flip`` is off by default (the paper does not flip).

    Args:
        class_map: the labels' class map (needed to swap sides when flipping).
        max_rotation: degrees, uniform in +-max_rotation.
        max_shift: fraction of the image size, uniform in +-max_shift per axis.
        scale_range: uniform scale range.
        noise_std: std of the Gaussian noise, in 0..255 units (0 disables it).
        flip: probability of a horizontal flip.
        probability: chance that a sample is transformed at all.
    """

    class_map: object = None
    max_rotation: float = 15.0
    max_shift: float = 0.1
    scale_range: tuple = (0.8, 1.5)
    noise_std: float = 8.0
    flip: float = 0.0
    probability: float = 1.0

    def __post_init__(self):
        if self.class_map is not None:
            self.class_map = get_class_map(self.class_map)
        low, high = self.scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {self.scale_range}")

    def __call__(self, sample, rng):
        if rng.uniform() < self.flip:
            sample = flip_sample(sample, self.class_map)
        if rng.uniform() >= self.probability:
            return sample
        height, width = sample.image.shape[:2]
        matrix = similarity_matrix(
            rng.uniform(-self.max_rotation, self.max_rotation),
            rng.uniform(*self.scale_range),
            rng.uniform(-self.max_shift, self.max_shift, 2) * (width, height),
            ((width - 1) / 2, (height - 1) / 2),
        )
        sample = warp_sample(sample, matrix, (height, width))
        if self.noise_std > 0:
            noisy = sample.image.astype(np.float32) + rng.normal(0, self.noise_std, sample.image.shape)
            sample = replace(sample, image=np.clip(noisy, 0, 255).astype(np.uint8))
        return sample

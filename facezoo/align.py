"""Face alignment: a similarity transform from keypoints to a preset's template, the warp
into the model's crop, and the inverse mapping of label maps and points onto the photo.

Transforms are 2x3 matrices ``A`` mapping photo pixels to crop pixels,
``[u, v] = A @ [x, y, 1]``, in the pixel-centre convention (pixel ``i`` covers
``[i - 0.5, i + 0.5]``).

Example:
    >>> A = similarity_transform(detection.keypoints, template_points(preset))
    >>> crop = warp_to_crop(photo, A, preset.input_size)          # uint8 (h, w, 3)
    >>> labels = paste_probabilities(probs, A, photo.shape[:2])   # back on the photo
"""

import numpy as np
from PIL import Image


def similarity_transform(source, target):
    """Least-squares similarity (rotation, uniform scale, translation) taking ``source``
    points ``(N, 2)`` onto ``target`` points ``(N, 2)`` (Umeyama 1991); a 2x3 matrix."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or len(source) < 2:
        raise ValueError(f"need matching (N >= 2, 2) point sets, got {source.shape} and {target.shape}")
    if not (np.isfinite(source).all() and np.isfinite(target).all()):
        raise ValueError("keypoints must be finite")
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t
    variance = (s ** 2).sum() / len(source)
    if variance < 1e-12:
        raise ValueError("keypoints are all at one place; cannot align")
    u, d, vt = np.linalg.svd(t.T @ s / len(source))
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(d) @ sign) / variance
    return np.hstack([scale * rotation, (mu_t - scale * rotation @ mu_s)[:, None]])


def box_transform(box, template_box, size):
    """Transform taking a face box ``(x0, y0, x1, y1)`` onto ``template_box`` (normalised to
    the crop) in a crop of ``size`` ``(h, w)``: for faces given without keypoints."""
    x0, y0, x1, y1 = map(float, box)
    tx0, ty0, tx1, ty1 = np.asarray(template_box, np.float64) * [size[1], size[0], size[1], size[0]]
    scale = ((tx1 - tx0) / (x1 - x0) + (ty1 - ty0) / (y1 - y0)) / 2
    cx, cy, tcx, tcy = (x0 + x1) / 2, (y0 + y1) / 2, (tx0 + tx1) / 2, (ty0 + ty1) / 2
    return np.array([[scale, 0.0, tcx - scale * cx], [0.0, scale, tcy - scale * cy]])


def invert(transform):
    """Inverse of a 2x3 affine transform."""
    full = np.vstack([np.asarray(transform, np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply(transform, points):
    """Map points ``(N, 2)`` through a 2x3 transform."""
    points = np.asarray(points, np.float64)
    return points @ np.asarray(transform)[:, :2].T + np.asarray(transform)[:, 2]


def _pil_coefficients(transform):
    """PIL's AFFINE data maps output pixel corners to input pixel corners; ours maps
    pixel centres input -> output. Shift by half a pixel on both sides."""
    inverse = invert(transform)
    shift_in = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    shift_out = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    full = shift_in @ np.vstack([inverse, [0, 0, 1]]) @ shift_out
    return tuple(full[:2].ravel())


def warp_to_crop(image, transform, size):
    """The crop ``(h, w, 3)`` uint8 seen through ``transform`` (photo -> crop pixels).
    Large photos are box-filtered first so a big face is not aliased into a small crop."""
    image = np.asarray(image)
    transform = np.asarray(transform, np.float64)
    scale = np.sqrt(abs(np.linalg.det(transform[:, :2])))
    factor = int(1.0 / scale) if scale < 0.5 else 1
    source = Image.fromarray(image)
    if factor > 1:  # reduce by an integer factor, then warp the smaller image
        corners = apply(invert(transform), [[0, 0], [size[1], 0], [0, size[0]], [size[1], size[0]]])
        x0, y0 = np.floor(np.maximum(corners.min(0) - factor, 0)).astype(int)
        x1, y1 = np.ceil(np.minimum(corners.max(0) + factor, image.shape[1::-1])).astype(int)
        x0 -= x0 % factor
        y0 -= y0 % factor
        if x1 > x0 and y1 > y0:
            source = source.crop((x0, y0, x1, y1)).reduce(factor)
            # pixel centre i of the reduced image sits at x0 + factor * i + (factor - 1) / 2
            to_full = np.array([[factor, 0, x0 + (factor - 1) / 2], [0, factor, y0 + (factor - 1) / 2], [0, 0, 1]])
            transform = transform @ to_full
    warped = source.transform((size[1], size[0]), Image.AFFINE, _pil_coefficients(transform), Image.BILINEAR)
    return np.asarray(warped)


def paste_probabilities(probabilities, transform, photo_shape):
    """Class probabilities ``(h, w, C)`` of a crop mapped back onto the photo.

    Returns ``(window, probs, inside)``: the photo window ``(x0, y0, x1, y1)`` the crop
    covers, the bilinearly resampled probabilities ``(y1 - y0, x1 - x0, C)`` there, and
    a boolean mask of the window's pixels that fall inside the crop.
    """
    probabilities = np.asarray(probabilities, np.float32)
    h, w, classes = probabilities.shape
    corners = apply(invert(transform), [[-0.5, -0.5], [w - 0.5, -0.5], [-0.5, h - 0.5], [w - 0.5, h - 0.5]])
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
    x1 = int(min(np.floor(corners[:, 0].max()) + 1, photo_shape[1]))
    y1 = int(min(np.floor(corners[:, 1].max()) + 1, photo_shape[0]))
    if x1 <= x0 or y1 <= y0:
        return (0, 0, 0, 0), np.zeros((0, 0, classes), np.float32), np.zeros((0, 0), bool)
    # window pixel (i, j) -> crop pixel: transform @ (x0 + i, y0 + j); PIL wants output -> input
    window = np.asarray(transform, np.float64) @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]])
    coefficients = _pil_coefficients(invert(window))
    size = (x1 - x0, y1 - y0)
    resampled = np.stack([
        np.asarray(Image.fromarray(probabilities[..., c]).transform(size, Image.AFFINE, coefficients, Image.BILINEAR))
        for c in range(classes)
    ], axis=-1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    uv = apply(transform, np.stack([xx.ravel(), yy.ravel()], -1)).reshape(y1 - y0, x1 - x0, 2)
    inside = (uv[..., 0] >= -0.5) & (uv[..., 0] <= w - 0.5) & (uv[..., 1] >= -0.5) & (uv[..., 1] <= h - 0.5)
    return (int(x0), int(y0), x1, y1), resampled, inside

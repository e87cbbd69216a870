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


def resize_transform(shape, size):
    """The 2x3 transform of a resize from an image of ``shape`` ``(H, W, ...)`` to ``size``
    ``(h, w)`` (pixel centres onto pixel centres, as PIL's resize maps them)."""
    sy, sx = size[0] / shape[0], size[1] / shape[1]
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])


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
    Large photos are box-filtered first so a big face is not aliased into a small crop.
    Only the photo region the crop sees is handed to PIL (a face in a large or group photo
    does not copy the whole photo)."""
    image = np.asarray(image)
    transform = np.asarray(transform, np.float64)
    scale = np.sqrt(abs(np.linalg.det(transform[:, :2])))
    factor = int(1.0 / scale) if scale < 0.5 else 1
    # the photo pixels the crop's corners map to, with a margin for the filters
    corners = apply(invert(transform), [[-0.5, -0.5], [size[1] - 0.5, -0.5], [-0.5, size[0] - 0.5],
                                        [size[1] - 0.5, size[0] - 0.5]])
    margin = 2 * factor + 2
    x0, y0 = np.floor(np.maximum(corners.min(0) - margin, 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(corners.max(0) + margin, image.shape[1::-1])).astype(int)
    x0 -= x0 % factor
    y0 -= y0 % factor
    if x1 <= x0 or y1 <= y0:  # the crop sees nothing of the photo
        return np.zeros((size[0], size[1], *image.shape[2:]), image.dtype)
    source = Image.fromarray(np.ascontiguousarray(image[y0:y1, x0:x1]))
    # pixel centre i of the (reduced) region sits at x0 + factor * i + (factor - 1) / 2 of the photo
    if factor > 1:  # reduce by an integer factor, then warp the smaller image
        source = source.reduce(factor)
    to_photo = np.array([[factor, 0, x0 + (factor - 1) / 2], [0, factor, y0 + (factor - 1) / 2], [0, 0, 1]])
    warped = source.transform((size[1], size[0]), Image.AFFINE, _pil_coefficients(transform @ to_photo),
                              Image.BILINEAR)
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


def _window_to_source(transform, x0, y0):
    """The 2x3 map from window pixel ``(i, j)`` (window at photo pixel ``x0, y0``) to crop pixels."""
    return np.asarray(transform, np.float64) @ np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1.0]])


class _CropScores:
    """A crop's class scores ``(h, w, C)`` read as probabilities: given as probabilities,
    or as logits whose softmax is taken only at the crop pixels read (the paste reads the
    corners of boundary cells and overlaps; a full softmax of a 19-class 512x512 crop costs
    as much again as its argmax)."""

    def __init__(self, scores, logits=False):
        self.array = np.asarray(scores, np.float32)
        self.logits = bool(logits)
        self.shape = self.array.shape
        self._flat = self.array.reshape(-1, self.shape[-1])

    @classmethod
    def of(cls, scores, logits=False):
        return scores if isinstance(scores, cls) else cls(scores, logits)

    def labels(self):
        """The argmax ``(h, w)`` uint8 (of logits: their softmax's, but where float32 rounds
        two probabilities to a tie)."""
        return self.array.argmax(-1).astype(np.uint8)

    def rows(self, index):
        """Probabilities ``(n, C)`` at flat crop pixel indices (``_softmax``'s arithmetic)."""
        rows = self._flat[index]  # a copy: fancy indexing
        if self.logits:
            rows -= rows.max(-1, keepdims=True)
            np.exp(rows, out=rows)
            rows /= rows.sum(-1, keepdims=True)
        return rows


def _cells(transform, xs, ys, shape):
    """Crop coordinates ``(u, v)`` of photo pixels ``(xs, ys)`` and the cell ``(i, j)`` each
    is blended in (clipped to the crop's cells, so border pixels extrapolate)."""
    a = np.asarray(transform, np.float64)
    u = a[0, 0] * xs + a[0, 1] * ys + a[0, 2]
    v = a[1, 0] * xs + a[1, 1] * ys + a[1, 2]
    j = np.clip(np.floor(u).astype(np.int64), 0, shape[1] - 2)
    i = np.clip(np.floor(v).astype(np.int64), 0, shape[0] - 2)
    return u, v, i, j


def _bilinear(probabilities, transform, xs, ys, chunk=1 << 18):
    """``probabilities`` ``(h, w, C)`` (or :class:`_CropScores`) bilinearly sampled at photo
    pixels ``(xs, ys)`` (all mapping into ``[0, w - 1] x [0, h - 1]`` of the crop through
    ``transform``): ``(N, C)``."""
    scores = _CropScores.of(probabilities)
    h, w, classes = scores.shape
    out = np.empty((len(xs), classes), np.float32)
    for start in range(0, len(xs), chunk):
        u, v, i, j = _cells(transform, xs[start:start + chunk], ys[start:start + chunk], (h, w))
        fu, fv = (u - j).astype(np.float32)[:, None], (v - i).astype(np.float32)[:, None]
        index = i * w + j
        top = scores.rows(index) * (1 - fu) + scores.rows(index + 1) * fu
        bottom = scores.rows(index + w) * (1 - fu) + scores.rows(index + w + 1) * fu
        out[start:start + len(u)] = top * (1 - fv) + bottom * fv
    return out


#: Classes kept per crop cell by :func:`_bilinear_argmax`'s short path.
CELL_CANDIDATES = 3


def _cell_candidates(scores, ci, cj):
    """The four corner distributions ``(cells, 4, C)`` of crop cells ``(ci, cj)`` (cell
    ``(i, j)`` spans crop pixels ``i..i+1`` x ``j..j+1``) and which classes can be the
    argmax of a bilinear blend inside each ``(cells, C)``.

    A blend lies between its corners' extremes, so a class can win only if its largest
    corner value reaches the largest of the classes' smallest corner values; a few float32
    steps of slack cover the blend's rounding (an extra candidate never changes a result).
    A NaN cell has no candidate."""
    w = scores.shape[1]
    index = ci * w + cj
    corners = np.stack([scores.rows(index), scores.rows(index + 1), scores.rows(index + w),
                        scores.rows(index + w + 1)], 1)
    bound = corners.min(1).max(-1, keepdims=True)
    return corners, corners.max(1) >= bound - 8 * np.spacing(np.abs(bound))


def _bilinear_argmax(probabilities, transform, xs, ys, chunk=1 << 18):
    """``_bilinear(...).argmax(-1)``, exactly, blending only the classes that can win.

    Most boundary cells have two or three candidates (:func:`_cell_candidates`: two parts
    meet), so their pixels blend those values instead of all ``C`` (the 19 CelebAMask-HQ
    classes), grouped by the number of candidates (one: no blend at all; two: one
    comparison). Candidates keep class order and are blended with :func:`_bilinear`'s own
    arithmetic, so ties break as ``argmax`` does. Cells with more than
    :data:`CELL_CANDIDATES` (or none: NaN), and pixels past the crop's outer cell centres
    (extrapolated), take the full blend.
    """
    scores = _CropScores.of(probabilities)
    h, w, classes = scores.shape
    u, v, i, j = _cells(transform, xs, ys, (h, w))
    cell = i * (w - 1) + j
    present = np.zeros((h - 1) * (w - 1), bool)
    present[cell] = True
    cells = np.flatnonzero(present)  # the cells these pixels fall in (no sort of the pixels)
    lookup = np.zeros(len(present), np.int64)
    lookup[cells] = np.arange(len(cells))
    pixel_cell = lookup[cell]
    corners, candidate = _cell_candidates(scores, *np.divmod(cells, w - 1))
    count = candidate.sum(-1)
    labels = np.empty(len(xs), np.int64)
    # a blend, not an extrapolation: pixels past the last cell centre (clipped) take the full path
    blended = (u >= j) & (u <= j + 1) & (v >= i) & (v <= i + 1)
    done = np.zeros(len(xs), bool)
    for k in range(1, min(CELL_CANDIDATES, classes) + 1):
        group = count == k
        pixels = np.flatnonzero(group[pixel_cell] & blended)
        if not len(pixels):
            continue
        # each cell's k candidates in class order, their corner values (cells_k, 4, k)
        order = np.argsort(~candidate[group], axis=-1, kind="stable")[:, :k]
        rows = (np.cumsum(group) - 1)[pixel_cell[pixels]]  # pixel -> row among this group's cells
        if k == 1:
            labels[pixels] = order[rows, 0]
        else:
            # (k, 4, cells_k): one contiguous row per candidate and corner, gathered per pixel
            values = np.ascontiguousarray(np.take_along_axis(corners[group], order[:, None, :], -1).transpose(2, 1, 0))
            fu = (u[pixels] - j[pixels]).astype(np.float32)
            fv = (v[pixels] - i[pixels]).astype(np.float32)
            gu, gv = 1 - fu, 1 - fv
            blend = np.empty((k, len(pixels)), np.float32)
            for s, (c00, c01, c10, c11) in enumerate(values):  # _bilinear's arithmetic, per class
                blend[s] = (c00[rows] * gu + c01[rows] * fu) * gv + (c10[rows] * gu + c11[rows] * fu) * fv
            best = (blend[1] > blend[0]).astype(np.int64) if k == 2 else blend.argmax(0)
            labels[pixels] = order[rows, best]
        done[pixels] = True
    if not done.all():
        slow = ~done
        labels[slow] = _bilinear(scores, transform, xs[slow], ys[slow], chunk).argmax(-1)
    return labels


#: A boundary cell is split into sub-cells of about this many photo pixels a side...
SUBCELL_PIXELS = 3
#: ...at most this many a side.
MAX_SUBCELLS = 4
#: Candidate slack at sub-cell corners (relative to the values, at least absolute): far above the float32
#: rounding of the corner blends and of the per-pixel blend, so a sub-cell is called
#: uniform only where every pixel's full blend has that argmax.
SUBCELL_SLACK = 1e-5


def _split_code(scores, code, boundary, split, chunk=4096):
    """The code image at ``split`` x the cell resolution: every cell's code repeated, and in
    the ``boundary`` cells each sub-cell where one class alone can win (its corners being
    exact bilinear blends of the cell's corners) given that class; the rest stay 255."""
    fine = np.repeat(np.repeat(code, split, 0), split, 1)
    h, w = code.shape
    ci, cj = np.nonzero(boundary)
    t = (np.arange(split + 1) / split).astype(np.float32)[None, :, None]
    tv = t[:, :, :, None]
    for start in range(0, len(ci), chunk):  # chunks: (cells, split^2, 4, C) floats at a time
        i, j = ci[start:start + chunk], cj[start:start + chunk]
        corners, _ = _cell_candidates(scores, i, j)  # (cells, 4, C): (i, j), (i, j+1), (i+1, j), (i+1, j+1)
        top = corners[:, None, 0] * (1 - t) + corners[:, None, 1] * t  # (cells, split + 1 along u, C)
        bottom = corners[:, None, 2] * (1 - t) + corners[:, None, 3] * t
        grid = top[:, None] * (1 - tv) + bottom[:, None] * tv  # (cells, v, u, C) at the sub-cell corners
        sub = np.stack([grid[:, :-1, :-1], grid[:, :-1, 1:], grid[:, 1:, :-1], grid[:, 1:, 1:]], -2)
        bound = sub.min(-2).max(-1, keepdims=True)
        candidate = sub.max(-2) >= bound - SUBCELL_SLACK * np.maximum(1.0, np.abs(bound))
        labels = np.where(candidate.sum(-1) == 1, candidate.argmax(-1), 255).astype(np.uint8)  # (cells, v, u)
        fine.reshape(h, split, w, split)[i, :, j, :] = labels  # a view of fine: (cells, v, u) in place
    return fine


def paste_labels(probabilities, transform, photo_shape, logits=False):
    """The argmax of a crop's class probabilities ``(h, w, C)``, bilinearly resampled onto
    the photo, computed only where the crop says something is not background.

    The result is the label map :func:`paste_probabilities` followed by ``argmax`` gives,
    without resampling every channel over the crop's whole footprint: a bilinear blend of
    four distributions that share their argmax has that argmax too, so a photo pixel whose
    four crop neighbours agree takes their label straight from a nearest-neighbour warp of
    a "corner code" image (one uint8 channel, PIL, C speed), and only pixels on a class
    boundary (neighbours disagree) are blended, over the classes that can win there
    (:func:`_bilinear_argmax`). When the face is large in the photo (a crop pixel spans
    twice :data:`SUBCELL_PIXELS` photo pixels or more) each boundary cell is split into sub-cells
    first: a bilinear blend restricted to a sub-cell is the bilinear blend of its four
    corner values, so a sub-cell where one class alone can win (:func:`_cell_candidates`,
    with :data:`SUBCELL_SLACK`) takes that label from the code image too, and only the
    pixels of sub-cells the class boundary crosses are blended. The photo window is the
    box around the crop cells that are not all background. Pixels within half a crop pixel
    of the crop's border are left to the border cells' neighbours (background there).

    ``logits=True``: ``probabilities`` are logits; their softmax is taken only at the crop
    pixels the blends read. The labels are those of the full softmax's paste except where
    float32 rounds two classes' probabilities to a tie (logits a few ulps apart) or the
    model gave non-finite logits: there the logits' own argmax decides.

    Returns ``(window, labels)``: the photo window ``(x0, y0, x1, y1)`` and its labels
    ``(y1 - y0, x1 - x0)`` uint8 (``(0, 0, 0, 0)`` and an empty array when the crop is all
    background or off the photo).

    Example:
        >>> (x0, y0, x1, y1), window = paste_labels(probs, A, photo.shape[:2])
        >>> labels[y0:y1, x0:x1] = window
    """
    scores = _CropScores.of(probabilities, logits)
    h, w, classes = scores.shape
    if h < 2 or w < 2 or classes > 255:
        raise ValueError(f"need probabilities (h >= 2, w >= 2, C <= 255), got {scores.shape}")
    crop_labels = scores.labels()
    # corner code of cell (i, j) = the label of its four corners if they agree, else 255
    corners = crop_labels[:-1, :-1]
    same = (corners == crop_labels[1:, :-1]) & (corners == crop_labels[:-1, 1:]) & (corners == crop_labels[1:, 1:])
    code = np.where(same, corners, np.uint8(255))
    rows, cols = np.flatnonzero(code.any(1)), np.flatnonzero(code.any(0))
    photo_per_crop = 1.0 / np.sqrt(abs(np.linalg.det(np.asarray(transform, np.float64)[:, :2])))
    split = int(np.clip(photo_per_crop // SUBCELL_PIXELS, 1, MAX_SUBCELLS))
    empty = (0, 0, 0, 0), np.zeros((0, 0), np.uint8)
    if not len(rows):
        return empty
    # cells (i, j) cover crop coordinates [j, j + 1] x [i, i + 1]
    extent = [[cols[0], rows[0]], [cols[-1] + 1, rows[0]], [cols[0], rows[-1] + 1], [cols[-1] + 1, rows[-1] + 1]]
    back = apply(invert(transform), extent)
    x0, y0 = np.maximum(np.floor(back.min(0)).astype(int), 0)
    x1 = int(min(np.ceil(back[:, 0].max()) + 1, photo_shape[1]))
    y1 = int(min(np.ceil(back[:, 1].max()) + 1, photo_shape[0]))
    if x1 <= x0 or y1 <= y0:
        return empty
    to_crop = _window_to_source(transform, x0, y0)
    # PIL's NEAREST takes the pixel floor(u + 0.5) of the code image: shift by half a pixel
    # so that it takes cell floor(u) of the crop (pixels outside become 0, background)
    # (with sub-cells: fine cell floor(split * u))
    to_code = np.array([[split, 0, -0.5], [0, split, -0.5]]) @ np.vstack([to_crop, [0, 0, 1]])
    if split > 1:
        code = _split_code(scores, code, ~same, split)
    warped = Image.fromarray(code).transform((x1 - x0, y1 - y0), Image.AFFINE, _pil_coefficients(invert(to_code)),
                                            Image.NEAREST, fillcolor=0)
    window = np.array(warped)
    flat = window.reshape(-1)
    boundary = np.flatnonzero(flat == 255)  # 1-D: a third of np.nonzero's time on a large window
    if len(boundary):
        ys, xs = np.divmod(boundary, window.shape[1])
        flat[boundary] = _bilinear_argmax(scores, to_crop, xs.astype(np.float64), ys.astype(np.float64))
    return (int(x0), int(y0), x1, y1), window


def paste_faces(faces, photo_shape, logits=False):
    """The photo's label map from several faces' crop probabilities.

    ``faces`` is a list of ``(probabilities (h, w, C), transform)`` (with ``logits=True``:
    logits, see :func:`paste_labels`). Each face's labels
    come from :func:`paste_labels`. Where several faces label a pixel with different
    classes, the face surer that it is not background wins (the first on ties); where one
    face labels it and the others call it background, it keeps that label (a neighbour's
    crop calling a face "background" does not erase it).

    Example:
        >>> labels = paste_faces([(probs, A) for probs, A in zip(probabilities, transforms)], photo.shape[:2])
    """
    labels = np.zeros(photo_shape[:2], np.uint8)
    pasted = []
    for probabilities, transform in faces:
        scores = _CropScores(probabilities, logits)
        window, face_labels = paste_labels(scores, transform, photo_shape)
        if face_labels.size:
            pasted.append((window, face_labels, scores, transform))
    for index, ((x0, y0, x1, y1), face_labels, _, _) in enumerate(pasted):
        region = labels[y0:y1, x0:x1]
        if any(_overlap(window, pasted[index][0]) for window, *_ in pasted[:index]):
            np.copyto(region, face_labels, where=face_labels > 0)
        else:  # nothing pasted here yet: a plain copy (a large face's window is most of the photo)
            region[...] = face_labels
    for a in range(len(pasted)):
        for b in range(a + 1, len(pasted)):
            box = _overlap(pasted[a][0], pasted[b][0])
            if box:
                _resolve_overlap(labels, pasted, box)
    return labels


def _overlap(a, b):
    """The intersection of two windows ``(x0, y0, x1, y1)``, or None if they do not overlap."""
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _resolve_overlap(labels, pasted, box):
    """Within ``box``, a pixel that several faces label with different classes takes the
    label of the one surer that it is not background (the first on ties); a pixel one face
    labels and the others call background keeps that face's label."""
    x0, y0, x1, y1 = box
    yy, xx = np.nonzero(labels[y0:y1, x0:x1])  # pixels no face labelled stay background
    if not len(yy):
        return
    xs, ys = xx + x0, yy + y0
    faces = [face for face in pasted if _overlap(face[0], box)]
    given = np.zeros((len(faces), len(xs)), np.uint8)  # each face's label of these pixels (0: none)
    for row, ((wx0, wy0, wx1, wy1), face_labels, _, _) in zip(given, faces):
        mine = np.flatnonzero((xs >= wx0) & (xs < wx1) & (ys >= wy0) & (ys < wy1))
        row[mine] = face_labels[ys[mine] - wy0, xs[mine] - wx0]
    lowest = np.where(given > 0, given, 255).min(0)
    contested = np.flatnonzero(lowest < given.max(0))  # two classes from two faces
    if not len(contested):
        return
    xs, ys, given = xs[contested].astype(np.float64), ys[contested].astype(np.float64), given[:, contested]
    best = np.full(len(xs), -1.0, np.float32)
    winner = given.max(0)  # kept where no face's confidence is a number (non-finite logits)
    for (window, face_labels, scores, transform), own in zip(faces, given):
        pixels = np.flatnonzero(own)
        if not len(pixels):
            continue
        h, w, _ = scores.shape
        _, _, i, j = _cells(transform, xs[pixels], ys[pixels], (h, w))
        background = _background(scores, i * w + j).reshape(h, w, 1)
        foreground = 1.0 - _bilinear(background, transform, xs[pixels], ys[pixels])[:, 0]
        surer = foreground > best[pixels]
        pixels = pixels[surer]
        best[pixels] = foreground[surer]
        winner[pixels] = own[pixels]
    labels[ys.astype(int), xs.astype(int)] = winner


def _background(scores, cells):
    """A crop's background probability, flat ``(h * w,)``, correct at the corners of the
    cells ``cells`` (flat ``i * w + j``): a logit crop's softmax is taken there only."""
    h, w, _ = scores.shape
    if not scores.logits:
        return np.ascontiguousarray(scores.array[..., 0]).reshape(-1)
    needed = np.zeros(h * w, bool)
    for offset in (0, 1, w, w + 1):
        needed[cells + offset] = True
    corners = np.flatnonzero(needed)
    background = np.zeros(h * w, np.float32)
    background[corners] = scores.rows(corners)[:, 0]
    return background


def paste_faces_by_channel(faces, shape):
    """The reference paste (what facezoo.parse did before :func:`paste_faces`): every
    class channel warped over the crop's whole footprint by :func:`paste_probabilities`,
    then argmax, the surer face winning wherever faces overlap (also where one of them calls
    the pixel background, which the fast paste leaves to the face that labels it). Slow and
    exact; the fast paste is checked against it (tests/test_pipeline.py,
    benchmarks/pipeline_accuracy.py)."""
    labels = np.zeros(shape, np.uint8)
    foreground = np.zeros(shape, np.float32)
    for probs, transform in faces:
        (x0, y0, x1, y1), resampled, inside = paste_probabilities(probs, transform, shape)
        if not inside.any():
            continue
        surer = inside & (1.0 - resampled[..., 0] > foreground[y0:y1, x0:x1])
        labels[y0:y1, x0:x1][surer] = resampled.argmax(-1)[surer]
        foreground[y0:y1, x0:x1][surer] = 1.0 - resampled[..., 0][surer]
    return labels

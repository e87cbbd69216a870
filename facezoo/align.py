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


def _window_to_source(transform, x0, y0):
    """The 2x3 map from window pixel ``(i, j)`` (window at photo pixel ``x0, y0``) to crop pixels."""
    return np.asarray(transform, np.float64) @ np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1.0]])


def _bilinear(probabilities, transform, xs, ys, chunk=1 << 18):
    """``probabilities`` ``(h, w, C)`` bilinearly sampled at photo pixels ``(xs, ys)`` (all
    mapping into ``[0, w - 1] x [0, h - 1]`` of the crop through ``transform``): ``(N, C)``."""
    h, w, classes = probabilities.shape
    flat = probabilities.reshape(-1, classes)
    out = np.empty((len(xs), classes), np.float32)
    a = np.asarray(transform, np.float64)
    for start in range(0, len(xs), chunk):
        x, y = xs[start:start + chunk], ys[start:start + chunk]
        u = a[0, 0] * x + a[0, 1] * y + a[0, 2]
        v = a[1, 0] * x + a[1, 1] * y + a[1, 2]
        j = np.clip(np.floor(u).astype(np.int64), 0, w - 2)
        i = np.clip(np.floor(v).astype(np.int64), 0, h - 2)
        fu, fv = (u - j).astype(np.float32)[:, None], (v - i).astype(np.float32)[:, None]
        index = i * w + j
        top = flat[index] * (1 - fu) + flat[index + 1] * fu
        bottom = flat[index + w] * (1 - fu) + flat[index + w + 1] * fu
        out[start:start + len(x)] = top * (1 - fv) + bottom * fv
    return out


#: Classes kept per crop cell by :func:`_bilinear_argmax`'s short path.
CELL_CANDIDATES = 3


def _bilinear_argmax(probabilities, transform, xs, ys, chunk=1 << 18):
    """``_bilinear(...).argmax(-1)``, exactly, blending only the classes that can win.

    In a crop cell a class can be the argmax of a bilinear blend of the four corner
    distributions only if its largest corner value reaches the largest of the classes'
    smallest corner values (a blend lies between its corners' extremes). Most boundary
    cells have two or three such candidates (two parts meet), so their pixels blend
    :data:`CELL_CANDIDATES` values instead of all ``C`` (the 19 CelebAMask-HQ classes);
    candidates keep class order, so ties break as ``argmax`` does, and the bound has a few
    float32 steps of slack for the blend's rounding. Cells with more candidates (or none:
    NaN), and pixels past the crop's outer cell centres (extrapolated), take the full blend.
    """
    h, w, classes = probabilities.shape
    a = np.asarray(transform, np.float64)
    u = a[0, 0] * xs + a[0, 1] * ys + a[0, 2]
    v = a[1, 0] * xs + a[1, 1] * ys + a[1, 2]
    j = np.clip(np.floor(u).astype(np.int64), 0, w - 2)
    i = np.clip(np.floor(v).astype(np.int64), 0, h - 2)
    cell = i * (w - 1) + j
    present = np.zeros((h - 1) * (w - 1), bool)
    present[cell] = True
    cells = np.flatnonzero(present)  # the cells these pixels fall in (no sort of the pixels)
    lookup = np.zeros(len(present), np.int64)
    lookup[cells] = np.arange(len(cells))
    pixel_cell = lookup[cell]
    ci, cj = np.divmod(cells, w - 1)
    corners = np.stack([probabilities[ci, cj], probabilities[ci, cj + 1], probabilities[ci + 1, cj],
                        probabilities[ci + 1, cj + 1]], 1)  # (cells, 4, C)
    # a few float32 steps of slack: a blend rounds, and a class one step under the bound can
    # tie with it (an extra candidate never changes the result); NaN cells have none: full path
    bound = corners.min(1).max(-1, keepdims=True)
    candidate = corners.max(1) >= bound - 8 * np.spacing(np.abs(bound))
    count = candidate.sum(-1)
    short = (count >= 1) & (count <= min(CELL_CANDIDATES, classes))
    labels = np.empty(len(xs), np.int64)
    # a blend, not an extrapolation: pixels past the last cell centre (clipped) take the full path
    fast = short[pixel_cell] & (u >= j) & (u <= j + 1) & (v >= i) & (v <= i + 1)
    if fast.any():
        k = min(CELL_CANDIDATES, classes)
        # the candidates of each short cell in class order, padded with a class whose
        # corners are set to -1 (it never wins)
        order = np.argsort(~candidate[short], axis=-1, kind="stable")[:, :k]
        values = np.take_along_axis(corners[short], order[:, None, :], -1)
        values[~np.take_along_axis(candidate[short], order, -1)[:, None, :].repeat(4, 1)] = -1.0
        compact = np.cumsum(short) - 1  # cell -> row among the short cells
        rows = compact[pixel_cell[fast]]
        fu = (u[fast] - j[fast]).astype(np.float32)[:, None]
        fv = (v[fast] - i[fast]).astype(np.float32)[:, None]
        c = values[rows]
        top = c[:, 0] * (1 - fu) + c[:, 1] * fu
        bottom = c[:, 2] * (1 - fu) + c[:, 3] * fu
        blend = top * (1 - fv) + bottom * fv
        labels[fast] = np.take_along_axis(order[rows], blend.argmax(-1)[:, None], -1)[:, 0]
    if not fast.all():
        slow = ~fast
        labels[slow] = _bilinear(probabilities, transform, xs[slow], ys[slow], chunk).argmax(-1)
    return labels


def paste_labels(probabilities, transform, photo_shape):
    """The argmax of a crop's class probabilities ``(h, w, C)``, bilinearly resampled onto
    the photo, computed only where the crop says something is not background.

    The result is the label map :func:`paste_probabilities` followed by ``argmax`` gives,
    without resampling every channel over the crop's whole footprint: a bilinear blend of
    four distributions that share their argmax has that argmax too, so a photo pixel whose
    four crop neighbours agree takes their label straight from a nearest-neighbour warp of
    a "corner code" image (one uint8 channel, PIL, C speed), and only pixels on a class
    boundary (neighbours disagree) are blended over all classes. The photo window is the
    box around the crop cells that are not all background. Pixels within half a crop pixel
    of the crop's border are left to the border cells' neighbours (background there).

    Returns ``(window, labels)``: the photo window ``(x0, y0, x1, y1)`` and its labels
    ``(y1 - y0, x1 - x0)`` uint8 (``(0, 0, 0, 0)`` and an empty array when the crop is all
    background or off the photo).

    Example:
        >>> (x0, y0, x1, y1), window = paste_labels(probs, A, photo.shape[:2])
        >>> labels[y0:y1, x0:x1] = window
    """
    probabilities = np.asarray(probabilities, np.float32)
    h, w, classes = probabilities.shape
    if h < 2 or w < 2 or classes > 255:
        raise ValueError(f"need probabilities (h >= 2, w >= 2, C <= 255), got {probabilities.shape}")
    crop_labels = probabilities.argmax(-1).astype(np.uint8)
    # corner code of cell (i, j) = the label of its four corners if they agree, else 255
    corners = crop_labels[:-1, :-1]
    same = (corners == crop_labels[1:, :-1]) & (corners == crop_labels[:-1, 1:]) & (corners == crop_labels[1:, 1:])
    code = np.where(same, corners, np.uint8(255))
    rows, cols = np.flatnonzero(code.any(1)), np.flatnonzero(code.any(0))
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
    to_code = np.array([[1.0, 0, -0.5], [0, 1.0, -0.5]]) @ np.vstack([to_crop, [0, 0, 1]])
    warped = Image.fromarray(code).transform((x1 - x0, y1 - y0), Image.AFFINE, _pil_coefficients(invert(to_code)),
                                            Image.NEAREST, fillcolor=0)
    window = np.array(warped)
    ys, xs = np.nonzero(window == 255)
    if len(xs):
        window[ys, xs] = _bilinear_argmax(probabilities, to_crop, xs.astype(np.float64), ys.astype(np.float64))
    return (int(x0), int(y0), x1, y1), window


def crop_coverage(transform, crop_shape, xs, ys):
    """True where photo pixels ``(xs, ys)`` map inside ``[0, w - 1] x [0, h - 1]`` of a crop."""
    a = np.asarray(transform, np.float64)
    u = a[0, 0] * xs + a[0, 1] * ys + a[0, 2]
    v = a[1, 0] * xs + a[1, 1] * ys + a[1, 2]
    return (u >= 0) & (u <= crop_shape[1] - 1) & (v >= 0) & (v <= crop_shape[0] - 1)


def paste_faces(faces, photo_shape):
    """The photo's label map from several faces' crop probabilities.

    ``faces`` is a list of ``(probabilities (h, w, C), transform)``. Each face's labels
    come from :func:`paste_labels`; where the windows of several faces overlap, a pixel
    takes the label of the face surer that it is not background (the first on ties), as
    :func:`paste_probabilities` would give, computed for the overlaps only.

    Example:
        >>> labels = paste_faces([(probs, A) for probs, A in zip(probabilities, transforms)], photo.shape[:2])
    """
    labels = np.zeros(photo_shape[:2], np.uint8)
    pasted = []
    for probabilities, transform in faces:
        window, face_labels = paste_labels(probabilities, transform, photo_shape)
        if face_labels.size:
            pasted.append((window, face_labels, np.asarray(probabilities, np.float32), transform))
    for (x0, y0, x1, y1), face_labels, _, _ in pasted:
        region = labels[y0:y1, x0:x1]
        np.copyto(region, face_labels, where=face_labels > 0)
    for a in range(len(pasted)):
        for b in range(a + 1, len(pasted)):
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = pasted[a][0], pasted[b][0]
            x0, y0, x1, y1 = max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1)
            if x1 > x0 and y1 > y0:
                _resolve_overlap(labels, pasted, (x0, y0, x1, y1))
    return labels


def _resolve_overlap(labels, pasted, box):
    """Within ``box``, every pixel takes the label of the face whose probability of "not
    background" there is highest (among the faces whose window and crop cover it)."""
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[y0:y1, x0:x1]
    xs, ys = xx.ravel().astype(np.float64), yy.ravel().astype(np.float64)
    best = np.full(len(xs), -1.0, np.float32)
    winner = np.zeros(len(xs), np.uint8)
    for (wx0, wy0, wx1, wy1), face_labels, probabilities, transform in pasted:
        covered = (xs >= wx0) & (xs < wx1) & (ys >= wy0) & (ys < wy1)
        covered &= crop_coverage(transform, probabilities.shape, xs, ys)
        if not covered.any():
            continue
        foreground = np.full(len(xs), -1.0, np.float32)
        foreground[covered] = 1.0 - _bilinear(probabilities[..., :1], transform, xs[covered], ys[covered])[:, 0]
        surer = foreground > best
        best[surer] = foreground[surer]
        own = face_labels[(ys[surer] - wy0).astype(int), (xs[surer] - wx0).astype(int)]
        winner[surer] = own
    labels[y0:y1, x0:x1] = winner.reshape(y1 - y0, x1 - x0)


def paste_faces_by_channel(faces, shape):
    """The reference paste (what facezoo.parse did before :func:`paste_faces`): every
    class channel warped over the crop's whole footprint by :func:`paste_probabilities`,
    then argmax, the surer face winning where faces overlap. Slow and exact; the fast
    paste is checked against it (tests/test_pipeline.py, benchmarks/pipeline_accuracy.py)."""
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

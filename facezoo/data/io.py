"""Reading images, label maps and 300-W landmark files, with errors that name the file."""

import os
import re
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: File name endings of the images facezoo reads from a folder (the same files it reads
#: when they are named one by one).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".gif")
#: Largest image we decode (PIL warns above 89 MP and refuses only above 179 MP).
MAX_PIXELS = 100_000_000


def image_files(folder, recursive=False):
    """Sorted paths of the images (by :data:`IMAGE_EXTENSIONS`) in ``folder``, and in its
    subfolders when ``recursive``."""
    if recursive:
        found = (os.path.join(root, name) for root, _, names in os.walk(folder) for name in names)
    else:
        found = (os.path.join(folder, name) for name in os.listdir(folder))
    return sorted(path for path in found if path.lower().endswith(IMAGE_EXTENSIONS))


class DataError(ValueError):
    """A dataset file is missing, unreadable or inconsistent; the message names the file."""


def read_image(path):
    """An RGB ``uint8 (H, W, 3)`` array from any image PIL reads: :func:`read_photo`
    without its notes."""
    return read_photo(path)[0]


def read_photo(path):
    """``(rgb, notes)``: an RGB ``uint8 (H, W, 3)`` array from any image PIL reads, and
    a list of notes on what was done to it (``[]`` for an ordinary photo).

    EXIF orientation is applied (phone photos); grey, palette, CMYK and 16-bit images are
    converted to 8-bit RGB; RGBA is composited on white. Of a multi-page TIFF or an
    animated GIF/WebP/PNG only the first frame is read, and a note says so.

    Raises:
        DataError (naming the file) for every way a file can fail to be a usable image:
        missing, not an image, truncated or corrupt, or larger than :data:`MAX_PIXELS`
        (checked from the header, before anything is decoded, so a decompression bomb
        costs nothing).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS is our own guard
            with Image.open(path) as img:
                _check_size(img.width, img.height, path)
                notes = []
                frames = getattr(img, "n_frames", 1)
                if frames > 1:
                    notes.append(f"{frames} frames ({img.format}): only the first was read")
                img = ImageOps.exif_transpose(img)
                if _has_alpha(img) and img.convert("RGBA").getchannel("A").getextrema()[0] < 255:
                    notes.append("transparent pixels were composited on white")  # by to_rgb_array
                return to_rgb_array(img, path), notes
    except Image.DecompressionBombError as error:  # PIL refuses far above MAX_PIXELS, at open
        found = re.search(r"\((\d+) pixels\)", str(error))
        size = f" of {int(found.group(1)):,} pixels" if found else ""
        raise DataError(f"{path}: image{size} is larger than {MAX_PIXELS:,} pixels") from None
    except DataError:
        raise
    except Exception as error:  # PIL's decoders raise many types on damaged data; all mean "unreadable"
        raise DataError(f"{path}: not a readable image ({type(error).__name__}: {error})") from None


def _has_alpha(img):
    """Whether a PIL image carries transparency (composited on white by :func:`to_rgb_array`)."""
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def _check_size(width, height, source):
    if width * height > MAX_PIXELS:
        raise DataError(f"{source}: image of {width}x{height} pixels is larger than {MAX_PIXELS:,} pixels")
    if width * height == 0:
        raise DataError(f"{source}: image of {width}x{height} pixels is empty")


def to_rgb_array(img, source="image"):
    """Convert a PIL image of any mode to ``uint8 (H, W, 3)``."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if array.max() > 255 else 255.0
        img = Image.fromarray(np.clip(array * 255.0 / peak, 0, 255).astype(np.uint8))
    elif img.mode == "F":
        array = np.asarray(img, dtype=np.float64)
        peak = 1.0 if array.max() <= 1.0 else 255.0
        img = Image.fromarray(np.clip(array * 255.0 / peak, 0, 255).astype(np.uint8))
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    array = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if array.ndim != 3 or array.shape[2] != 3 or array.size == 0:
        raise DataError(f"{source}: could not convert to an RGB image")
    return array


def _read_label(path, convert):
    """Open a label image and ``convert`` it; DataError naming the file otherwise."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such label file")
    try:
        with Image.open(path) as img:
            return convert(img, path)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DataError(f"{path}: not a readable label image ({error})") from None


def _index_label(img, path):
    if img.mode not in ("L", "P", "I", "I;16", "1"):
        hint = (" (a colour-coded mask: convert each colour to its class index first, e.g. LFW Part Labels' "
                "red/green/blue masks, which facezoo.data.LFWPartLabels reads as published)"
                if img.mode in ("RGB", "RGBA") else "")
        raise DataError(f"{path}: label map must be single-channel class indices, got mode {img.mode}{hint}")
    return np.asarray(img, dtype=np.int32)


def read_label_png(path):
    """A single-channel index PNG as ``int32 (H, W)``; DataError if it is not one."""
    return _read_label(path, _index_label)


def read_rgb_label(path):
    """An RGB colour-coded label (``.png`` or ``.ppm``) as ``uint8 (H, W, 3)``."""
    return _read_label(path, lambda img, _: np.asarray(img.convert("RGB"), dtype=np.uint8))


def colors_to_labels(rgb, colors, source):
    """Map each pixel's exact colour to its class index; DataError for any other colour."""
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    labels = np.full(codes.shape, -1, dtype=np.int32)
    for index, (r, g, b) in enumerate(colors):
        labels[codes == ((r << 16) | (g << 8) | b)] = index
    if (labels < 0).any():
        bad = np.unique(rgb[labels < 0].reshape(-1, 3), axis=0)[:5]
        raise DataError(
            f"{source}: {int((labels < 0).sum())} pixels have colours outside the class map, e.g. "
            + ", ".join(str(tuple(int(v) for v in c)) for c in bad)
        )
    return labels


def check_labels(labels, num_classes, source):
    """DataError if a label value is outside ``[0, num_classes)``."""
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = sorted(set(np.unique(labels[(labels < 0) | (labels >= num_classes)]).tolist()))[:10]
        raise DataError(f"{source}: label values {bad} are outside the class map (0..{num_classes - 1})")
    return labels


def check_same_size(image, labels, source):
    if image.shape[:2] != labels.shape[:2]:
        raise DataError(
            f"{source}: image is {image.shape[1]}x{image.shape[0]} but its label map is "
            f"{labels.shape[1]}x{labels.shape[0]}"
        )


def read_pts(path):
    """Landmarks from a 300-W ``.pts`` file, with or without its header, as float32 (N, 2)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such landmark file")
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = [line.strip() for line in handle if line.strip()]
    declared = None
    points = []
    for line in lines:
        lowered = line.lower()
        if lowered.startswith("version"):
            continue
        if lowered.startswith("n_points"):
            try:
                declared = int(line.split(":", 1)[1])
            except (IndexError, ValueError):
                raise DataError(f"{path}: bad n_points line {line!r}") from None
            continue
        if line in ("{", "}"):
            continue
        fields = line.replace(",", " ").split()
        try:
            x, y = float(fields[0]), float(fields[1])
        except (IndexError, ValueError):
            raise DataError(f"{path}: cannot read a point from line {line!r}") from None
        points.append((x, y))
    if not points:
        raise DataError(f"{path}: holds no landmarks")
    if declared is not None and declared != len(points):
        raise DataError(f"{path}: header says {declared} points but the file holds {len(points)}")
    array = np.asarray(points, dtype=np.float32)
    if not np.isfinite(array).all():
        raise DataError(f"{path}: holds non-finite coordinates")
    return array


def format_pts(points):
    """The text of a 300-W ``.pts`` file (with header) for ``points (N, 2)``."""
    points = np.asarray(points, dtype=np.float64)
    body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in points)
    return f"version: 1\nn_points: {len(points)}\n{{\n{body}\n}}\n"

"""Image files (and ``.npy`` arrays) as float32 grey in [0, 1], safely.

Every format Pillow reads (PNG, JPEG with its EXIF rotation, BMP, GIF's first
frame, WebP, TIFF) in every common mode, and ``.npy`` arrays. Limits are
checked from the header, before any pixel is decoded: at most
:data:`MAX_PIXELS` pixels, one message for every path, and at most
:data:`MAX_DECODE_BYTES` of decoded pixels (a 138-byte WebP can declare
77 megapixels that libwebp then fills). Warnings from the
decoders (a corrupt EXIF block, an infinity in a float TIFF) are handled
here, never leaked to the user's terminal.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import warnings
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from mnist_edge.errors import ImageError

# Pillow logs some corrupt-file details (a TIFF's "More samples per pixel than
# can be decoded") at ERROR before raising; with no handler anywhere, Python's
# last-resort handler printed them on the user's terminal. The error we raise
# says it in one line; an application that configures logging still sees them.
logging.getLogger("PIL").addHandler(logging.NullHandler())

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".npy")
# 100 megapixels: a 108 MP phone photo is not, a 96 MP one is. JPEGs decode
# at a reduced DCT scale (a few MB); a 100 MP PNG needs up to 400 MB once.
MAX_PIXELS = 100_000_000
# What one decode may hold in memory: Pillow keeps grey and palette images in
# one byte per pixel, 16-bit in two, colour and the rest in four. JPEGs decode
# at a reduced DCT scale, so this bites PNG, WebP, TIFF, BMP and GIF in colour
# over 40 megapixels (grey ones are bounded by MAX_PIXELS first).
MAX_DECODE_BYTES = 160 * 2**20
# Large photos are reduced to about this longest side while decoding: the
# front-end never works above it, and memory stays small.
LOAD_SIDE = 1024
# Pillow's plugins signal a corrupt file with any of these (struct.error: a
# GIF frame header cut short, found by the fuzzer).
CORRUPT_IMAGE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    struct.error,
)
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


def too_large_message(width: int, height: int) -> str:
    """The one message for an image over the pixel limit, from any path."""
    return f"image too large ({width}x{height}; at most {MAX_PIXELS // 1_000_000} megapixels)"


def _decoded_bytes(img) -> int:
    """Bytes Pillow allocates to decode ``img`` at its (possibly drafted) size."""
    width, height = img.size
    if img.mode in ("1", "L", "P"):
        return width * height
    return width * height * (2 if img.mode in _SIXTEEN_BIT else 4)


def _check_decoded_bytes(img) -> None:
    needed = _decoded_bytes(img)
    if needed > MAX_DECODE_BYTES:
        width, height = img.size
        raise ImageError(
            f"image too large to decode ({width}x{height} {img.mode} needs {needed >> 20} MB;"
            f" at most {MAX_DECODE_BYTES >> 20} MB, about 40 megapixels in colour)"
        )


def _file_size(path: Path) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageError(f"cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise ImageError("empty file")
    return size


def _open_header(path):
    """Opens an image lazily (header only) and checks its size."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Our own limit (below) decides; Pillow's bomb error only fires at
            # twice its own default, far above MAX_PIXELS.
            warnings.simplefilter("ignore")
            img = Image.open(path)
    except Image.DecompressionBombError:
        raise ImageError(f"image too large (over {MAX_PIXELS // 1_000_000} megapixels)") from None
    except UnidentifiedImageError:
        raise ImageError("not an image Pillow can read (unknown format or corrupt header)") from None
    except CORRUPT_IMAGE_ERRORS as exc:
        raise ImageError(f"cannot open image ({_first_line(exc)})") from None
    width, height = img.size
    if width <= 0 or height <= 0:
        raise ImageError("image has no pixels")
    if width * height > MAX_PIXELS:
        raise ImageError(too_large_message(width, height))
    return img


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:120]


def _draft(img) -> None:
    """A large JPEG decodes at 1/2..1/8 size (DCT scaling): far cheaper in time and memory."""
    if img.format == "JPEG" and max(img.size) > 2 * LOAD_SIDE:
        img.draft("RGB" if img.mode != "L" else "L", (LOAD_SIDE, LOAD_SIDE))


# Bytes a pixel of the reduced image costs on the way to float grey (RGB, L, float32 copies).
GRAY_BYTES_PER_PIXEL = 12


def decode_cost(data: bytes) -> int:
    """Bytes reading an upload will hold at its peak, from its header alone.

    The decoded pixels twice (the decode, then its reduced or converted copy)
    plus the grey conversion of the reduced image. Measured against the peak
    RSS of a read (6400x6250 RGBA PNG: 333 MB estimated, 309 MB measured;
    4000x3000 JPEG: 60 / 46 MB). 0 when the header cannot be read: the
    decode then fails on its own.
    """
    try:
        img = _open_header(io.BytesIO(data))
        _draft(img)
    except (ImageError, *CORRUPT_IMAGE_ERRORS):
        return 0
    width, height = img.size
    factor = max(1, max(width, height) // LOAD_SIDE)
    reduced = (width // factor) * (height // factor)
    return 2 * _decoded_bytes(img) + GRAY_BYTES_PER_PIXEL * reduced


def _decode(img):
    """Decodes the first frame, reduced while decoding when large, EXIF-rotated.

    Image.open leaves every format at its first frame. ``n_frames`` is never
    asked: it walks a TIFF's whole chain of directories (quadratic in Pillow;
    39,000 one-pixel IFDs in 4 MB took 20 s).
    """
    from PIL import ImageOps

    _draft(img)
    _check_decoded_bytes(img)
    img.load()
    # Phone photos: honour the EXIF rotation (in place: no second full copy).
    ImageOps.exif_transpose(img, in_place=True)
    factor = max(img.size) // LOAD_SIDE
    if factor >= 2:
        img = img.reduce(factor)
    return img


def open_image_bytes(data: bytes):
    """Opens, checks and decodes an image held in memory (an upload).

    Raises:
        ImageError: empty, truncated, not an image, or too large.
    """
    if not data:
        raise ImageError("empty file")
    return _checked_decode(io.BytesIO(data))


def _checked_decode(source):
    img = _open_header(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _decode(img)
    except CORRUPT_IMAGE_ERRORS as exc:
        raise ImageError(f"truncated or corrupt image ({_first_line(exc)})") from None
    except MemoryError:
        raise ImageError("image too large to decode in memory") from None


def open_image(path: Union[str, os.PathLike]):
    """Opens, checks and decodes an image file.

    Args:
        path: the image file.

    Returns:
        A loaded PIL image (first frame, EXIF-rotated, reduced if large).

    Raises:
        ImageError: missing, empty, truncated, not an image, or too large.
    """
    path = Path(path)
    _file_size(path)
    return _checked_decode(path)


def _deep_to_gray(img) -> np.ndarray:
    """16-bit, 32-bit integer and float modes -> [0, 1]."""
    arr = np.asarray(img, dtype=np.float32)
    arr = np.where(np.isfinite(arr), arr, 0.0).astype(np.float32)
    top = float(arr.max()) if arr.size else 1.0
    if img.mode in _SIXTEEN_BIT:
        div = 65535.0
    elif img.mode == "F" and top <= 1.0:
        div = 1.0
    else:
        div = 255.0 if top <= 255 else (65535.0 if top <= 65535 else max(top, 1.0))
    return np.clip(arr / div, 0.0, 1.0)


def _has_alpha(img) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info)


def _alpha_to_gray(img) -> np.ndarray:
    """A drawing on a transparent canvas, put on paper of the opposite brightness."""
    rgba = img.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
    gray = np.asarray(rgba.convert("L"), dtype=np.float32) / 255.0
    if alpha.min() >= 0.99:
        return gray
    opaque = alpha > 0.5
    # Dark ink gets white paper and vice versa (a transparent pixel's own
    # colour is usually black, which says nothing).
    ink_level = float(gray[opaque].mean()) if opaque.any() else 0.0
    paper = 1.0 if ink_level < 0.5 else 0.0
    return gray * alpha + paper * (1.0 - alpha)


def pil_to_gray(img) -> np.ndarray:
    """Any Pillow mode -> float32 grey in [0, 1], shape (H, W).

    Args:
        img: a loaded PIL image.

    Returns:
        The grey image; transparency is composited over contrasting paper.
    """
    if img.mode in _SIXTEEN_BIT + ("I", "F"):
        return _deep_to_gray(img)
    if _has_alpha(img):
        return _alpha_to_gray(img)
    if img.mode != "L":
        img = img.convert("L") if img.mode == "1" else img.convert("RGB").convert("L")
    return np.asarray(img, dtype=np.float32) / 255.0


def _npy_header(path: Path) -> Tuple[tuple, np.dtype]:
    """Shape and dtype of an ``.npy`` file, from its header alone."""
    from numpy.lib import format as npy_format

    try:
        with open(path, "rb") as handle:
            version = npy_format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = npy_format.read_array_header_1_0(handle)
            else:
                shape, _, dtype = npy_format.read_array_header_2_0(handle)
    except Exception as exc:  # numpy raises ValueError, OSError, SyntaxError ...
        raise ImageError(f"not a readable .npy array ({_first_line(exc)})") from None
    return shape, dtype


def _npy_shape_2d(shape: tuple) -> Tuple[int, int]:
    dims = tuple(d for d in shape if d != 1)
    if dims == (784,):
        return 28, 28
    if len(dims) != 2:
        raise ImageError(f".npy array has shape {shape}; expected 28x28 (or another 2-D image)")
    return dims


def _npy_values_to_gray(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype.kind in "iu":
        if arr.min() < 0 or arr.max() > 255:
            raise ImageError(f"integer .npy values must be pixels 0..255 (got {arr.min()}..{arr.max()})")
        return arr.astype(np.float32) / 255.0
    if arr.dtype.kind in "fb":
        with np.errstate(all="ignore"):
            values = arr.astype(np.float32)
        if not np.isfinite(values).all():
            raise ImageError(".npy array holds NaN or infinity")
        if values.min() < 0 or values.max() > 1.0 + 1e-6:
            raise ImageError(
                f"float .npy values must be in [0, 1] (got {values.min():g}..{values.max():g});"
                " save uint8 pixels or divide by 255"
            )
        return values
    raise ImageError(f"unsupported .npy dtype {arr.dtype}")


def load_npy(path: Union[str, os.PathLike]) -> np.ndarray:
    """Reads a 2-D ``.npy`` image (or a 784-vector) as float32 grey in [0, 1].

    The header is checked (shape, size, dtype) before the data is read.

    Args:
        path: the ``.npy`` file.

    Returns:
        float32 grey in [0, 1], shape (H, W).

    Raises:
        ImageError: unreadable, wrong shape, too large, bad dtype or values.
    """
    path = Path(path)
    _file_size(path)
    shape, dtype = _npy_header(path)
    height, width = _npy_shape_2d(shape)
    if height * width > MAX_PIXELS:
        raise ImageError(too_large_message(width, height))
    if dtype.kind not in "iufb" or dtype.hasobject:
        raise ImageError(f"unsupported .npy dtype {dtype}")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # truncated data, bad header details
        raise ImageError(f"not a readable .npy array ({_first_line(exc)})") from None
    return _npy_values_to_gray(np.asarray(arr).reshape(height, width))


def load_gray(path: Union[str, os.PathLike]) -> np.ndarray:
    """Reads an image file or ``.npy`` as float32 grey in [0, 1], shape (H, W).

    Args:
        path: PNG, JPEG, BMP, GIF, WebP, TIFF or ``.npy``.

    Returns:
        The grey image (large photos reduced to about :data:`LOAD_SIDE`).

    Raises:
        ImageError: missing, empty, truncated, not an image, or too large.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError("no such file")
    if path.suffix.lower() == ".npy":
        return load_npy(path)
    img = open_image(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pil_to_gray(img)
    except (OSError, ValueError) as exc:
        raise ImageError(f"cannot convert image ({_first_line(exc)})") from None


def iter_image_paths(
    inputs: Sequence[Union[str, os.PathLike]],
    skip: Optional[Callable[[str], bool]] = None,
) -> Iterator[Tuple[Path, Optional[str]]]:
    """Expands files and folders into ``(path, error or None)`` pairs.

    Folders contribute their image files (by suffix, sorted, not recursive);
    a folder with none yields one error entry.

    Args:
        inputs: files and folders as the user named them.
        skip: a test on file names: those it accepts are never taken from a
            folder named (e.g. debug images written beside the inputs).

    Yields:
        ``(path, None)`` for each image, ``(path, message)`` for a problem.
    """
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in _folder_images(path) if skip is None or not skip(p.name))
            if not found:
                yield path, f"no images in folder (looked for {', '.join(IMAGE_SUFFIXES)})"
            for p in found:
                yield p, None
        elif not path.exists():
            yield path, "no such file"
        else:
            yield path, None


def _folder_images(folder: Path):
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    return [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]

"""The front-end: any picture of a digit -> MNIST form (28x28, white on black, box 20, centred by mass).

Named stages, each in its own module and tested on its own:

1. load (:mod:`.load`): file -> float grey in [0, 1];
2. MNIST form? an image already normalised the MNIST way is used as it is;
3. working size: large photos shrink (area average), tiny scans grow;
4. polarity (:mod:`.polarity`): dark ink on paper, or light on dark;
5. illumination and background (:mod:`.background`): ink map in [0, 1];
6. ink mask and digit selection (:mod:`.selection`): the strokes that belong together;
7. box fit and centre of mass (:mod:`.boxfit`).
"""

from __future__ import annotations

import os
from typing import List, Tuple, Union

import numpy as np

from mnist_edge.errors import NoDigitError
from mnist_edge.preprocess import background, boxfit, polarity, selection
from mnist_edge.preprocess.load import load_gray
from mnist_edge.preprocess.morphology import resize
from mnist_edge.preprocess.selection import NO_BACKGROUND

WORK_SIDE = 384  # photos are cleaned at most this large: fast, strokes stay several px wide
MIN_WORK_SIDE = 64  # tiny scans are enlarged to at least this, so filters have room
MIN_SIDE = 4  # fewer pixels than this across cannot hold a digit
DOUBTFUL_COVERAGE = 0.35  # "ink" covering this much of the image may be the background


def is_mnist_form(gray: np.ndarray) -> bool:
    """True for a 28x28 image normalised the MNIST way.

    White ink on a black field, the ink's box 18-21 px on its longer side and
    its centre of mass within a pixel of the centre (every MNIST test image
    qualifies: box 19-20, centre 14.0 +- 0.5). Such an image is used as is.

    Args:
        gray: float grey in [0, 1].

    Returns:
        Whether the image is in MNIST form.
    """
    if gray.shape != (boxfit.FIELD, boxfit.FIELD):
        return False
    ink = gray > 0.1
    if ink.mean() > 0.5 or not ink.any():
        return False
    ys, xs = np.nonzero(ink)
    size = max(ys.max() - ys.min(), xs.max() - xs.min()) + 1
    total = float(gray.sum())
    cy = float((np.arange(28) * gray.sum(axis=1)).sum()) / total
    cx = float((np.arange(28) * gray.sum(axis=0)).sum()) / total
    return 18 <= size <= 21 and abs(cy - boxfit.CENTRE) <= 1.0 and abs(cx - boxfit.CENTRE) <= 1.0


def working_image(gray: np.ndarray) -> np.ndarray:
    """Scales the image so its longer side is between 64 and 384 px.

    Raises:
        NoDigitError: fewer than 4 pixels across, before or after scaling
            (a 30x8232 strip would be 1 px wide).
    """
    h, w = gray.shape
    if min(h, w) < MIN_SIDE:
        raise NoDigitError(f"no digit found (image only {w}x{h} pixels)")
    longest = max(h, w)
    if longest > WORK_SIDE:
        f = WORK_SIDE / longest
        if min(h, w) * f < MIN_SIDE:
            raise NoDigitError(f"no digit found (image {w}x{h} is a strip, too narrow for a digit)")
        return resize(gray, (round(w * f), round(h * f)), "box")
    if longest < MIN_WORK_SIDE:
        f = int(np.ceil(MIN_WORK_SIDE / longest))
        return resize(gray, (w * f, h * f), "bilinear")
    return gray


def _normalise(ink: background.InkMap) -> Tuple[np.ndarray, float, int]:
    """Ink map -> MNIST form, with the share of the image the ink covers and its pieces."""
    mask, width = selection.ink_mask(ink)
    norm = selection.normalised(ink)
    # Faint joins matter in clean scans; on a photographed page they would
    # bring the paper's grid along.
    photo = ink.filter_width is not None
    digit = selection.select_digit(mask, width, None if photo else norm, photo=photo)
    crop = boxfit.thicken(boxfit.crop_digit(norm, digit), digit.stroke_width)
    return boxfit.centre_by_mass(boxfit.to_box(crop)), float(mask.mean()), digit.pieces


def _reading(work: np.ndarray, dark_ink: bool) -> Tuple[np.ndarray, float, int]:
    ink = background.ink_map(work, dark_ink)
    if not ink.has_strokes:
        raise NoDigitError("no digit found (blank or too faint)")
    return _normalise(ink)


def to_mnist_candidates(gray: np.ndarray) -> List[np.ndarray]:
    """The MNIST form of an image, and the other polarity's when the polarity is in doubt.

    The polarity is in doubt when the evidence for it was weak, or when the
    ink it implies covers much of the image (a fat digit cropped tightly, at
    very low resolution, looks much the same either way round). The caller
    (:class:`mnist_edge.runtime.reading.Reader`) then keeps the second reading only
    when the model is clearly surer of it.

    Args:
        gray: float32 grey in [0, 1], shape (H, W), any size from 4x4 up.

    Returns:
        One or two ``(28, 28)`` uint8 images, the likelier first.

    Raises:
        NoDigitError: blank, near-blank, or nothing digit-like either way.
    """
    gray = np.nan_to_num(np.asarray(gray, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    gray = np.clip(gray, 0.0, 1.0)
    if is_mnist_form(gray):
        return [np.round(gray * 255).astype(np.uint8)]
    work = working_image(gray)
    dark_ink, certain = polarity.decide(work)
    try:
        form, coverage, _ = _reading(work, dark_ink)
    except NoDigitError as first_error:
        if first_error.args[0] != NO_BACKGROUND:
            raise
        # "Ink" everywhere: the background was taken for ink. The other way round?
        try:
            return [_reading(work, not dark_ink)[0]]
        except NoDigitError:
            raise first_error from None
    if certain and coverage < DOUBTFUL_COVERAGE:
        return [form]
    try:
        return [form, _reading(work, not dark_ink)[0]]
    except NoDigitError:
        return [form]


def to_mnist(gray: np.ndarray) -> np.ndarray:
    """Turns a grey image of a digit into MNIST form (the likelier polarity).

    Args:
        gray: float32 grey in [0, 1], shape (H, W), any size from 4x4 up.

    Returns:
        ``(28, 28)`` uint8, white digit on black.

    Raises:
        NoDigitError: blank, near-blank, or nothing digit-like.
    """
    return to_mnist_candidates(gray)[0]


def preprocess_file(path: Union[str, os.PathLike]) -> np.ndarray:
    """Reads an image file (or ``.npy``) and returns it in MNIST form.

    Args:
        path: PNG, JPEG, BMP, GIF, WebP, TIFF or ``.npy``.

    Returns:
        ``(28, 28)`` uint8, white digit on black, ready for ``Predictor.predict``.

    Raises:
        ImageError: unreadable input; NoDigitError when there is no digit.
    """
    return to_mnist(load_gray(path))

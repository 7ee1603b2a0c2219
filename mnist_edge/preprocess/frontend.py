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
from typing import Union

import numpy as np

from mnist_edge.errors import NoDigitError
from mnist_edge.preprocess import background, boxfit, polarity, selection
from mnist_edge.preprocess.load import load_gray
from mnist_edge.preprocess.morphology import resize

WORK_SIDE = 384  # photos are cleaned at most this large: fast, strokes stay several px wide
MIN_WORK_SIDE = 64  # tiny scans are enlarged to at least this, so filters have room
MIN_SIDE = 4  # fewer pixels than this across cannot hold a digit


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
        NoDigitError: fewer than 4 pixels across.
    """
    h, w = gray.shape
    if min(h, w) < MIN_SIDE:
        raise NoDigitError(f"no digit found (image only {w}x{h} pixels)")
    longest = max(h, w)
    if longest > WORK_SIDE:
        f = WORK_SIDE / longest
        return resize(gray, (max(1, round(w * f)), max(1, round(h * f))), "box")
    if longest < MIN_WORK_SIDE:
        f = int(np.ceil(MIN_WORK_SIDE / longest))
        return resize(gray, (w * f, h * f), "bilinear")
    return gray


def _ink_with_polarity(work: np.ndarray) -> background.InkMap:
    """The ink map for the detected polarity.

    When the polarity came from the weaker (local contrast) reading and
    finds no strokes, the other polarity is tried.
    """
    vote = polarity.border_vote(work)
    dark_ink = polarity.local_contrast_vote(work) if vote is None else vote
    ink = background.ink_map(work, dark_ink)
    if not ink.has_strokes:
        raise NoDigitError("no digit found (blank or too faint)")
    return ink


def to_mnist(gray: np.ndarray) -> np.ndarray:
    """Turns a grey image of a digit into MNIST form.

    Args:
        gray: float32 grey in [0, 1], shape (H, W), any size from 4x4 up.

    Returns:
        ``(28, 28)`` uint8, white digit on black.

    Raises:
        NoDigitError: blank, near-blank, or nothing digit-like.
    """
    gray = np.nan_to_num(np.asarray(gray, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    gray = np.clip(gray, 0.0, 1.0)
    if is_mnist_form(gray):
        return np.round(gray * 255).astype(np.uint8)
    work = working_image(gray)
    ink = _ink_with_polarity(work)
    mask, width = selection.ink_mask(ink)
    norm = selection.normalised(ink)
    # Faint joins matter in clean scans; on a photographed page they would
    # bring the paper's grid along.
    photo = ink.filter_width is not None
    digit = selection.select_digit(mask, width, None if photo else norm, photo=photo)
    crop = boxfit.crop_digit(norm, digit)
    crop = boxfit.thicken(crop, digit.stroke_width)
    return boxfit.centre_by_mass(boxfit.to_box(crop))


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

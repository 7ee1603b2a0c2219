"""MNIST's own normalisation: the digit's box to 20 px keeping its aspect, centred by mass in 28x28.

MNIST was made by anti-aliasing NIST's binary digits into a 20x20 box
(longer side 20, aspect kept) and translating the result so that its centre
of mass sits at the centre pixel of a 28x28 field (measured on the test set:
box 19-20 px, centre of mass 14.0 +- 0.5). Strokes end up about a tenth of
the box wide; a fine pen on a large digit is thickened towards that before
the box is shrunk, or it would fade to a faint line.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from mnist_edge.errors import NoDigitError
from mnist_edge.preprocess.morphology import dilate3, quantile, resize
from mnist_edge.preprocess.selection import Digit

BOX = 20
FIELD = 28
CENTRE = 14.0  # MNIST's centre of mass, in pixel-index coordinates
MIN_STROKE_OF_BOX = 1.0 / 11.0  # thinner strokes are thickened towards MNIST's ~1/10
MAX_REWIDTHED_ASPECT = 1.2  # a digit read at another width no wider than this (of its height): MNIST's widest


def crop_digit(ink: np.ndarray, digit: Digit) -> np.ndarray:
    """The digit's soft ink inside its box; other ink is cleared.

    Args:
        ink: the normalised ink map (stroke level = 1).
        digit: the selected digit.

    Returns:
        The crop, float32 in [0, 1].
    """
    top, bottom, left, right = digit.box
    keep = dilate3(digit.mask.astype(np.uint8)).astype(bool)  # keep the strokes' soft edges
    crop = np.where(keep, np.clip(ink, 0.0, 1.0), 0.0)
    return crop[top : bottom + 1, left : right + 1].astype(np.float32)


def thicken(crop: np.ndarray, stroke_px: float) -> np.ndarray:
    """Grey-dilates strokes thinner than :data:`MIN_STROKE_OF_BOX` of the box."""
    target = MIN_STROKE_OF_BOX * max(crop.shape)
    steps = int(np.ceil((target - stroke_px) / 2.0))
    if steps <= 0:
        return crop
    crop = np.pad(crop, steps)
    for _ in range(steps):
        crop = dilate3(crop)
    return crop


def to_box(crop: np.ndarray) -> np.ndarray:
    """Scales the crop so its longer side is 20 px, keeping the aspect ratio.

    Shrinking averages areas (as MNIST's anti-aliasing did); enlarging a
    small crop interpolates. Ink is renormalised so full strokes are 1.
    """
    h, w = crop.shape
    if min(h, w) == 0:  # kept: the last line of "never a traceback" for any crop
        raise NoDigitError("no digit found")
    f = BOX / max(h, w)
    new_w, new_h = max(1, round(w * f)), max(1, round(h * f))
    small = resize(crop, (new_w, new_h), "box" if f < 1 else "bilinear")
    inked = small[small > 0.05]
    peak = quantile(inked, 0.95) if inked.size else 0.0
    if peak <= 0:
        raise NoDigitError("no digit found")
    return np.clip(small / peak, 0.0, 1.0)


def centre_by_mass(box: np.ndarray) -> np.ndarray:
    """Places the box in a 28x28 field with its centre of mass at MNIST's centre.

    Args:
        box: the scaled digit, longer side 20.

    Returns:
        ``(28, 28)`` uint8, white digit on black.
    """
    h, w = box.shape
    total = float(box.sum())
    if total <= 0:
        raise NoDigitError("no digit found")
    cy = float((np.arange(h) * box.sum(axis=1)).sum()) / total
    cx = float((np.arange(w) * box.sum(axis=0)).sum()) / total
    # Integer shift as MNIST's was, never pushing ink off the field.
    top = int(np.clip(round(CENTRE - cy), 0, FIELD - h))
    left = int(np.clip(round(CENTRE - cx), 0, FIELD - w))
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top : top + h, left : left + w] = box
    return np.round(field * 255).astype(np.uint8)


def at_width(form: np.ndarray, factor: float) -> Optional[np.ndarray]:
    """The same digit at ``factor`` times its width, in MNIST form again; None if that is too wide.

    Some writers' digits are much narrower than MNIST's (a narrow marker hand
    writes a 0 or a 4 half as wide), and a size-normalised scan stretches a 1
    into a bar; the model doubts both. The reader reads a doubted digit again
    this way (:class:`mnist_edge.runtime.reading.Reader`).

    Args:
        form: ``(28, 28)`` uint8 in MNIST form.
        factor: the new width as a share of the old (above 1: wider).

    Returns:
        ``(28, 28)`` uint8, or None when the digit would be wider than
        :data:`MAX_REWIDTHED_ASPECT` of its height (or the form is blank).
    """
    ink = form.astype(np.float32) / 255.0
    ys, xs = np.nonzero(ink > 0.05)
    if ys.size == 0:
        return None
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    if w * factor > MAX_REWIDTHED_ASPECT * h:
        return None
    # Area-average when squeezing (a fat bar becomes a stroke), interpolate when widening.
    resample = "box" if factor < 1 else "bilinear"
    rewidthed = np.clip(resize(crop, (max(1, round(w * factor)), h), resample), 0.0, 1.0)
    try:
        return centre_by_mass(to_box(rewidthed))
    except NoDigitError:  # ink so faint that squeezing averaged it away: no other width to read
        return None

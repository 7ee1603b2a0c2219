"""Which ink is the digit: an ink mask, its connected components, and the strokes that belong together.

A digit is often more than one component: the bar of a 5, the two strokes
of a 4 written apart, a dotted or broken 7. Starting from the largest
component, every component within reach of the group's box joins it, and
the reach grows with the group (a quarter of its size, at least two stroke
widths). Specks, paper texture and thin grid lines are dropped first.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np

from mnist_edge.errors import NoDigitError
from mnist_edge.preprocess.background import InkMap
from mnist_edge.preprocess.components import Components, label
from mnist_edge.preprocess.morphology import dilate3, erode3, otsu, stroke_width
from mnist_edge.preprocess.ruling import RULED_PAGE_SIDE, remove_ruled_lines

REACH_OF_GROUP = 0.25  # a stroke within a quarter of the digit's size belongs to it
REACH_OF_STROKES = 2.0  # ... or within two stroke widths (dots of a dotted 7)
MIN_LINE_FREE_WIDTH = 4.0  # strokes at least this wide (px) survive removing 1-2 px lines
MAX_INK_FRACTION = 0.6  # more "ink" than this is a background, not a digit
NO_BACKGROUND = "no digit found (no ink on a background)"
FAINT_INK = 0.2  # hysteresis: ink this strong (of the stroke level) joins strokes it touches


@dataclasses.dataclass
class Digit:
    """The digit's pixels at working resolution.

    Attributes:
        mask: ``(H, W)`` bool, the strokes that make up the digit.
        box: ``(top, bottom, left, right)``, inclusive.
        stroke_width: typical stroke width in pixels.
        pieces: how many separate pieces of ink (specks aside) the image holds.
    """

    mask: np.ndarray
    box: Tuple[int, int, int, int]
    stroke_width: float
    pieces: int = 1


def normalised(ink: InkMap) -> np.ndarray:
    """The ink map with the stroke level at 1, clipped to [0, 1]."""
    return np.clip(ink.ink / max(ink.level, 1e-6), 0.0, 1.0)


def ink_mask(ink: InkMap) -> Tuple[np.ndarray, float]:
    """Thresholds the ink map and drops 1-2 px lines and specks where strokes are wider.

    On a photographed page (``ink.filter_width`` set) the paper's ruling goes
    first (:func:`mnist_edge.preprocess.ruling.remove_ruled_lines`).

    Args:
        ink: the ink map.

    Returns:
        ``(mask, stroke width in px)``.
    """
    norm = normalised(ink)
    mask = norm > max(otsu(norm), 0.4)
    width = stroke_width(mask)
    if ink.filter_width is not None and min(mask.shape) >= RULED_PAGE_SIDE:
        # A photographed page: its ruling is no ink. (Not in a small image
        # enlarged to the working size: a garment's seams would go.)
        ruled = remove_ruled_lines(mask, width)
        if ruled.any():
            # Thin lines can outnumber the strokes' pixels: the width is the strokes' once they are gone.
            mask, width = ruled, stroke_width(ruled)
    if width >= MIN_LINE_FREE_WIDTH:
        opened = dilate3(erode3(mask.astype(np.uint8))).astype(bool)
        if opened.any():
            mask = opened
            width = stroke_width(mask)
    return mask, width


def _box_gap(comps: Components, box: Tuple[int, int, int, int]) -> np.ndarray:
    """Chebyshev gap between each component's box and ``box`` (0 when they overlap)."""
    top, bottom, left, right = box
    gaps = np.stack([comps.top - bottom, top - comps.bottom, comps.left - right, left - comps.right])
    return np.maximum(gaps.max(axis=0), 0)


def significant(comps: Components, width: float) -> np.ndarray:
    """Components large enough to be strokes, not specks (index 0 excluded)."""
    largest = comps.area[1:].max()
    floor = max(4.0, 0.01 * largest, 0.25 * width * width)
    keep = comps.area >= floor
    keep[0] = False
    return keep


def along_border(box: Tuple[int, int, int, int], shape: Tuple[int, int]) -> bool:
    """Ink lying along an image edge: a shadow's rim or the page's edge, not a digit.

    A digit may meet the edge of a photo (when it is cut off); ink that
    follows the edge for half its length, hugging it, is the lighting.
    """
    top, bottom, left, right = box
    h, w = shape
    tall, wide = bottom - top + 1, right - left + 1
    if (left == 0 or right == w - 1) and tall >= 0.5 * h and wide <= 0.25 * tall:
        return True
    return (top == 0 or bottom == h - 1) and wide >= 0.5 * w and tall <= 0.25 * wide


def _grow_group(comps: Components, candidates: np.ndarray, width: float) -> np.ndarray:
    """Members of the group grown from the largest candidate."""
    seed = int(np.argmax(np.where(candidates, comps.area, -1)))
    member = np.zeros(comps.count + 1, dtype=bool)
    member[seed] = True
    while True:
        box = _group_box(comps, member)
        size = max(box[1] - box[0], box[3] - box[2]) + 1
        reach = max(REACH_OF_GROUP * size, REACH_OF_STROKES * width)
        joining = candidates & ~member & (_box_gap(comps, box) <= reach)
        if not joining.any():
            return member
        member |= joining


def _group_box(comps: Components, member: np.ndarray) -> Tuple[int, int, int, int]:
    return (
        int(comps.top[member].min()),
        int(comps.bottom[member].max()),
        int(comps.left[member].min()),
        int(comps.right[member].max()),
    )


def _with_faint_ink(norm: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """Hysteresis: faint ink (a thin join, a pen lifting) touching the digit belongs to it."""
    faint = label(norm > FAINT_INK)
    touching = np.unique(faint.labels[digit])
    return np.isin(faint.labels, touching[touching > 0]) | digit


def select_digit(
    mask: np.ndarray, width: float, norm: Optional[np.ndarray] = None, photo: bool = False
) -> Digit:
    """Keeps the digit's strokes: the largest component and everything within reach.

    Args:
        mask: the ink mask.
        width: the typical stroke width (px).
        norm: the normalised ink map; faint ink touching the digit joins it.
        photo: the image is a photographed page (shading was removed):
            components hugging its edges are lighting, not ink.

    Returns:
        The :class:`Digit`.

    Raises:
        NoDigitError: no ink, or only specks, or ink everywhere.
    """
    h, w = mask.shape
    if mask.mean() > MAX_INK_FRACTION:
        raise NoDigitError(NO_BACKGROUND)
    comps = label(mask)
    if comps.count == 0:
        raise NoDigitError("no digit found")
    candidates = significant(comps, width)
    pieces = int(candidates.sum())
    if pieces == 0:
        # A band along a strip's full width reads as one very wide stroke, and
        # then every piece is smaller than a "stroke": there is nothing to grow.
        raise NoDigitError("no digit found (no stroke-like ink)")
    while True:
        member = _grow_group(comps, candidates, width)
        box = _group_box(comps, member)
        if not (photo and along_border(box, mask.shape)):
            break
        candidates &= ~member
        if not candidates.any():
            raise NoDigitError("no digit found (only the edges of a shadow or the page)")
    digit = member[comps.labels]
    if norm is not None:
        digit = _with_faint_ink(norm, digit)
    size = max(box[1] - box[0], box[3] - box[2]) + 1
    if digit.sum() < 0.0004 * h * w and size < 0.04 * max(h, w):
        raise NoDigitError("no digit found (only specks)")
    return Digit(digit, box, max(stroke_width(digit), 1.0), pieces)

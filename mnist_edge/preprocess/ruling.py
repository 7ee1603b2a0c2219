"""The paper's ruling: the lines of squared or ruled paper in a photographed page's ink mask.

On a photo the paper's lines are dark enough to pass for ink. They are
straight runs thinner than the strokes: :func:`remove_ruled_lines` takes
them out of the mask (the single digit's ink mask in
:func:`mnist_edge.preprocess.selection.ink_mask`, and so the number's), and
:func:`is_ruling_dash` tells a leftover dash of a line from a stroke.

numpy only.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from mnist_edge.preprocess.morphology import run_lengths

RULED_LINE = 0.1  # a straight run this long (of the shorter side) is the paper's line...
RULED_THICKNESS = 2  # ... when it is at most this thick (px)
LINE_THICKNESS_OF_STROKE = 0.75  # ... and thinner than this share of the strokes
LINE_GAP = 3  # gaps this short (px) in a line are the light's, not the paper's
RULED_PAGE_SIDE = 96  # an image shorter than this (px, working size) is no photographed page


def remove_ruled_lines(mask: np.ndarray, width: float) -> np.ndarray:
    """The mask without the lines of squared or ruled paper: straight runs thinner than the strokes.

    Digits are often small on a photographed page, so their strokes are not
    much wider than the paper's lines, and those lines (whole, or broken by
    the light) would join the digits, pass for 1s, or, shrunk to the working
    size, beat in a coarse lattice that outweighs a small digit. A pixel in a
    horizontal run at least :data:`RULED_LINE` of the shorter side long (and
    six stroke widths) that is thinner there than both
    :data:`RULED_THICKNESS` pixels and three quarters of the strokes is a
    line; the same upright. Where a stroke crosses a line the run is thick,
    and stays.
    """
    long = max(RULED_LINE * min(mask.shape), 6 * width)
    thin = min(RULED_THICKNESS, LINE_THICKNESS_OF_STROKE * width)
    across, down = run_lengths(mask, 1), run_lengths(mask, 0)
    # Light and noise break a line into dashes: its length is measured across short gaps.
    along = run_lengths(_bridged(mask, 1), 1), run_lengths(_bridged(mask, 0), 0)
    lines = ((along[0] >= long) & (down <= thin)) | ((along[1] >= long) & (across <= thin))
    return mask & ~lines


def is_ruling_dash(box: Tuple[int, int, int, int], width: float) -> bool:
    """A dash of the paper's ruling: a piece no thicker, upright or across, than a ruled line.

    Args:
        box: the piece's (top, bottom, left, right), inclusive.
        width: the strokes' width (px).
    """
    top, bottom, left, right = box
    return min(bottom - top, right - left) + 1 <= min(RULED_THICKNESS, LINE_THICKNESS_OF_STROKE * width)


def _bridged(mask: np.ndarray, axis: int) -> np.ndarray:
    """The mask with gaps of at most :data:`LINE_GAP` pixels along ``axis`` filled."""
    return mask | (run_lengths(~mask, axis) <= LINE_GAP)

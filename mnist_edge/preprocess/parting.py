"""Parting two touching digits along a path: the least ink from the top of a group to its bottom.

A straight cut through two digits that overlap slices both: the right
digit's stroke reaches under the left one's. The cheapest path from top to
bottom, one pixel a row and at most one column sideways a step, threads
between them instead and crosses ink only where they touch. It starts at
the group's thinnest column near its middle, and stays within
:data:`PATH_BAND` of it; each sideways step costs :data:`PATH_STEP_COST`
ink pixels, so it bends only to save ink. This is the "least-cost path"
segmentation of handwriting OCR (a drop-fall that may also climb around
a stroke).

numpy only.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

PATH_BAND = 0.25  # of the group's height, either side of the start column
PATH_STEP_COST = 0.3  # ink pixels a sideways step costs: the path bends only to save ink
PATH_START = (0.3, 0.7)  # the path starts at the thinnest column in this span of the width
MIN_PART_SHARE = 0.1  # each side keeps at least this share of the ink, or it is no parting

Box = Tuple[int, int, int, int]  # top, bottom, left, right (inclusive)


def least_ink_path(
    inside: np.ndarray, start: int, band: int, step_cost: float = PATH_STEP_COST
) -> np.ndarray:
    """The column of the cheapest top-to-bottom path in each row (dynamic programming over rows).

    Args:
        inside: ``(h, w)`` bool ink.
        start: the column the path stays near.
        band: how many columns it may stray either side of ``start``.
        step_cost: what a sideways step costs, in ink pixels crossed.

    Returns:
        ``(h,)`` ints: the path's column in each row.
    """
    h, w = inside.shape
    lo, hi = max(0, start - band), min(w - 1, start + band)
    ink = inside[:, lo : hi + 1].astype(np.float32)
    span = np.arange(hi - lo + 1)
    cost = ink[0].copy()
    came = np.zeros((h, len(span)), np.int8)  # where each cell was reached from: -1, 0 or +1 column
    for r in range(1, h):
        from_left = np.r_[np.inf, cost[:-1]] + step_cost
        from_right = np.r_[cost[1:], np.inf] + step_cost
        options = np.stack([from_left, cost, from_right])
        pick = np.argmin(options, axis=0)
        cost = options[pick, span] + ink[r]
        came[r] = pick - 1
    column = int(np.argmin(cost))
    path = np.zeros(h, np.int64)
    for r in range(h - 1, -1, -1):
        path[r] = column
        column += int(came[r, column])
    return path + lo


def split_along_path(mask: np.ndarray, box: Box) -> Optional[List[np.ndarray]]:
    """The group's ink parted left and right of its least-ink path, or None if one side is a speck.

    Args:
        mask: the group's ink (bool, any size).
        box: its bounding box in ``mask``.

    Returns:
        Two masks the shape of ``mask``, left then right; the path's own
        pixels go right.
    """
    top, bottom, left, right = box
    inside = mask[top : bottom + 1, left : right + 1]
    h, w = inside.shape
    first, last = int(PATH_START[0] * w), int(PATH_START[1] * w) + 1
    if last - first < 1:
        return None
    start = first + int(np.argmin(inside[:, first:last].sum(axis=0)))
    path = least_ink_path(inside, start, max(2, int(round(PATH_BAND * h))))
    on_left = np.arange(w)[None, :] < path[:, None]
    total = int(inside.sum())
    parts = []
    for side in (inside & on_left, inside & ~on_left):
        if side.sum() < MIN_PART_SHARE * total:
            return None
        part = np.zeros_like(mask)
        part[top : bottom + 1, left : right + 1] = side
        parts.append(part)
    return parts

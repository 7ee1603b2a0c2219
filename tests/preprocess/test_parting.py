"""Parting touching digits along the least-ink path (preprocess/parting.py)."""

import numpy as np
import pytest

from mnist_edge.preprocess import parting


def _interlocked():
    """Two blocks that share columns: the left one wide at the top, the right one wide at the bottom.

    They touch where the left's top meets the right's bottom, so no straight
    cut parts them without slicing one.
    """
    left = np.zeros((20, 16), bool)
    left[0:10, 0:10] = True
    left[10:20, 0:5] = True
    right = np.zeros((20, 16), bool)
    right[10:20, 7:16] = True
    right[0:10, 13:16] = True
    return left, right


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize(
    "gap_columns",
    [
        [6] * 20,  # a straight gap
        [3 + r // 2 for r in range(20)],  # a gap leaning right
        [12 - r // 3 for r in range(20)],  # a gap leaning left
    ],
)
def test_the_path_follows_a_gap_through_the_ink(gap_columns):
    ink = np.ones((20, 16), bool)
    for row, column in enumerate(gap_columns):
        ink[row, column] = False
    path = parting.least_ink_path(ink, start=int(np.median(gap_columns)), band=8)
    assert list(path) == gap_columns


def test_the_path_stays_in_its_band():
    ink = np.ones((20, 30), bool)
    ink[:, 25] = False  # a free column out of reach
    path = parting.least_ink_path(ink, start=10, band=4)
    assert path.min() >= 6 and path.max() <= 14


def test_interlocked_digits_part_along_the_path_where_no_straight_cut_can():
    left, right = _interlocked()
    mask = left | right
    parts = parting.split_along_path(mask, (0, 19, 0, 15))
    assert parts is not None
    assert _iou(parts[0], left) >= 0.9 and _iou(parts[1], right) >= 0.9
    best_straight = max(
        min(_iou(mask & (np.arange(16) < c), left), _iou(mask & (np.arange(16) >= c), right))
        for c in range(1, 16)
    )
    assert best_straight <= 0.85


def test_parts_keep_the_masks_shape_and_share_no_pixel():
    left, right = _interlocked()
    mask = np.zeros((30, 40), bool)
    mask[5:25, 10:26] = left | right
    parts = parting.split_along_path(mask, (5, 24, 10, 25))
    assert [p.shape for p in parts] == [mask.shape, mask.shape]
    assert not (parts[0] & parts[1]).any() and np.array_equal(parts[0] | parts[1], mask)


def test_a_speck_beside_a_digit_is_no_parting():
    mask = np.zeros((20, 20), bool)
    mask[:, 0:17] = True  # a block...
    mask[:, 9] = False  # ...with a free column whose right side holds all but a sliver
    mask[:, 10:17] = False
    mask[9:11, 10:12] = True  # a speck right of the free column
    assert parting.split_along_path(mask, (0, 19, 0, 16)) is None

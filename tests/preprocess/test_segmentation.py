"""Segmentation stages (preprocess/segmentation.py) on small synthetic masks and drawings: no model."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_edge.errors import NoDigitError
from mnist_edge.preprocess import segmentation as seg
from mnist_edge.preprocess.components import label
from mnist_edge.preprocess.morphology import run_lengths
from mnist_edge.preprocess.slant import Frame


def mask_of(boxes, shape=(60, 200)):
    """A mask with filled rectangles (top, bottom, left, right), inclusive."""
    mask = np.zeros(shape, bool)
    for top, bottom, left, right in boxes:
        mask[top : bottom + 1, left : right + 1] = True
    return mask


def groups_of(mask):
    comps = label(mask)
    keep = np.ones(comps.count + 1, bool)
    keep[0] = False
    groups = seg.column_groups(comps, keep)
    return sorted(tuple(int(comps.left[g].min()) for g in [g]) for g in groups), comps, groups


RUNS = [
    ("one row", [[1, 1, 0, 1]], 1, [[2, 2, 0, 1]]),
    ("a column", [[1], [1], [0]], 0, [[2], [2], [0]]),
    ("empty", [[0, 0]], 1, [[0, 0]]),
    ("full", [[1, 1, 1]], 1, [[3, 3, 3]]),
]


@pytest.mark.parametrize("name,mask,axis,expected", RUNS, ids=[r[0] for r in RUNS])
def test_run_lengths(name, mask, axis, expected):
    assert run_lengths(np.array(mask, bool), axis).tolist() == expected


GROUPING = [
    # (case, boxes, groups expected)
    ("two digits apart", [(10, 50, 10, 40), (10, 50, 60, 90)], 2),
    ("a 5's flag over its body", [(10, 14, 30, 60), (16, 50, 10, 50)], 1),
    ("a 4 in two strokes", [(10, 35, 10, 45), (10, 50, 36, 40)], 1),
    ("dots of a dotted 7, one above another", [(10, 13, 20, 23), (20, 23, 18, 21), (30, 33, 16, 19)], 1),
    ("slanted neighbours overlapping a little", [(10, 30, 10, 40), (35, 50, 36, 70)], 2),
]


@pytest.mark.parametrize("name,boxes,count", GROUPING, ids=[g[0] for g in GROUPING])
def test_pieces_sharing_most_of_their_width_are_one_digit(name, boxes, count):
    _, _, groups = groups_of(mask_of(boxes))
    assert len(groups) == count


def lines_of(mask):
    comps = label(mask)
    keep = np.ones(comps.count + 1, bool)
    keep[0] = False
    return comps, seg.line_bands(comps, keep)


def test_two_lines_of_digits_are_two_lines_top_first():
    comps, lines = lines_of(
        mask_of([(5, 25, 10, 25), (5, 25, 40, 55), (40, 60, 10, 25), (40, 60, 40, 55)], (70, 80))
    )
    assert len(lines) == 2
    assert comps.top[lines[0]].max() == 5


def test_a_slanted_line_is_one_line():
    _, lines = lines_of(
        mask_of([(30, 50, 5, 20), (22, 42, 30, 45), (14, 34, 55, 70), (6, 26, 80, 95)], (60, 100))
    )
    assert len(lines) == 1


def test_a_flag_written_apart_stays_with_its_line():
    _, lines = lines_of(mask_of([(5, 8, 10, 40), (12, 50, 10, 40), (12, 50, 60, 90)], (60, 100)))
    assert len(lines) == 1 and len(lines[0]) == 3


def test_a_stray_mark_is_no_line():
    _, lines = lines_of(mask_of([(5, 45, 10, 40), (5, 45, 60, 90), (50, 90, 140, 141)], (100, 150)))
    assert len(lines) == 1


HEIGHTS = [
    # (case, boxes, line height): a heavy flat piece (a flag written apart) must not pull the height down
    ("a digit and its heavy flag", [(6, 13, 30, 75), (16, 50, 10, 40)], 35),
    ("three digits", [(10, 50, 10, 30), (12, 50, 40, 60), (10, 46, 70, 90)], 39),
    ("one digit", [(10, 50, 10, 30)], 41),
]


@pytest.mark.parametrize("name,boxes,height", HEIGHTS, ids=[h[0] for h in HEIGHTS])
def test_line_height_is_the_upper_median_of_the_inky_groups(name, boxes, height):
    _, comps, groups = groups_of(mask_of(boxes))
    assert seg.line_height(comps, groups) == height


CLASSES = [
    # (case, box, expected): line height 40, the line's band rows 10..50
    ("a digit", (10, 50, 0, 25), "digit"),
    ("a dash at mid-height", (28, 32, 0, 20), "dash"),
    ("a decimal dot on the baseline", (46, 50, 0, 4), None),
    ("an underline below the line", (55, 57, 0, 30), None),
    ("a speck", (20, 21, 0, 1), None),
]


@pytest.mark.parametrize("name,box,expected", CLASSES, ids=[c[0] for c in CLASSES])
def test_classify_digits_dashes_and_dots(name, box, expected):
    assert seg.classify(box, 40.0, (10, 50)) == expected


def test_overlapping_touching_digits_part_where_they_touch():
    image = Image.new("1", (120, 80), 0)
    draw = ImageDraw.Draw(image)
    draw.ellipse((5, 10, 60, 70), outline=1, width=8)
    draw.ellipse((52, 10, 110, 70), outline=1, width=8)  # overlaps the first ring: no straight cut parts them
    mask = np.asarray(image, bool)
    ys, xs = np.nonzero(mask)
    box = (int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max()))
    parts = seg.split_at_joins(mask, box, 2, 8.0)
    assert parts is not None and len(parts) == 2
    centres = [np.nonzero(p)[1].mean() for p in parts]
    assert centres[0] < 45 < 70 < centres[1]
    assert np.array_equal(parts[0] | parts[1], mask) or (parts[0] | parts[1]).sum() >= 0.98 * mask.sum()


@pytest.mark.parametrize(
    "shape,short_at_least",
    [((100, 1000), 96), ((480, 640), 288), ((30, 40), 64)],
    ids=["long strip", "photo", "tiny"],
)
def test_working_size_keeps_digits_tall_enough(shape, short_at_least):
    work, scale = seg.working_number_image(np.zeros(shape, np.float32))
    assert min(work.shape) >= short_at_least
    assert abs(work.shape[1] / scale - shape[1]) <= scale + 1


def test_a_very_long_strip_is_worked_on_at_most_1152_wide():
    work, _ = seg.working_number_image(np.zeros((100, 4000), np.float32))
    assert max(work.shape) <= seg.NUMBER_MAX_SIDE


def test_a_wide_zero_is_likelier_than_a_wide_one():
    assert seg.digit_log_prior(1.1, 0) > seg.digit_log_prior(1.1, 1)
    assert seg.digit_log_prior(0.35, 1) > seg.digit_log_prior(0.35, 0)


def test_each_join_between_touching_parts_costs_the_touch_rate():
    one = seg.reading_log_prior([0.8])
    two = seg.reading_log_prior([0.8, 0.8])
    assert two - 2 * one == pytest.approx(np.log(seg.TOUCH_RATE))


def test_a_narrow_reading_is_unlikelier_than_one_digit():
    assert seg.reading_log_prior([0.8]) > seg.reading_log_prior([0.4, 0.4])


@pytest.mark.parametrize("aspects", [[0.4, 0.4], [0.9, 0.95], [0.7, 0.8, 0.9], [0.4] * 6], ids=str)
def test_no_parting_scores_above_the_parted_bound(aspects):
    for labels in ([None] * len(aspects), [1] * len(aspects), [0] * len(aspects)):
        assert seg.reading_log_prior(aspects, labels) <= seg.best_parted_prior() + 1e-9


def _ink(boxes, shape):
    mask = mask_of(boxes, shape)
    return seg.Ink(mask, mask.astype(np.float32), 4.0, Frame(1.0))


def test_cut_points_fall_at_the_thin_joins_and_include_both_ends():
    # three 30-px blobs joined by 4-px bridges: cuts in each bridge
    ink = _ink(
        [(10, 50, 0, 29), (28, 31, 30, 33), (10, 50, 34, 63), (28, 31, 64, 67), (10, 50, 68, 97)], (60, 98)
    )
    cuts = ink.cut_points()
    assert cuts[0] == 0 and cuts[-1] == 98
    assert any(30 <= c <= 34 for c in cuts) and any(64 <= c <= 68 for c in cuts)


def test_cut_points_are_few_for_a_narrow_group():
    ink = _ink([(0, 40, 0, 29)], (41, 30))  # one solid digit-sized blob, flat profile
    assert len(ink.cut_points()) <= 2 + int(np.ceil(seg.CUTS_PER_DIGIT * 30 / 41)) + 1


def test_columns_keep_only_the_ink_between_two_cuts():
    ink = _ink([(10, 50, 0, 29), (10, 50, 40, 69)], (60, 70))
    part = ink.columns(35, 70)
    assert part[:, 40:70].sum() == ink.mask[:, 40:70].sum() and not part[:, :35].any()


@pytest.mark.parametrize(
    "image",
    [np.ones((50, 120), np.float32), np.zeros((3, 300), np.float32), np.full((60, 60), np.nan, np.float32)],
    ids=["blank", "too thin", "nan"],
)
def test_nothing_digit_like_is_no_digit(image):
    with pytest.raises(NoDigitError):
        seg.segment(image)


def test_grow_back_hands_out_a_long_stroke_by_column_when_its_steps_run_out():
    """Growing along a long thin stroke pixel by pixel cost seconds on a scribble: after
    its steps, the rest goes to the seed nearest in column, and no pixel is lost."""
    inside = mask_of([(10, 13, 0, 199)], (24, 200))  # a 4-px line 200 px long
    seeds = np.zeros(inside.shape, np.int32)
    seeds[10:14, 0:10], seeds[10:14, 190:200] = 1, 2
    parts = seg._grow_back(inside, seeds, [1, 2], (0, 23, 0, 199), inside.shape, steps=3)
    assert np.array_equal(parts[0] | parts[1], inside) and not (parts[0] & parts[1]).any()
    assert parts[0][:, :100].sum() == inside[:, :100].sum() and not parts[0][:, 101:].any()

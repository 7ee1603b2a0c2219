"""The paper's ruling (preprocess/ruling.py): lines go, strokes stay, and a photo's digit is not its grid."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_edge.preprocess import ruling, selection, to_mnist
from mnist_edge.preprocess.background import InkMap
from mnist_edge.preprocess.morphology import run_lengths


def test_ruled_lines_go_and_strokes_stay():
    mask = np.zeros((200, 300), bool)
    mask[::25, :] = True  # the paper's lines, 1 px
    mask[:, ::25] = True
    mask[80:140, 100:106] = True  # a stroke 6 px wide
    clean = ruling.remove_ruled_lines(mask, 6.0)
    assert clean[80:140, 101:105].all()
    # only the single pixels where two lines cross are left (specks, dropped later)
    assert run_lengths(clean, 1)[25, 150:250].max() <= 1 and run_lengths(clean, 0)[150:200, 280].max() == 0


@pytest.mark.parametrize(
    "box,width,expected",
    [
        ((10, 10, 0, 80), 6.0, True),  # a 1 px dash across
        ((0, 60, 40, 41), 6.0, True),  # a 2 px dash upright
        ((0, 60, 40, 43), 6.0, False),  # 4 px wide: a stroke
        ((0, 60, 40, 41), 2.0, False),  # 2 px, but so are the strokes
    ],
)
def test_a_dash_no_thicker_than_a_line_is_the_ruling(box, width, expected):
    assert ruling.is_ruling_dash(box, width) is expected


def _photo_of_squared_paper(grid: bool, seed: int = 0) -> np.ndarray:
    """A 640x480 phone photo: uneven light, a small thick 0, and optionally dark 1 px squares of 13 px."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:480, 0:640]
    paper = 0.55 + 0.25 * xs / 640 + 0.08 * np.sin(ys / 90.0)
    if grid:
        paper = np.where((ys % 13 == 0) | (xs % 13 == 0), paper - 0.3, paper)
    digit = Image.new("L", (640, 480), 0)
    ImageDraw.Draw(digit).ellipse((500, 200, 545, 290), outline=255, width=11)  # 90 px tall
    ink = np.asarray(digit, np.float32) / 255
    gray = paper * (1 - ink) + 0.15 * ink + rng.normal(0, 0.01, paper.shape)
    return np.clip(gray, 0, 1).astype(np.float32)


def test_a_small_digit_on_squared_paper_is_read_and_not_the_grid():
    """Shrunk to the working size, the grid beats in a lattice of strong lines that outnumbers the digit."""
    plain = to_mnist(_photo_of_squared_paper(grid=False)) > 64
    gridded = to_mnist(_photo_of_squared_paper(grid=True)) > 64
    overlap = (plain & gridded).sum() / (plain | gridded).sum()
    assert overlap > 0.7, overlap


def _ink_with_a_thin_line(side: int, photo: bool) -> InkMap:
    ink = np.zeros((side, side), np.float32)
    ink[side // 2, 5 : side - 5] = 1.0  # a 1 px straight line across
    ink[10:40, 10:13] = 1.0  # a stroke 3 px wide (too thin for the opening that drops 1-2 px lines)
    return InkMap(ink, 1.0, 0.1, 0.1 if photo else None)


@pytest.mark.parametrize(
    "side,photo,line_kept",
    [
        (300, True, False),  # a photographed page: the line is its ruling
        (300, False, True),  # a clean drawing: a thin line is a stroke
        (84, True, True),  # a small image enlarged (a 28x28 garment): no page, no ruling
    ],
)
def test_the_ink_mask_drops_ruling_only_on_a_photographed_page(side, photo, line_kept):
    mask, _ = selection.ink_mask(_ink_with_a_thin_line(side, photo))
    assert mask[10:40, 10:13].all()
    assert bool(mask[side // 2, side // 2]) is line_kept

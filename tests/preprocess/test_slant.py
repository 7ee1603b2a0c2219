"""A line's slant (preprocess/slant.py): measured from the ink, sheared upright, boxes mapped back."""

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_edge.preprocess import slant


def _strokes(lefts, lean, width=220, bars=False):
    """Upright-ish digit-like strokes (a stem, with a bar when ``bars``) leaning ``lean`` degrees."""
    image = Image.new("L", (width, 100), 0)
    draw = ImageDraw.Draw(image)
    reach = math.tan(math.radians(lean)) * 80
    for left in lefts:
        draw.line((left, 90, left + reach, 10), fill=255, width=5)
        if bars:
            draw.line((left + reach, 10, left + reach + 25, 10), fill=255, width=5)
    return np.asarray(image) > 0


def _rings(lefts, width=220):
    image = Image.new("L", (width, 100), 0)
    for left in lefts:
        ImageDraw.Draw(image).ellipse((left, 10, left + 45, 90), outline=255, width=5)
    return np.asarray(image) > 0


@pytest.mark.parametrize(
    "name,mask,expected",
    [
        ("three strokes leaning 35 degrees", _strokes((20, 80, 140), 35, bars=True), 35.0),
        ("leaning left", _strokes((90, 140, 190), -32, bars=True), -32.0),
        ("leaning 12 degrees: MNIST's own lean, kept", _strokes((20, 80, 140), 12, bars=True), 0.0),
        ("one stroke: that digit's lean, not the writer's", _strokes((20,), 40), 0.0),
        ("rings side by side: no lean", _rings((10, 70, 130)), 0.0),
        ("nothing", np.zeros((50, 50), bool), 0.0),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_line_slant(name, mask, expected):
    assert slant.line_slant(mask) == pytest.approx(expected, abs=4.0), name


def test_deslant_stands_strokes_upright():
    mask = _strokes((30, 90, 150), 35)
    sheared, _ = slant.deslant(mask.astype(np.float32), 35.0, slant.Frame(1.0))
    columns = (sheared > 0.5).any(axis=0).sum()
    assert columns <= 3 * 9 < mask.any(axis=0).sum()


@pytest.mark.parametrize("lean", [35.0, -30.0])
def test_a_box_in_the_sheared_image_maps_back_to_its_stroke_in_the_input(lean):
    mask = _strokes((60,), lean)
    scale = 2.0  # the working image was the input enlarged twice
    sheared, frame = slant.deslant(mask.astype(np.float32), lean, slant.Frame(scale))
    ys, xs = np.nonzero(sheared > 0.5)
    x, y, w, h = frame.to_input((ys.min(), ys.max(), xs.min(), xs.max()))
    iys, ixs = np.nonzero(mask)
    expected = (ixs.min() / scale, iys.min() / scale, (ixs.max() - ixs.min() + 1) / scale)
    assert x == pytest.approx(expected[0], abs=3) and y == pytest.approx(expected[1], abs=2)
    assert w == pytest.approx(expected[2], abs=4) and h == pytest.approx(
        (iys.max() - iys.min() + 1) / scale, abs=2
    )


def test_an_unsheared_frame_only_scales():
    assert slant.Frame(2.0).to_input((10, 29, 40, 59)) == (20, 5, 10, 10)

"""Size-normalised one-bit scans (preprocess/unstretch.py): which images count, and how they are squeezed."""

import numpy as np
import pytest

from mnist_edge.preprocess import unstretch


def _bar(side=16, width=16):
    """A slanted fat bar from corner to corner: a 1 stretched to fill its frame, light on dark."""
    img = np.zeros((side, side), np.float32)
    for y in range(side):
        x = round((side - width // 3) * (1 - y / (side - 1)))
        img[y, x : x + max(3, width // 3)] = 1.0
    return img


def _with_margin(img, margin):
    return np.pad(img, margin)


SLAB = np.pad(np.ones((16, 12), np.float32), ((0, 0), (1, 3)))
HALF_WIDE = np.pad(np.ones((16, 8), np.float32), ((0, 0), (4, 4)))  # its faint slanted edges thresholded away
THIN = np.pad(np.ones((16, 3), np.float32), ((0, 0), (6, 7)))

CASES = [
    ("a stretched 1, light on dark", _bar(), True),
    ("a stretched 1, dark on light", 1.0 - _bar(), True),
    ("a slab-like 1 covering most of the frame", SLAB, True),
    ("a 32x32 one-bit scan", np.kron(_bar(), np.ones((2, 2), np.float32)), True),
    ("an upright 1 the threshold left half the frame wide", HALF_WIDE, True),
    ("a thin upright stroke: nothing to squeeze", THIN, False),
    ("a digit with a wide margin", _with_margin(_bar(10), 6), False),
    ("a grey image (a garment)", np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16), False),
    ("a photo-sized image", np.kron(_bar(), np.ones((8, 8), np.float32)), False),
    ("a blank frame", np.zeros((16, 16), np.float32), False),
    ("too small to hold a digit", np.eye(3, dtype=np.float32), False),
]


@pytest.mark.parametrize("what, image, expected", CASES, ids=[c[0] for c in CASES])
def test_which_images_are_stretched_scans(what, image, expected):
    assert unstretch.is_stretched_scan(image) is expected


@pytest.mark.parametrize("ink", [1.0, 0.0])
def test_narrowed_images_squeeze_the_width_on_the_background(ink):
    bar = _bar() if ink else 1.0 - _bar()
    images = unstretch.narrowed_images(bar)
    assert len(images) == len(unstretch.NARROWED_WIDTHS)
    for image, share in zip(images, unstretch.NARROWED_WIDTHS):
        assert image.shape == bar.shape and image.dtype == np.float32
        inked = np.nonzero((np.abs(image - (1.0 - ink)) > 0.5).any(axis=0))[0]
        assert inked[-1] - inked[0] + 1 <= round(16 * share)
        assert image[:, 0].tolist() == [1.0 - ink] * 16  # the sides are background


def test_no_narrowed_images_for_anything_but_a_stretched_scan():
    assert unstretch.narrowed_images(_with_margin(_bar(10), 6)) == []

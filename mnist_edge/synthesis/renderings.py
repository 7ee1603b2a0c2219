"""How digits reach users, rendered from MNIST digits: test material and training augmentation.

Each rendering turns one MNIST digit (28x28 uint8, white on black) into an
image as some source would hand it over: a size-normalised scan that the
digit fills, the same with a margin or inverted, a very low-resolution scan
enlarged again, a thin pen or a fat marker on paper, a broken or dotted
stroke, a low-contrast or blurred or JPEG-compressed copy, a photo of
squared paper (:mod:`mnist_edge.synthesis.synth`), a 4000x3000 page. They are
deterministic for a given ``numpy.random.Generator``.

numpy and Pillow only. Used by ``benchmarks/real_world.py`` (accuracy per
rendering, the front-end against plain MNIST normalisation), by the tests,
and by ``mnist-edge train --augment``.
"""

from __future__ import annotations

import io
import itertools
from typing import Callable, Dict

import numpy as np

from mnist_edge.preprocess.morphology import dilate3, erode3, resize
from mnist_edge.synthesis import synth

Rendering = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def elastic(ink: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Bends the strokes by a smooth random displacement field (another hand's wobble).

    A 4x4 grid of random offsets (``amount`` of the image size, at most) is
    interpolated bilinearly over the image and the ink resampled there.
    """
    h, w = ink.shape
    coarse = rng.normal(0, amount * max(h, w) / 2, size=(2, 4, 4)).astype(np.float32)
    dy, dx = (resize(c, (w, h), "bicubic") for c in coarse)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    y = np.clip(yy + dy, 0, h - 1.001)
    x = np.clip(xx + dx, 0, w - 1.001)
    y0, x0 = y.astype(np.int32), x.astype(np.int32)
    fy, fx = y - y0, x - x0
    top = ink[y0, x0] * (1 - fx) + ink[y0, x0 + 1] * fx
    bottom = ink[y0 + 1, x0] * (1 - fx) + ink[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def ink_box(digit: np.ndarray) -> np.ndarray:
    """The digit's ink (float in [0, 1]) cropped to its bounding box."""
    ys, xs = np.nonzero(digit > 0)
    return digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0


def fit_square(ink: np.ndarray, side: int, stretch: bool = False) -> np.ndarray:
    """Scales ink so it fills a ``side`` x ``side`` frame (aspect kept unless ``stretch``)."""
    h, w = ink.shape
    if stretch:
        new_h = new_w = side
    else:
        f = side / max(h, w)
        new_h, new_w = max(1, round(h * f)), max(1, round(w * f))
    shrink = new_h < h or new_w < w
    small = np.clip(resize(ink, (new_w, new_h), "box" if shrink else "bilinear"), 0, 1)
    frame = np.zeros((side, side), np.float32)
    top, left = (side - new_h) // 2, (side - new_w) // 2
    frame[top : top + new_h, left : left + new_w] = small
    return frame / max(float(frame.max()), 1e-6)


def enlarge(img: np.ndarray, factor: int, method: str) -> np.ndarray:
    """Enlarges an image by an integer factor with the given resampling."""
    h, w = img.shape
    return np.clip(resize(img, (w * factor, h * factor), method), 0, 1)


def to_u8(img: np.ndarray) -> np.ndarray:
    """Float [0, 1] -> uint8 pixels."""
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def with_margin(img: np.ndarray, fraction: float) -> np.ndarray:
    """Pads a digit image with background on every side."""
    pad = max(1, round(fraction * max(img.shape)))
    return np.pad(img, pad)


def counted_bitmap(ink: np.ndarray, side: int = 8) -> np.ndarray:
    """A UCI "optdigits"-style scan: a 32x32 bitmap counted in 4x4 blocks (levels 0..16)."""
    bitmap = fit_square(ink, 4 * side) > 0.5
    counts = bitmap.reshape(side, 4, side, 4).sum(axis=(1, 3))
    return counts.astype(np.float32) / 16.0


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Round-trips a grey image through JPEG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(to_u8(img)).save(buffer, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float32) / 255.0


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a binary mask to a one-pixel skeleton (vectorised)."""
    skel = np.pad(mask.astype(bool), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [
                np.roll(np.roll(skel, -dy, 0), -dx, 1)
                for dy, dx in ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))
            ]
            neighbours = sum(q.astype(np.int8) for q in p)
            ring = p + [p[0]]
            transitions = sum((~a & b).astype(np.int8) for a, b in itertools.pairwise(ring))
            if step == 0:
                cond = ~(p[0] & p[2] & p[4]) & ~(p[2] & p[4] & p[6])
            else:
                cond = ~(p[0] & p[2] & p[6]) & ~(p[0] & p[4] & p[6])
            remove = skel & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & cond
            if remove.any():
                skel &= ~remove
                changed = True
        if not changed:
            return skel[1:-1, 1:-1]


def skeleton(digit: np.ndarray, side: int) -> np.ndarray:
    """The digit's centre line at ``side`` px (its box fitted to the frame)."""
    return thin(fit_square(ink_box(digit), side) > 0.45)


def pen(skel: np.ndarray, radius: int) -> np.ndarray:
    """Draws a skeleton with a round pen of the given radius."""
    ink = skel.astype(np.float32)
    for _ in range(radius):
        ink = dilate3(ink)
    return ink


def on_paper(
    ink: np.ndarray, rng: np.random.Generator, margin: float = 0.3, paper=(0.85, 1.0), ink_level=(0.0, 0.25)
) -> np.ndarray:
    """Dark ink on light paper with a margin, a little noise."""
    img = with_margin(ink, margin)
    p, k = rng.uniform(*paper), rng.uniform(*ink_level)
    gray = p * (1 - img) + k * img
    return np.clip(gray + rng.normal(0, 0.01, gray.shape), 0, 1)


# -- the renderings ---------------------------------------------------------------


def scan_tight(digit, rng, side=16, light=True, factor=1):
    """A size-normalised scan: the digit fills a side x side frame (light on dark)."""
    img = fit_square(ink_box(digit), side)
    if factor > 1:
        img = enlarge(img, factor, "bilinear")
    return to_u8(img if light else 1 - img)


def scan_stretched(digit, rng, side=16, light=True):
    """A size-normalised one-bit scan: the digit stretched to fill the frame both ways, then thresholded.

    What form readers and UCI's Semeion set do: every digit fills its square,
    so a 1 becomes a fat bar.
    """
    img = (fit_square(ink_box(digit), side, stretch=True) > 0.5).astype(np.float32)
    return to_u8(img if light else 1 - img)


def scan_margin(digit, rng, side=16, light=True):
    """The same scan with a margin of a quarter of the frame."""
    img = with_margin(fit_square(ink_box(digit), side), 0.25)
    return to_u8(img if light else 1 - img)


def lowres(digit, rng, side=8, margin=0.0, light=True, factor=8, method="bilinear"):
    """A very low-resolution scan (counted 4x4 blocks) enlarged again."""
    img = counted_bitmap(ink_box(digit), side)
    if margin:
        img = with_margin(img, margin)
    img = enlarge(img, factor, method)
    return to_u8(img if light else 1 - img)


def down_up(digit, rng, side=12):
    """Shrunk to a side px box and enlarged back to 28x28 (dark on light)."""
    small = fit_square(ink_box(digit), side)
    big = np.clip(resize(small, (20, 20), "bilinear"), 0, 1)
    return to_u8(1 - np.pad(big, 4))


def inverted(digit, rng):
    """MNIST form, inverted: dark digit on white."""
    return 255 - digit


def tight_crop(digit, rng):
    """The MNIST digit cropped to its ink (touching every edge), at MNIST's own scale."""
    return to_u8(ink_box(digit))


def stroke_width(digit, rng, grow=2):
    """Dark on white at 4x, strokes grown (or thinned, when negative) by |grow| px at 4x."""
    big = enlarge(ink_box(digit), 4, "bicubic")
    for _ in range(abs(grow)):
        big = dilate3(big) if grow > 0 else erode3(big)
    return to_u8(on_paper(np.clip(big, 0, 1), rng))


def thin_pen(digit, rng, side=256):
    """A fine pen (about 1 % of the digit's height) on white paper, large."""
    return to_u8(on_paper(pen(skeleton(digit, side), 1), rng))


def fat_marker(digit, rng, side=160):
    """A fat marker (a fifth of the digit's height) on white paper."""
    return to_u8(on_paper(pen(skeleton(digit, side), side // 12), rng))


def broken(digit, rng, side=160):
    """A pen that skips: the stroke interrupted in a few places."""
    skel = skeleton(digit, side)
    ys, xs = np.nonzero(skel)
    for _ in range(3):
        k = rng.integers(len(ys))
        skel[max(0, ys[k] - 4) : ys[k] + 5, max(0, xs[k] - 4) : xs[k] + 5] = False
    return to_u8(on_paper(pen(skel, 5), rng))


def dotted(digit, rng, side=160, spacing=12):
    """The stroke drawn as dots, ``spacing`` px apart along its centre line."""
    skel = skeleton(digit, side)
    blocked = np.zeros_like(skel)
    dots = np.zeros_like(skel)
    for y, x in zip(*np.nonzero(skel)):  # a few hundred pixels: test material, not a hot path
        if not blocked[y, x]:
            dots[y, x] = True
            blocked[max(0, y - spacing + 1) : y + spacing, max(0, x - spacing + 1) : x + spacing] = True
    return to_u8(on_paper(pen(dots, 4), rng))


def low_contrast(digit, rng):
    """Dark grey ink on lighter grey paper: a tenth of the range apart."""
    img = enlarge(ink_box(digit), 4, "bicubic")
    gray = 0.55 - 0.1 * with_margin(img, 0.3)
    return to_u8(gray + rng.normal(0, 0.003, gray.shape))


def blurred(digit, rng):
    """Out of focus: dark on white, blurred by a fifth of the stroke width... and more."""
    from PIL import Image, ImageFilter

    img = to_u8(on_paper(enlarge(ink_box(digit), 6, "bicubic"), rng))
    return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(4)))


def jpeg_small(digit, rng):
    """A small, heavily compressed JPEG (quality 20), dark on white."""
    return to_u8(jpeg(on_paper(enlarge(ink_box(digit), 2, "bicubic"), rng), 20))


def photo(digit, rng):
    """A phone-photo-like picture of squared paper (see :mod:`mnist_edge.synthesis.synth`)."""
    from PIL import Image

    data = synth.render_photo(digit, rng)
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def huge_page(digit, rng):
    """A 4000x3000 page with the digit drawn 900 px tall somewhere on it."""
    page = np.full((3000, 4000), 0.92, np.float32)
    glyph = enlarge(ink_box(digit), 32, "bilinear")
    glyph = np.clip(resize(glyph, (round(900 * glyph.shape[1] / glyph.shape[0]), 900), "bilinear"), 0, 1)
    y, x = int(rng.integers(100, 3000 - 1000)), int(rng.integers(100, 4000 - glyph.shape[1] - 100))
    region = page[y : y + glyph.shape[0], x : x + glyph.shape[1]]
    page[y : y + glyph.shape[0], x : x + glyph.shape[1]] = region * (1 - glyph) + 0.1 * glyph
    return to_u8(page)


def mouse_canvas(digit, rng, side=160, light_on_dark=True):
    """A paint program's canvas: the digit's 1 px centre line, exact black and white, no noise."""
    line = with_margin(skeleton(digit, side).astype(np.float32), 0.15)
    return to_u8(line if light_on_dark else 1.0 - line)


RENDERINGS: Dict[str, Rendering] = {
    # the kinds of independent scans the acceptance tables name
    "scan16-tight-light": lambda d, r: scan_tight(d, r, 16, True),
    "scan16-tight-light-x4": lambda d, r: scan_tight(d, r, 16, True, 4),
    "scan16-stretched-onebit": lambda d, r: scan_stretched(d, r, 16, True),
    "scan16-stretched-onebit-dark": lambda d, r: scan_stretched(d, r, 16, False),
    "scan16-margin-light": lambda d, r: scan_margin(d, r, 16, True),
    "scan16-margin-dark": lambda d, r: scan_margin(d, r, 16, False),
    "lowres8-tight-light": lambda d, r: lowres(d, r, 8, 0.0, True, 8, "bilinear"),
    "lowres8-tight-nearest": lambda d, r: lowres(d, r, 8, 0.0, True, 4, "nearest"),
    "lowres8-native": lambda d, r: lowres(d, r, 8, 0.0, True, 1),
    "lowres8-margin-dark": lambda d, r: lowres(d, r, 8, 0.25, False, 8, "bicubic"),
    # other ways digits arrive
    "down-up-12": lambda d, r: down_up(d, r, 12),
    "down-up-16": lambda d, r: down_up(d, r, 16),
    "inverted": inverted,
    "tight-crop": tight_crop,
    "dilated": lambda d, r: stroke_width(d, r, 3),
    "eroded": lambda d, r: stroke_width(d, r, -1),
    "thin-pen": thin_pen,
    "fat-marker": fat_marker,
    "broken": broken,
    "dotted": dotted,
    "low-contrast": low_contrast,
    "blurred": blurred,
    "jpeg-q20": jpeg_small,
    "photo": photo,
    # drawn with a mouse: 1 px lines on a clean canvas (judged blank before strokes of 1-2 px counted)
    "mouse-1px-white-on-black": lambda d, r: mouse_canvas(d, r, 160, True),
    "mouse-1px-black-on-white": lambda d, r: mouse_canvas(d, r, 120, False),
}
# Slow to render (seconds each); tests use a handful.
HEAVY_RENDERINGS: Dict[str, Rendering] = {"huge-page": huge_page}

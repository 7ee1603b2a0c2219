"""Illumination and background: turn a grey image into an ink map in [0, 1].

Paper under uneven light is divided out (light multiplies paper and ink
alike); a board behind chalk is subtracted. The background is estimated by a
rank filter wider than the strokes, so strokes vanish from it and shading
stays. How wide the strokes are is not known in advance: a digit photographed
on a page has strokes a few per cent of the image wide, a tight crop of a
scan has strokes a fifth of the frame wide. So the filter starts narrow (a
tenth of the image, right for photos) and is compared with a flat
background (one level for the whole image, right for clean scans, which keep
it when nothing but noise is left away from their strokes):

* if the flat reading finds no more ink than the local one, they agree;
* if it finds more, and that extra "ink" is as dark as the strokes already
  found, it is strokes too wide for the filter: widen it and look again;
* if the extra is much fainter than the strokes, it is shading or a
  shadow, which the local reading rightly removed.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from mnist_edge.preprocess.morphology import (
    box_blur,
    closing,
    dilate3,
    erode3,
    histogram,
    opening,
    otsu,
    quantile,
    quantiles,
    resize,
)

MIN_CONTRAST = 0.06  # weakest stroke that can count as ink, as a fraction of the paper
# ...in a photographed page, where the edge of a soft shadow leaves a band of
# 5-13 % in the residual that looks like a stroke: pen and pencil strokes in
# photos darken the paper by 40 % or more (synth photos: >= 43 %).
PHOTO_MIN_CONTRAST = 0.15
NOISE_FACTOR = 6.0  # ...and it must also stand this many noise deviations above the paper
BACKGROUND_SIDE = 96  # the background is estimated at this resolution (it is smooth)
# Background filter widths tried, as fractions of the image: a tenth suits a
# digit on a page; the widest leaves only a tight crop's slow shading.
FILTER_WIDTHS = (0.1, 0.2, 0.4)
STRONG_INK = 0.5  # flat-reading ink this strong is strokes even when no filter found any
CLEAN_SHADING = 0.05  # lighting that varies less than this over the image is even
EXACT_BACKGROUND = 0.15  # this share of pixels at one exact level: a rendering or a scan
TIGHT_SPAN = 0.9  # ink across this much of the image both ways: a tight crop
TIGHT_SHADING = 0.35  # ...which keeps one level unless it is shaded more than this
SHADING_SIDE = 32  # the lighting is fitted on the image shrunk to this (it is smooth)
SHADING_FACTOR = 2.0  # ink fainter than twice the shading amplitude may be a shadow


@dataclasses.dataclass
class InkMap:
    """The ink of one image, background removed.

    Attributes:
        ink: ``(H, W)`` float32, 0 = background, larger = more ink.
        level: the stroke level (strongest ink surviving a 3x3 erosion).
        floor: the weakest level that can count as a stroke here (noise-aware).
        filter_width: the background filter's width, as a fraction of the
            image, or None when one level served the whole (clean) image.
    """

    ink: np.ndarray
    level: float
    floor: float
    filter_width: Optional[float]

    @property
    def has_strokes(self) -> bool:
        """True when something stands out of the background as strokes."""
        return self.level >= self.floor


def _residual(gray: np.ndarray, background, dark_ink: bool) -> np.ndarray:
    """Signed ink: positive where ink stands out of the background, negative where paper is brighter."""
    if dark_ink:
        residual = 1.0 - gray / np.maximum(background, 1e-3)
        if not np.isscalar(background):
            # No paper to divide by (a dark table around the page): black is not ink.
            residual = np.where(background < 0.08, 0.0, residual)
        return residual.astype(np.float32)
    return (gray - background).astype(np.float32)


def _reading(gray: np.ndarray, background, dark_ink: bool, filter_width, noise: float) -> InkMap:
    residual = _residual(gray, background, dark_ink)
    ink = np.clip(residual, 0.0, 1.0)
    paper = float(np.mean(background)) if dark_ink else 1.0
    # Noise in ink units: a dark-ink residual is relative to the paper's brightness.
    sigma = noise / max(paper, 0.05)
    if filter_width is not None:
        # Paper grain and texture, which pixel noise misses: the spread of the
        # paper side of the residual once shading is gone.
        sigma = max(sigma, _paper_spread(residual))
    weakest = MIN_CONTRAST if filter_width is None else PHOTO_MIN_CONTRAST
    # Thin lines count as strokes only in a clean image (a drawing, a render, a scan):
    # on a photographed page a 1-2 px line is the paper's ruling or grid.
    level = _stroke_level(ink, thin_lines=filter_width is None)
    return InkMap(ink, level, max(weakest, NOISE_FACTOR * sigma), filter_width)


def _paper_spread(residual: np.ndarray) -> float:
    """Spread of paper texture in a residual, from its lower third only.

    Ink only ever raises the residual and may cover half of a tight crop,
    so the spread is read between the 2nd and 30th percentiles, which are
    1.53 standard deviations apart for normal noise.
    """
    high, low = quantiles(residual, (0.30, 0.02))
    return (high - low) / 1.53


def _flat_level(gray: np.ndarray, dark_ink: bool) -> float:
    """The background level of a clean image: the commonest value of its paper class.

    The mode, not the median: a blurry or enlarged scan's ramps belong to
    the paper class too, and would pull a median towards the ink.
    """
    t = otsu(gray)
    paper = gray[gray >= t] if dark_ink else gray[gray < t]
    if paper.size == 0:
        paper = gray
    low, high = float(paper.min()), float(paper.max())
    if high - low < 1e-3:
        return (low + high) / 2
    hist, edges = histogram(paper, 64, low, high)
    peak = int(np.argmax(hist))
    return float(np.mean(paper[(paper >= edges[peak]) & (paper <= edges[peak + 1])]))


def _local_background(gray: np.ndarray, dark_ink: bool, size_frac: float) -> np.ndarray:
    """Paper (or board) under strokes narrower than ``size_frac`` of the image."""
    h, w = gray.shape
    scale = min(1.0, BACKGROUND_SIDE / max(h, w))
    small_wh = (max(4, round(w * scale)), max(4, round(h * scale)))
    small = resize(gray, small_wh, "box")
    k = max(3, round(size_frac * max(small_wh)))
    # closing removes dark strokes from bright paper; opening bright strokes from a dark board
    background = closing(small, k) if dark_ink else opening(small, k)
    background = box_blur(box_blur(background, 1), 1)  # soften the rank filter's steps
    return resize(background, (w, h), "bilinear")


def _stroke_level(ink: np.ndarray, thin_lines: bool = False) -> float:
    """The strongest ink that survives a 3x3 erosion: lone specks cannot pose as strokes.

    A stroke one or two pixels wide (a mouse drawing, a fine pen on a large
    canvas) does not survive the erosion and was judged blank. Its pixels are
    not specks, though: each has ink on two sides along the line. With
    ``thin_lines``, when the erosion keeps less than half of that, the level
    is :func:`_line_level`'s.
    """
    if not ink.size:
        return 0.0
    solid = float(erode3(ink).max())
    # A line's level is at most the ink's peak: when the erosion kept half of
    # that, the answer is ``solid`` without the (costly) line search.
    if not thin_lines or solid >= 0.5 * float(ink.max()):
        return solid
    thin = _line_level(ink)
    return solid if solid >= 0.5 * thin else thin


def _line_level(ink: np.ndarray) -> float:
    """The strongest ink with at least two inked neighbours as strong (a line, not a speck).

    For each pixel, the smaller of its value and its second-strongest of 8
    neighbours: a 1-pixel line keeps its level, a lone pixel or a pair drops to 0.
    """
    padded = np.pad(ink, 1)
    h, w = ink.shape
    # The two largest of the 8 neighbours, kept as running maxima (a partition
    # of the 8 stacked neighbours gives the same and costs eight times more).
    first = np.full((h, w), -np.inf, np.float32)
    second = np.full((h, w), -np.inf, np.float32)
    for dy in range(3):
        for dx in range(3):
            if (dy, dx) == (1, 1):
                continue
            value = padded[dy : dy + h, dx : dx + w]
            np.maximum(second, np.minimum(first, value), out=second)
            np.maximum(first, value, out=first)
    return float(np.minimum(ink, second).max())


def pixel_noise(gray: np.ndarray) -> float:
    """The image's pixel noise (sensor, JPEG, paper grain), as a standard deviation.

    From second differences along rows: they cancel shading and the ramps
    of a blurry or enlarged image, and strokes' edges are too few to move
    their median.
    """
    if gray.shape[1] < 3:
        return 0.0
    second = gray[:, :-2] - 2.0 * gray[:, 1:-1] + gray[:, 2:]
    return 1.4826 * quantile(np.abs(second), 0.5) / np.sqrt(6.0)


def _mask(ink: np.ndarray, level: float) -> np.ndarray:
    return ink > max(0.5 * level, 1e-6)


def shading_amplitude(gray: np.ndarray, dark_ink: bool) -> float:
    """How unevenly lit the background is, in ink units (about 0 for a clean scan).

    A smooth quadratic surface is fitted to the paper side of the image
    (trimmed least squares: each round keeps the half of the pixels on the
    paper's side of the current fit, so ink, even half the image of a tight
    crop, drops out), and its range over the image is returned, relative
    to the paper's brightness for dark ink.
    """
    h, w = gray.shape
    scale = min(1.0, SHADING_SIDE / max(h, w))
    small = resize(gray, (max(2, round(w * scale)), max(2, round(h * scale))), "box")
    yy, xx = np.mgrid[-1 : 1 : complex(0, small.shape[0]), -1 : 1 : complex(0, small.shape[1])]
    design = np.stack([np.ones_like(xx), xx, yy, xx * xx, xx * yy, yy * yy], -1).reshape(-1, 6)
    values = small.reshape(-1).astype(np.float64)
    paper_side = 1.0 if dark_ink else -1.0
    keep = np.ones(values.shape, dtype=bool)
    for _ in range(4):
        coef = np.linalg.lstsq(design[keep], values[keep], rcond=None)[0]
        fit = design @ coef
        away = paper_side * (values - fit)
        keep = away >= quantile(away, 0.75)
    # The lighting where the paper is seen, not extrapolated into ink-covered corners.
    seen = fit[keep]
    high, low = quantiles(seen, (0.98, 0.02))
    spread = high - low
    return spread / max(float(seen.mean()), 0.05) if dark_ink else spread


def _lost_strokes(local: InkMap, flat: np.ndarray, shading: float) -> bool:
    """Does the flat reading find strokes the local one erased (too wide for its filter)?

    The extra ink must be stronger than the shading could make paper look,
    and (when strokes were found) about as strong as them.
    """
    flat_level = _stroke_level(flat)
    if flat_level <= 0:
        return False
    found = _mask(local.ink, local.level) if local.has_strokes else np.zeros(flat.shape, bool)
    extra = _mask(flat, flat_level) & ~dilate3(dilate3(found))
    if extra.sum() <= 0.25 * max(found.sum(), 1):
        return False  # they agree
    # A blurry scan's wide strokes fade at their edges: their cores decide.
    strength = quantile(flat[extra], 0.9)
    if strength < SHADING_FACTOR * shading:
        return False
    return strength >= (0.7 * quantile(flat[found], 0.5) if found.any() else STRONG_INK)


def flat_share(gray: np.ndarray, level: float) -> float:
    """Share of the pixels exactly at the background level (within a grey step).

    Renderings and digitised scans have a background of one exact value;
    camera images never do: sensor noise spreads their paper over many.
    """
    return float(np.mean(np.abs(gray - level) <= 1.5 / 255))


def _spans_image(ink: InkMap) -> bool:
    """True when the ink reaches across most of the image both ways (a tight crop)."""
    mask = _mask(ink.ink, ink.level)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return False
    h, w = mask.shape
    return (rows[-1] - rows[0] + 1 >= TIGHT_SPAN * h) and (cols[-1] - cols[0] + 1 >= TIGHT_SPAN * w)


def _is_clean(gray: np.ndarray, flat: InkMap, level: float, shading: float) -> bool:
    """True when one background level is right for the whole image.

    A background of one exact value (a rendering or a digitised scan), or
    even lighting. Clean scans and renderings then keep the flat reading,
    which is exact, where a rank filter could only nibble at wide strokes
    and their junctions.
    """
    return flat.has_strokes and (flat_share(gray, level) >= EXACT_BACKGROUND or shading <= CLEAN_SHADING)


def ink_map(gray: np.ndarray, dark_ink: bool) -> InkMap:
    """Removes the background for the given polarity.

    Args:
        gray: float32 grey in [0, 1] at working resolution.
        dark_ink: True for dark ink on a lighter background.

    Returns:
        The :class:`InkMap` (``has_strokes`` is False for a blank image).
    """
    noise = pixel_noise(gray)
    level = _flat_level(gray, dark_ink)
    flat = _reading(gray, level, dark_ink, None, noise)
    shading = shading_amplitude(gray, dark_ink)
    if _is_clean(gray, flat, level, shading):
        return flat
    first = _reading(
        gray, _local_background(gray, dark_ink, FILTER_WIDTHS[0]), dark_ink, FILTER_WIDTHS[0], noise
    )
    if not _lost_strokes(first, flat.ink, shading):
        return first  # a page: strokes well under a tenth of it (or nothing at all)
    if flat.has_strokes and shading <= TIGHT_SHADING and _spans_image(flat):
        return flat  # a tight crop: no paper to see the lighting by, and not much of it
    for width in FILTER_WIDTHS[1:]:
        local = _reading(gray, _local_background(gray, dark_ink, width), dark_ink, width, noise)
        if not _lost_strokes(local, flat.ink, shading):
            break
    return local if local.has_strokes else first

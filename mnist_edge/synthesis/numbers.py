"""Handwritten numbers composed from single digits: test material for reading numbers.

A number is written digit by digit: each digit (an MNIST digit, or any
28x28 digit in MNIST form) is cropped to its ink, scaled to a height that
varies a little from digit to digit, and set beside the previous one with a
gap that is sometimes negative (the digits touch or overlap), on a baseline
that drifts; the whole line may slant. :func:`render` then hands the line
over the ways a user would: a clean drawing (dark on white), a scan (light
on dark) or a photo of squared paper (:func:`mnist_edge.synthesis.synth.photo_of_ink`).

numpy and Pillow only. Deterministic for a given ``numpy.random.Generator``.
Used by ``benchmarks/numbers.py``, ``benchmarks/number_speed.py`` and the tests.
"""

from __future__ import annotations

import dataclasses
import io
from typing import List, Sequence

import numpy as np
from PIL import Image

from mnist_edge.synthesis import renderings, synth

STYLES = ("clean", "scan", "photo")


@dataclasses.dataclass(frozen=True)
class Layout:
    """How the digits of one number sit on the line.

    Attributes:
        gap: range of the gap between neighbours, in digit heights
            (negative: they overlap; the ink then touches).
        drift: baseline drift per digit, in digit heights (a random walk).
        scale: range of each digit's height relative to the first.
        slant: range of the whole line's rotation, in degrees.
    """

    gap: tuple = (0.05, 0.45)
    drift: float = 0.05
    scale: tuple = (0.85, 1.15)
    slant: tuple = (-6.0, 6.0)


LAYOUTS = {
    "spaced": Layout(),
    "tight": Layout(gap=(-0.02, 0.12)),
    "touching": Layout(gap=(-0.12, -0.04)),
    "wavy": Layout(drift=0.12, scale=(0.75, 1.25), slant=(-12.0, 12.0)),
}


def compose(digits: Sequence[np.ndarray], rng: np.random.Generator, layout: Layout = Layout()) -> np.ndarray:
    """The digits written as one line: light ink on dark, float in [0, 1].

    Args:
        digits: ``(28, 28)`` uint8 digits in MNIST form, left to right.
        rng: the random generator.
        layout: spacing, drift, scale and slant.

    Returns:
        The line, with a margin of half a digit height around the ink.
    """
    height = 64
    glyphs = []
    for digit in digits:
        ink = renderings.ink_box(digit)
        h = height * rng.uniform(*layout.scale)
        f = h / ink.shape[0]
        glyphs.append(
            np.clip(renderings.resize(ink, (max(1, round(ink.shape[1] * f)), round(h)), "bilinear"), 0, 1)
        )
    gaps = [rng.uniform(*layout.gap) * height for _ in glyphs[1:]]
    drift = np.cumsum([0.0] + [rng.normal(0, layout.drift) * height for _ in glyphs[1:]])
    width = int(sum(g.shape[1] for g in glyphs) + sum(gaps) + 2 * height)
    tall = int(max(g.shape[0] for g in glyphs) + np.ptp(drift) + 2 * height)
    line = np.zeros((tall, width), np.float32)
    x = float(height)
    top0 = height - drift.min()
    for k, glyph in enumerate(glyphs):
        if k:
            x = max(x + gaps[k - 1], 1.0)
        top = int(round(top0 + drift[k] + (height * layout.scale[1] - glyph.shape[0])))
        left = int(round(x))
        region = line[top : top + glyph.shape[0], left : left + glyph.shape[1]]
        np.maximum(region, glyph[: region.shape[0], : region.shape[1]], out=region)
        x += glyph.shape[1]
    angle = rng.uniform(*layout.slant)
    rotated = Image.fromarray(line, mode="F").rotate(angle, resample=Image.BILINEAR, expand=True)
    line = np.clip(np.asarray(rotated, np.float32), 0, 1)
    ys, xs = np.nonzero(line > 0.05)
    pad = height // 2
    return np.pad(line[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], pad)


def render(line: np.ndarray, rng: np.random.Generator, style: str) -> bytes:
    """A composed line as an image file a user would have.

    Args:
        line: from :func:`compose`.
        rng: the random generator.
        style: "clean" (dark ink on white, PNG), "scan" (light on dark, PNG,
            smaller) or "photo" (squared paper, uneven light, JPEG, 640x480).

    Returns:
        The encoded image.
    """
    if style == "photo":
        return synth.photo_of_ink(line, rng)
    if style == "scan":
        f = rng.uniform(0.35, 0.6)
        image = Image.fromarray(renderings.to_u8(line)).resize(
            (max(8, round(line.shape[1] * f)), max(8, round(line.shape[0] * f))), Image.BILINEAR
        )
    elif style == "clean":
        image = Image.fromarray(renderings.to_u8(1.0 - line))
    else:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sample_digits(labels: np.ndarray, length: int, rng: np.random.Generator) -> List[int]:
    """Indices of ``length`` random digits (any labels) from a labelled set."""
    return [int(i) for i in rng.integers(len(labels), size=length)]

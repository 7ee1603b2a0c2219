"""Digits drawn from strokes in the forms MNIST's writers rarely used (numpy + Pillow).

MNIST's American writers almost never write a 1 with a long up-stroke flag
and a foot, a 7 with a crossbar, a 4 with an open top (like ч) or a closed
triangle, or a 9 with a straight stem or a tail curling back like a g. Each
form here is a list of strokes in a unit box; :func:`render` draws one with
a random pen: jittered points, slant, aspect, stroke width, and as a thin
mouse line, a pen on paper, or a marker. Used to measure how the model reads
other writers' forms (``benchmarks/fine_tune.py``) and to test fine-tuning;
each form is checked by a model trained on MNIST alone, or by eye in
docs/glyph_forms.png (tests/synthesis/test_glyphs.py).
"""

from __future__ import annotations

import io
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from mnist_edge.preprocess import boxfit
from mnist_edge.synthesis import renderings

Stroke = List[Tuple[float, float]]


def _arc(cx, cy, rx, ry, start, end, n=14) -> Stroke:
    """Points on an ellipse; angles in turns, 0 at the top, clockwise."""
    t = np.linspace(start, end, n) * 2 * np.pi
    return [(cx + rx * np.sin(a), cy - ry * np.cos(a)) for a in t]


# The forms, by label: each a list of strokes in a unit box (x right, y down).
# Form 0 of each label is the one MNIST's writers used most; the others are
# the forms other countries and schools teach (the ones MNIST barely has).
FORMS: Dict[str, List[List[Stroke]]] = {
    "0": [
        [_arc(0.5, 0.5, 0.3, 0.42, 0, 1, 24)],
        [_arc(0.5, 0.5, 0.24, 0.44, 0.05, 1.12, 24)],  # narrow, the pen runs past the start
    ],
    "1": [
        [[(0.3, 0.3), (0.58, 0.08), (0.58, 0.92)]],  # a long flag
        [[(0.3, 0.3), (0.58, 0.08), (0.58, 0.92)], [(0.38, 0.92), (0.78, 0.92)]],  # flag and foot
        [[(0.42, 0.22), (0.56, 0.08), (0.54, 0.92)]],  # a short flag
    ],
    "2": [
        [[(0.25, 0.3)] + _arc(0.5, 0.32, 0.25, 0.22, -0.2, 0.3) + [(0.22, 0.9), (0.8, 0.9)]],
        # the school 2 with a loop at the foot
        [
            [(0.25, 0.3)]
            + _arc(0.5, 0.32, 0.25, 0.22, -0.2, 0.3)
            + [(0.3, 0.82)]
            + _arc(0.33, 0.82, 0.1, 0.08, 0.5, 1.3, 10)
            + [(0.8, 0.9)]
        ],
    ],
    "3": [
        [_arc(0.48, 0.3, 0.25, 0.2, -0.2, 0.5) + _arc(0.48, 0.7, 0.27, 0.22, 0.0, 0.7)],
        # a flat top, like a Z over a bowl
        [[(0.25, 0.1), (0.75, 0.1), (0.45, 0.45)] + _arc(0.48, 0.68, 0.27, 0.24, -0.05, 0.7)],
    ],
    "4": [
        [[(0.55, 0.08), (0.2, 0.62), (0.82, 0.62)], [(0.62, 0.35), (0.62, 0.95)]],  # closed triangle
        [[(0.22, 0.1), (0.22, 0.55), (0.78, 0.55)], [(0.78, 0.1), (0.78, 0.95)]],  # open top, like ч
        # one stroke: down, across, then the stem from the top
        [[(0.3, 0.08), (0.2, 0.6), (0.85, 0.6)], [(0.66, 0.3), (0.64, 0.95)]],
        [[(0.25, 0.08), (0.25, 0.5), (0.72, 0.5), (0.72, 0.08), (0.72, 0.95)]],  # ч in one stroke
    ],
    "5": [
        [[(0.75, 0.1), (0.3, 0.1), (0.27, 0.45)] + _arc(0.48, 0.66, 0.27, 0.25, -0.2, 0.6)],
        # stem and bowl first, the flag last
        [[(0.3, 0.1), (0.27, 0.45)] + _arc(0.48, 0.66, 0.27, 0.25, -0.2, 0.6), [(0.3, 0.1), (0.78, 0.08)]],
    ],
    "6": [
        [[(0.68, 0.1), (0.45, 0.26), (0.3, 0.5)] + _arc(0.53, 0.68, 0.24, 0.22, 0.75, 1.75, 24)],
        [[(0.62, 0.08), (0.38, 0.4)] + _arc(0.5, 0.7, 0.2, 0.22, 0.8, 1.75, 20)],  # straight back, small loop
    ],
    "7": [
        [[(0.2, 0.1), (0.8, 0.1), (0.4, 0.92)], [(0.3, 0.5), (0.72, 0.5)]],  # with a crossbar
        [[(0.2, 0.18), (0.28, 0.1), (0.8, 0.1), (0.42, 0.92)]],
        [[(0.2, 0.1), (0.8, 0.1), (0.6, 0.45), (0.52, 0.92)]],  # bent stem
    ],
    "8": [
        [_arc(0.5, 0.28, 0.2, 0.19, 0.5, 1.5) + _arc(0.5, 0.7, 0.26, 0.23, 0.0, 1.0, 20)],
        # two loops drawn apart, the upper first
        [_arc(0.5, 0.28, 0.2, 0.19, 0, 1, 18), _arc(0.5, 0.7, 0.25, 0.23, 0, 1, 20)],
    ],
    "9": [
        [_arc(0.48, 0.32, 0.25, 0.23, 0.25, 1.25, 20) + [(0.73, 0.3), (0.73, 0.95)]],  # straight stem
        [_arc(0.5, 0.3, 0.2, 0.18, 0.25, 1.25, 20) + [(0.7, 0.3), (0.62, 0.9), (0.4, 0.95)]],  # hooked
        # a small loop high up, a long slanted stem
        [_arc(0.55, 0.25, 0.18, 0.16, 0.25, 1.25, 18) + [(0.73, 0.25), (0.45, 0.95)]],
        [
            _arc(0.5, 0.3, 0.24, 0.22, 0.25, 1.25, 20)
            + [(0.74, 0.3), (0.7, 0.75)]
            + _arc(0.5, 0.75, 0.2, 0.2, 0.25, 0.6, 8)
        ],
        # like a g: the tail curls back left under the loop (optdigits' writers; the 8x8
        # counts blur its loop open)
        [
            _arc(0.5, 0.28, 0.21, 0.2, 0.25, 1.25, 18)
            + [(0.71, 0.28), (0.69, 0.68)]
            + _arc(0.45, 0.68, 0.25, 0.24, 0.25, 0.8, 12)
        ],
    ],
}
# Forms never used in training (train --styles draws only FORMS): an unusual
# writer to fine-tune on and to measure with, as HELD_OUT_FONTS are for letters.
HELD_OUT_FORMS: Dict[str, List[List[Stroke]]] = {
    "1": [[[(0.3, 0.28), (0.55, 0.08), (0.55, 0.92), (0.88, 0.92)]]],  # flag and a foot to the right only
    "0": [
        [_arc(0.5, 0.5, 0.3, 0.42, 0, 1, 24), [(0.78, 0.12), (0.22, 0.88)]]
    ],  # slashed, as engineers write it
    "4": [
        [[(0.6, 0.95), (0.6, 0.08)] + _arc(0.42, 0.5, 0.22, 0.2, 0.0, -0.4, 8) + [(0.85, 0.62)]]
    ],  # round top
}
PENS = ("mouse", "pen", "marker")


def _transform(strokes: Sequence[Stroke], rng: np.random.Generator, size: int) -> List[Stroke]:
    slant = rng.uniform(-0.25, 0.15)
    aspect = rng.uniform(0.75, 1.15)
    jitter = 0.008  # per point; the shape varies through slant, aspect and the pen
    margin = rng.uniform(0.12, 0.25) * size
    span = size - 2 * margin
    out = []
    for stroke in strokes:
        points = []
        for x, y in stroke:
            x = 0.5 + (x - 0.5) * aspect + slant * (0.5 - y) + rng.normal(0, jitter)
            y = y + rng.normal(0, jitter)
            points.append((margin + x * span, margin + y * span))
        out.append(points)
    return out


def render(
    label: str, rng: np.random.Generator, form: int = -1, pen: str = "", held_out: bool = False
) -> bytes:
    """One PNG of ``label`` in one of its forms (random when ``form`` is -1), drawn with ``pen``.

    Args:
        label: "0".."9".
        rng: the random generator (the same seed, the same image).
        form: index into the label's forms, or -1 for a random one.
        pen: "mouse" (1-2 px on a dark or light canvas), "pen" (dark ink on
            paper, softened) or "marker" (thick); "" for a random one.
        held_out: draw from :data:`HELD_OUT_FORMS` (never trained on) where
            the label has one.

    Returns:
        The PNG's bytes.
    """
    forms = HELD_OUT_FORMS.get(label, FORMS[label]) if held_out else FORMS[label]
    strokes = forms[int(rng.integers(len(forms))) if form < 0 else form]
    pen = pen or PENS[int(rng.integers(len(PENS)))]
    size = int(rng.integers(96, 220))
    dark_canvas = pen == "mouse" and rng.random() < 0.5
    paper, ink = (0, 255) if dark_canvas else (int(rng.integers(215, 256)), int(rng.integers(0, 60)))
    width = {"mouse": int(rng.integers(1, 3)), "pen": max(2, size // 40), "marker": max(4, size // 14)}[pen]
    image = Image.new("L", (size, size), paper)
    draw = ImageDraw.Draw(image)
    for stroke in _transform(strokes, rng, size):
        draw.line(stroke, fill=ink, width=width, joint="curve")
    if pen == "pen":
        image = image.filter(ImageFilter.GaussianBlur(0.6))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def mnist_form(label: str, rng: np.random.Generator, form: int = -1) -> np.ndarray:
    """``label`` in one of its forms as an MNIST digit: a 28x28 uint8, light on dark, box 20, centred by mass.

    Drawn at 4x with a pen as wide as MNIST's (a tenth to a sixth of the
    digit's height), bent by a smooth random field (another hand's wobble),
    then normalised by the front-end's own box fit, so training can treat it
    exactly like an MNIST digit (:func:`mnist_edge.synthesis.augment.augment_digit`).
    """

    forms = FORMS[label]
    strokes = forms[int(rng.integers(len(forms))) if form < 0 else form]
    size = 112
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    width = int(rng.integers(size // 11, size // 6))
    for stroke in _transform(strokes, rng, size):
        draw.line(stroke, fill=255, width=width, joint="curve")
    ink = np.asarray(image.filter(ImageFilter.GaussianBlur(1.5)), np.float32) / 255.0
    ink = renderings.elastic(np.pad(ink, 16), rng, rng.uniform(0.01, 0.05))
    ys, xs = np.nonzero(ink > 0.05)
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return boxfit.centre_by_mass(boxfit.to_box(crop))


def write_set(folder, per_class: int, seed: int = 0, forms: Optional[Dict[str, int]] = None) -> int:
    """Writes ``per_class`` images of each digit as ``<n>_<label>.png``; returns how many.

    Args:
        folder: created if missing.
        per_class: images per digit.
        seed: the random seed.
        forms: a fixed form index per label (others random).
    """
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    count = 0
    for label in FORMS:
        for k in range(per_class):
            data = render(label, rng, form=(forms or {}).get(label, -1))
            (folder / f"g{k:04d}_{label}.png").write_bytes(data)
            count += 1
    return count

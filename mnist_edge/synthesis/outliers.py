"""Things that are not digits, rendered as users would hand them over.

Used to teach and to measure "not a digit": letters in many fonts, shapes
(boxes, triangles, stars, crosses, hashes, arrows), scribbles, and pages that
are empty but for the light. Each is drawn dark on light at a few hundred
pixels, varied (size, rotation, pen width, blur, position), so that it goes
through the same front-end a digit photo does.

Shapes that *are* digits in all but name (a plain ellipse reads as a 0, a
single straight line as a 1) are deliberately not drawn.

numpy and Pillow only.
"""

from __future__ import annotations

import glob
import io
import os
import string
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from mnist_edge.synthesis import synth

FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype", "/usr/share/fonts")
# Letters a hand or a font makes the same as a digit: O/o (0), I/l (1).
DIGIT_LIKE_LETTERS = set("OoIl")
LETTERS = [c for c in string.ascii_letters if c not in DIGIT_LIKE_LETTERS]
CANVAS = 256


# A font family never used for training, so that "not a digit" is also
# measured on letters drawn in a face the model has not seen.
HELD_OUT_FONTS = ("SansMono",)


# Debian's handwriting fonts: each is one writer's digits, held out to measure
# how other hands are read (benchmarks/handwriting_fonts.py). Letters drawn in
# them would teach "not a digit" on exactly those hands (a rebuild on a machine
# that had them installed refused 2.4 % of their digits, against 1.1 %), so
# training never draws letters from them, whatever is installed.
HANDWRITING_FONT_DIRS = (
    "/usr/share/fonts/opentype/bwht",
    "/usr/share/fonts/opentype/comic-neue",
    "/usr/share/fonts/opentype/dancingscript",
    "/usr/share/fonts/truetype/breip",
    "/usr/share/fonts/truetype/femkeklaver",
    "/usr/share/fonts/truetype/fifthhorseman",
    "/usr/share/fonts/truetype/humor-sans",
    "/usr/share/fonts/truetype/klee",
    "/usr/share/fonts/truetype/leckerli-one",
    "/usr/share/fonts/truetype/yusei-magic",
)


def is_held_out_font(path: str) -> bool:
    """True for fonts kept out of training (see :data:`HELD_OUT_FONTS`)."""
    return any(tag in os.path.basename(path) for tag in HELD_OUT_FONTS)


def is_handwriting_font(path: str) -> bool:
    """True for a font in one of :data:`HANDWRITING_FONT_DIRS` (other writers' digits, held out)."""
    folder = os.path.dirname(os.path.abspath(path))
    return any(folder == d or folder.startswith(d + os.sep) for d in HANDWRITING_FONT_DIRS)


def handwriting_fonts() -> List[str]:
    """The handwriting fonts installed here (sorted): the held-out writers."""
    return sorted(f for d in HANDWRITING_FONT_DIRS for f in glob.glob(os.path.join(d, "*.[ot]tf")))


def find_fonts(patterns: Sequence[str] = ("*.ttf", "*.otf")) -> List[str]:
    """TrueType/OpenType fonts installed on this machine (sorted, de-duplicated)."""
    found = set()
    for folder in FONT_DIRS:
        for pattern in patterns:
            found.update(glob.glob(os.path.join(folder, "**", pattern), recursive=True))
    return sorted(path for path in found if "Math" not in os.path.basename(path))


def training_fonts() -> List[str]:
    """The fonts letters are drawn in for training: all but the held-out family and the handwriting fonts."""
    fonts = [f for f in find_fonts() if not is_handwriting_font(f)]
    return [f for f in fonts if not is_held_out_font(f)] or fonts


def _canvas():
    from PIL import Image

    return Image.new("L", (CANVAS, CANVAS), 255)


def _finish(img, rng: np.random.Generator) -> np.ndarray:
    """Rotate a little, blur a little, add paper noise: uint8 grey."""
    from PIL import Image, ImageFilter

    img = img.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR, fillcolor=255)
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 2.0))))
    arr = np.asarray(img, dtype=np.float32) / 255.0
    paper, ink = rng.uniform(0.8, 1.0), rng.uniform(0.0, 0.3)
    arr = ink + (paper - ink) * arr + rng.normal(0, 0.01, arr.shape)
    return (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)


def letter(rng: np.random.Generator, fonts: Sequence[str], char: Optional[str] = None) -> np.ndarray:
    """One letter in a random font, size and position, dark on light."""
    from PIL import ImageDraw, ImageFont

    char = char or LETTERS[int(rng.integers(len(LETTERS)))]
    font = ImageFont.truetype(fonts[int(rng.integers(len(fonts)))], int(rng.integers(90, 200)))
    img = _canvas()
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = draw.textbbox((0, 0), char, font=font)
    x = (CANVAS - (right - left)) / 2 - left + rng.uniform(-20, 20)
    y = (CANVAS - (bottom - top)) / 2 - top + rng.uniform(-20, 20)
    stroke = int(rng.integers(0, 4)) if rng.random() < 0.3 else 0
    draw.text((x, y), char, font=font, fill=0, stroke_width=stroke, stroke_fill=0)
    return _finish(img, rng)


def _points(rng, n, spread=0.35):
    centre = CANVAS / 2
    return [
        (centre + rng.uniform(-spread, spread) * CANVAS, centre + rng.uniform(-spread, spread) * CANVAS)
        for _ in range(n)
    ]


def _polygon(rng, sides, radius, angle=0.0):
    centre = CANVAS / 2 + rng.uniform(-15, 15, 2)
    angles = angle + np.arange(sides) * 2 * np.pi / sides
    return [(centre[0] + radius * np.cos(a), centre[1] + radius * np.sin(a)) for a in angles]


C = CANVAS / 2  # the canvas centre


def _box(draw, rng, r, width, kind):
    w, h = r * rng.uniform(0.6, 1.4), r * rng.uniform(0.6, 1.4)
    draw.rectangle([C - w, C - h, C + w, C + h], outline=0, width=width)


def _triangle(draw, rng, r, width, kind):
    draw.polygon(_polygon(rng, 3, r, rng.uniform(0, 2 * np.pi)), outline=0, width=width)


def _star(draw, rng, r, width, kind):
    outer = _polygon(rng, 5, r, -np.pi / 2)
    draw.line([outer[i % 5] for i in (0, 2, 4, 1, 3, 0)], fill=0, width=width, joint="curve")


def _lines(draw, rng, r, width, kind):
    """Crosses, an x, a hash and a grid: sets of parallel lines at right angles."""
    offsets = {"cross": [0.0], "x": [0.0], "hash": [-0.3, 0.3], "grid": [-0.4, 0.0, 0.4]}[kind]
    tilt = np.pi / 4 if kind == "x" else rng.uniform(-0.2, 0.2)
    for angle in (tilt, tilt + np.pi / 2):
        c, s = np.cos(angle), np.sin(angle)
        for off in offsets:
            ox, oy = -s * off * r, c * off * r
            ends = [(C - c * r + ox, C - s * r + oy), (C + c * r + ox, C + s * r + oy)]
            draw.line(ends, fill=0, width=width)


def _arrow(draw, rng, r, width, kind):
    draw.line([(C - r, C), (C + r, C)], fill=0, width=width)
    draw.line([(C + 0.6 * r, C - 0.4 * r), (C + r, C), (C + 0.6 * r, C + 0.4 * r)], fill=0, width=width)


def _zigzag(draw, rng, r, width, kind):
    xs = np.linspace(C - r, C + r, int(rng.integers(5, 9)))
    ys = C + np.where(np.arange(len(xs)) % 2 == 0, -0.5, 0.5) * r
    draw.line(list(zip(xs, ys)), fill=0, width=width, joint="curve")


def _blob(draw, rng, r, width, kind):
    """A filled polygon of random radii."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
    radii = r * rng.uniform(0.5, 1.0, 9)
    draw.polygon([(C + q * np.cos(a), C + q * np.sin(a)) for q, a in zip(radii, angles)], fill=0)


SHAPES = {
    "box": _box,
    "triangle": _triangle,
    "star": _star,
    "cross": _lines,
    "x": _lines,
    "hash": _lines,
    "arrow": _arrow,
    "grid": _lines,
    "zigzag": _zigzag,
    "filled": _blob,
}


def shape(rng: np.random.Generator, kind: Optional[str] = None) -> np.ndarray:
    """A drawn shape: box, triangle, star, cross, x, hash, arrow, grid, zigzag or a filled blob."""
    from PIL import ImageDraw

    kind = kind or tuple(SHAPES)[int(rng.integers(len(SHAPES)))]
    img = _canvas()
    width = int(rng.integers(3, 20))
    r = rng.uniform(50, 110)
    SHAPES[kind](ImageDraw.Draw(img), rng, r, width, kind)
    return _finish(img, rng)


def scribble(rng: np.random.Generator) -> np.ndarray:
    """A random scribble: a smooth curve through many random points."""
    from PIL import ImageDraw

    img = _canvas()
    draw = ImageDraw.Draw(img)
    pts = np.asarray(_points(rng, int(rng.integers(6, 14)), 0.38))
    t = np.linspace(0, len(pts) - 1, 60 * len(pts))
    curve = np.stack([np.interp(t, np.arange(len(pts)), pts[:, k]) for k in (0, 1)], -1)
    # smooth the polyline into a curve
    kernel = np.ones(25) / 25
    curve = np.stack([np.convolve(np.pad(curve[:, k], 12, mode="edge"), kernel, "valid") for k in (0, 1)], -1)
    draw.line([tuple(p) for p in curve], fill=0, width=int(rng.integers(3, 16)), joint="curve")
    return _finish(img, rng)


def empty_page(rng: np.random.Generator) -> np.ndarray:
    """A photo of empty paper, squared or plain, under uneven light."""
    from PIL import Image

    data = synth.render_blank(rng, grid=bool(rng.random() < 0.5))
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def garment(rng: np.random.Generator, images: np.ndarray) -> np.ndarray:
    """A Fashion-MNIST item as a user would save it: 28x28, or enlarged, maybe inverted."""
    item = images[int(rng.integers(len(images)))]
    if rng.random() < 0.5:
        return item
    from PIL import Image

    big = np.asarray(Image.fromarray(item).resize((112, 112), Image.BILINEAR))
    return 255 - big if rng.random() < 0.5 else big


def kinds(fonts: Sequence[str]) -> Dict[str, Callable[[np.random.Generator], np.ndarray]]:
    """The outlier generators by name (garments need their images: see :func:`garment`)."""
    return {
        "letter": lambda rng: letter(rng, fonts),
        "shape": shape,
        "scribble": scribble,
        "empty-page": empty_page,
    }

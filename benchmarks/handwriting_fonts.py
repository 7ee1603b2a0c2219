"""Digits and numbers written in the handwriting fonts Debian packages: other writers, held out.

Each of these fonts is one person's handwriting (or a marker or brush
style) that the project never trained on. For every installed font file,
every digit is typed on paper (random size 40-120 px, tilt +-6 degrees, paper
and ink shades) and read as ``predict`` reads a file; then numbers of 2-6
digits are typed the same way, with the font's own spacing, and read as
``predict --number`` reads them. Prints per font: digits right, answered
"not a digit", numbers right (whole) and digits right within numbers
(aligned), and the totals; then the same numbers handed over as a clean
drawing, a scan and a photo of squared paper (:func:`mnist_edge.synthesis.numbers.render`);
then the same digits as size-normalised one-bit 16x16 scans, the way form
readers and UCI's Semeion set keep other writers' digits (each stretched to
fill its frame both ways, then thresholded; light and dark in turn), per
class.

``femkeklaver`` draws its digits as outlines (two parallel lines round each
stroke, which no pen writes): it is reported on its own line and left out of
the totals.

Install the fonts first (about 3 MB):

    apt-get install fonts-bwht fonts-comic-neue fonts-dancingscript fonts-breip \\
        fonts-femkeklaver fonts-dkg-handwriting fonts-humor-sans fonts-klee \\
        fonts-leckerli-one fonts-yusei-magic
    python benchmarks/handwriting_fonts.py [--per-digit 3] [--numbers 12] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import io
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist_edge.evaluation.number_eval import aligned_matches
from mnist_edge.preprocess import pil_to_gray
from mnist_edge.runtime import Predictor, default_model_path
from mnist_edge.runtime.number import NumberReader
from mnist_edge.runtime.reading import Reader
from mnist_edge.synthesis import numbers as number_styles
from mnist_edge.synthesis import outliers, renderings

OUTLINED = ("femkeklaver",)  # digits drawn as outlines: reported, not counted


def typed(text: str, font_path: str, rng: np.random.Generator) -> bytes:
    """``text`` typed in the font on paper, tilted a little, as PNG bytes."""
    size = int(rng.integers(40, 120))
    font = ImageFont.truetype(font_path, size)
    left, top, right, bottom = font.getbbox(text)
    paper = int(rng.integers(200, 250))
    image = Image.new("L", (right - left + size, bottom - top + size), paper)
    ImageDraw.Draw(image).text(
        (size // 2 - left, size // 2 - top), text, font=font, fill=int(rng.integers(0, 60))
    )
    image = image.rotate(float(rng.uniform(-6, 6)), resample=Image.BILINEAR, fillcolor=paper)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def handed_over(png: bytes, style: str, rng: np.random.Generator) -> np.ndarray:
    """The typed number as a drawing, scan or photo would give it (grey in [0, 1])."""
    ink = 1.0 - np.asarray(Image.open(io.BytesIO(png)).convert("L"), np.float32) / 255.0
    ink = (ink - ink.min()) / max(float(np.ptp(ink)), 1e-6)
    return pil_to_gray(Image.open(io.BytesIO(number_styles.render(ink, rng, style))))


def stretched_scan(png: bytes, light: bool) -> np.ndarray:
    """The typed digit as a size-normalised one-bit 16x16 scan (grey in [0, 1])."""
    ink = 255.0 - np.asarray(Image.open(io.BytesIO(png)).convert("L"), np.float32)
    ink -= ink.min()
    ys, xs = np.nonzero(ink > 0.2 * max(float(ink.max()), 1.0))  # the paper is not ink
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    crop = (crop * 255.0 / max(float(crop.max()), 1.0)).astype(np.uint8)
    return renderings.scan_stretched(crop, None, side=16, light=light).astype(np.float32) / 255.0


def measure_font(font_path, reader, numbers, args, rng, styles, scans=None):
    """[digits, right, not a digit, numbers, numbers right, number digits, number digits right].

    With ``styles``, each number is also read as a drawing, a scan and a photo, and counted there;
    with ``scans``, each digit also as a size-normalised one-bit scan ([n, right, not a digit] per class).
    """
    cell = [0] * 7
    for label in "0123456789":
        for k in range(args.per_digit):
            png = typed(label, font_path, rng)
            reading = reader.read_bytes(png, label)
            cell[0] += 1
            cell[1] += reading.label == label
            cell[2] += reading.label is None and reading.error is None
            if scans is not None:
                scanned = reader.read_gray(label, stretched_scan(png, light=k % 2 == 0))
                scans[label][0] += 1
                scans[label][1] += scanned.label == label
                scans[label][2] += scanned.label is None and scanned.error is None
    for _ in range(args.numbers):
        truth = "".join(str(int(d)) for d in rng.integers(10, size=int(rng.integers(2, 7))))
        png = typed(truth, font_path, rng)
        answer = numbers.read_bytes(png, truth).number or ""
        cell[3] += 1
        cell[4] += answer == truth
        cell[5] += len(truth)
        cell[6] += aligned_matches(truth, answer)
        if styles is not None:
            for style in number_styles.STYLES:
                answer = numbers.read_gray(truth, handed_over(png, style, rng)).number or ""
                styles[style][0] += 1
                styles[style][1] += answer == truth
    return cell


def line(name, c):
    digits = f"{c[0]:>6}{c[1] / c[0]:>9.3f}{c[2] / c[0]:>9.3f}"
    return f"{name:<32}{digits}{c[3]:>6}{c[4] / c[3]:>9.3f}{c[6] / c[5]:>9.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-digit", type=int, default=3, help="images of each digit per font")
    parser.add_argument("--numbers", type=int, default=12, help="numbers per font")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    fonts = outliers.handwriting_fonts()
    if not fonts:
        print("no handwriting fonts installed: see this script's docstring", file=sys.stderr)
        return 2
    reader = Reader(Predictor(args.model or default_model_path()))
    numbers = NumberReader(reader)
    rng = np.random.default_rng(args.seed)
    print(f"model {reader.predictor.model_path}; {len(fonts)} font files")
    print(f"{'font':<32}{'n':>6}{'right':>9}{'no dgt':>9}{'nums':>6}{'whole':>9}{'digits':>9}")
    total = collections.Counter()
    styles = {style: [0, 0] for style in number_styles.STYLES}
    scans = {label: [0, 0, 0] for label in "0123456789"}
    for font_path in fonts:
        outlined = any(o in font_path for o in OUTLINED)
        kept = (None, None) if outlined else (styles, scans)
        cell = measure_font(font_path, reader, numbers, args, rng, *kept)
        name = os.path.basename(font_path)
        print(line(name + (" (outlines)" if outlined else ""), cell))
        if not outlined:
            for k, v in enumerate(cell):
                total[k] += v
    print(line("all but outlines", [total[k] for k in range(7)]))
    print(
        "the same numbers handed over as",
        ", ".join(f"{k} {n_right / n:.3f}" for k, (n, n_right) in styles.items()),
    )
    n, right, nad = (sum(v[k] for v in scans.values()) for k in range(3))
    print(
        f"the same digits as size-normalised one-bit 16x16 scans: {right / n:.3f} "
        f"({nad / n:.1%} not a digit); per class "
        + " ".join(f"{label}:{v[1] / v[0]:.3f}" for label, v in scans.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Draws docs/glyph_forms.png: every stroke-drawn digit form of synthesis/glyphs.py, ten times each.

One row per form (label and form index on the left): the MNIST-form
rendering training uses (:func:`mnist_edge.synthesis.glyphs.mnist_form`) with
random pens and wobble. It is the human-checked record that each form is a
legible digit of its label (tests/synthesis/test_glyphs.py names the forms a
model trained only on MNIST cannot read, and relies on this gallery for them).

    python scripts/glyph_gallery.py [--out docs/glyph_forms.png]
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageDraw

from mnist_edge.synthesis import glyphs

COPIES = 10
SCALE = 2


def gallery(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    rows = [(label, k) for label, forms in glyphs.FORMS.items() for k in range(len(forms))]
    cell = 30 * SCALE
    image = Image.new("L", (48 + COPIES * cell, len(rows) * cell), 255)
    draw = ImageDraw.Draw(image)
    for r, (label, k) in enumerate(rows):
        draw.text((4, r * cell + cell // 3), f"{label} #{k}", fill=0)
        for c in range(COPIES):
            digit = Image.fromarray(glyphs.mnist_form(label, rng, k)).resize((28 * SCALE, 28 * SCALE))
            image.paste(digit, (48 + c * cell, r * cell + SCALE))
    return image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/glyph_forms.png")
    args = parser.parse_args()
    gallery().save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

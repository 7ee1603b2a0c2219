"""The front-end against plain MNIST normalisation, with the same model, on every rendering.

For each rendering in :mod:`mnist_edge.synthesis.renderings` (size-normalised scans
that the digit fills, stretched one-bit scans, with a margin, inverted; very low-resolution scans
enlarged; thin pens, fat markers, broken and dotted strokes; low contrast,
blur, JPEG; photos of squared paper; 1 px mouse lines on a clean canvas),
MNIST *test* digits are drawn that way and read twice by the same model,
side by side in one run. The ``glyphs-*`` rows draw each test digit's label
in the forms MNIST lacks instead (:mod:`mnist_edge.synthesis.glyphs`: a flagged
1, crossed 7, open and triangle 4s, straight and hooked 9s), with a mouse, a
pen or a marker:

* plain: threshold, crop to the ink's box, 20 px keeping the aspect,
  centre of mass (``mnist_edge.preprocess.plain``);
* front-end: what ``predict`` does (``Reader.read_gray``): the front-end's
  candidates with the reading the model is surer of, and a doubted one-bit
  stretched scan read again narrower (``mnist_edge.preprocess.unstretch``).

"not a digit" answers (the model's calibrated threshold) count as misses,
as they would for a user; the plain column is given the same threshold.
Goal: the front-end at least as good as plain on every rendering (a
tolerance of --tolerance points for sampling noise).

Run: MNIST_EDGE_DATA=../shared/data/mnist python benchmarks/real_world.py [--n 500] [--model X.tflite]
Exit code 1 if a goal is missed.
"""

import argparse
import sys
import time

import numpy as np

from mnist_edge import data, runtime
from mnist_edge.preprocess import NoDigitError, plain
from mnist_edge.preprocess.load import open_image_bytes, pil_to_gray
from mnist_edge.runtime import reading
from mnist_edge.synthesis import glyphs, renderings

GLYPH_ROWS = {f"glyphs-{pen}": pen for pen in glyphs.PENS}


def draw_glyph(pen, label, rng):
    """A stroke-drawn digit of ``label`` as uint8 grey (what a user's file would decode to)."""
    return np.round(pil_to_gray(open_image_bytes(glyphs.render(str(label), rng, pen=pen))) * 255).astype(
        np.uint8
    )


def score(reader, image, normalise, label):
    """Whether the image, normalised this way, is answered ``label`` as ``predict`` answers it.

    The model's own "not a digit" decision (the score its sidecar names) and
    the polarity pick of :func:`mnist_edge.runtime.reading.pick_reading`.
    """
    try:
        forms = normalise(image.astype(np.float32) / 255.0)
    except NoDigitError:
        return False
    readings = [reader.read_mnist_form("", form) for form in (forms if isinstance(forms, list) else [forms])]
    return reading.pick_reading(readings).label == str(label)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="digits per rendering")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--model", default=None)
    parser.add_argument("--only", default=None, help="comma-separated rendering names")
    parser.add_argument("--tolerance", type=float, default=0.5, help="percentage points")
    args = parser.parse_args()
    dataset = data.load()
    predictor = runtime.Predictor(args.model or runtime.default_model_path(), num_threads=1)
    reader = reading.Reader(predictor)
    threshold = reader.min_confidence
    names = args.only.split(",") if args.only else list(renderings.RENDERINGS) + list(GLYPH_ROWS)
    print(
        f"model {predictor.model_path}; 'not a digit' below {threshold:.3f} ({reader.score}); "
        f"{args.n} MNIST test digits per rendering, seed {args.seed}"
    )
    print(f"{'rendering':24s}{'plain':>8s}{'front-end':>11s}{'diff pp':>9s}{'ms/image':>10s}  goal")
    failed = []
    for name in names:
        rng = np.random.default_rng([args.seed, len(name)])
        idx = rng.choice(len(dataset.y_test), size=args.n, replace=False)
        plain_right = front_right = 0
        seconds = 0.0
        for i in idx:
            label = int(dataset.y_test[i])
            if name in GLYPH_ROWS:
                image = draw_glyph(GLYPH_ROWS[name], label, rng)
            else:
                image = renderings.RENDERINGS[name](dataset.x_test[i], rng)
            plain_right += score(reader, image, plain.plain_normalise, label)
            t0 = time.perf_counter()
            front_right += reader.read_gray("", image.astype(np.float32) / 255.0).label == str(label)
            seconds += time.perf_counter() - t0
        p, f = plain_right / args.n, front_right / args.n
        ok = f >= p - args.tolerance / 100
        failed += [] if ok else [name]
        print(
            f"{name:24s}{p:8.3f}{f:11.3f}{(f - p) * 100:+9.1f}{seconds / args.n * 1000:10.1f}  "
            f"{'PASS' if ok else 'FAIL'}",
            flush=True,
        )
    print("front-end >= plain on every rendering:", "PASS" if not failed else f"FAIL ({', '.join(failed)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

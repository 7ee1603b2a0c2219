"""How fast a number is read: a 640x480 photo of a 6-digit number, stage by stage, on one core.

Each photo (numbers composed from MNIST test digits, photographed on squared
paper by :mod:`mnist_edge.synthesis.numbers`) is read as ``predict --number``
reads it, with the stages timed apart:

* load: JPEG bytes -> grey array;
* front-end: working size, polarity, background, ink mask, ruling removed;
* segmentation: pieces, lines, groups, cuts, and each digit's box fit;
* model: the interpreter on every candidate digit, and the choice between readings.

Goal (a benchmark, not a test): the whole read <= 60 ms p50 on one core here.

    python benchmarks/number_speed.py [--count 100] [--digits 6]
"""

from __future__ import annotations

import argparse
import io
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from PIL import Image

from mnist_edge import data
from mnist_edge.preprocess import background, polarity, selection
from mnist_edge.preprocess import segmentation as seg
from mnist_edge.preprocess.load import pil_to_gray
from mnist_edge.runtime import Predictor, default_model_path
from mnist_edge.runtime.number import NumberReader
from mnist_edge.runtime.reading import Reader
from mnist_edge.synthesis import numbers

GOAL_MS = 60.0


def photos(count: int, length: int, seed: int):
    """(JPEG bytes, digits) of ``count`` 640x480 photos of ``length``-digit numbers."""
    dataset = data.load()
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        idx = numbers.sample_digits(dataset.y_test, length, rng)
        image = numbers.render(
            numbers.compose(dataset.x_test[idx], rng, numbers.LAYOUTS["spaced"]), rng, "photo"
        )
        if Image.open(io.BytesIO(image)).size == (640, 480):
            out.append((image, "".join(str(int(dataset.y_test[i])) for i in idx)))
    return out


def front_end(gray):
    work, _ = seg.working_number_image(gray)
    dark, _ = polarity.decide(work)
    ink = background.ink_map(work, dark)
    mask, _ = selection.ink_mask(ink)  # without the paper's ruling on a photo
    return mask


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--digits", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    reader = NumberReader(Reader(Predictor(default_model_path(), num_threads=1)))
    items = photos(args.count, args.digits, args.seed)
    times = {"load": [], "front-end": [], "segmentation": [], "model": [], "total": []}
    right = 0
    for jpeg, truth in items:
        reader.read_bytes(jpeg)  # warm
        t0 = time.perf_counter()
        gray = pil_to_gray(Image.open(io.BytesIO(jpeg)))
        t1 = time.perf_counter()
        front_end(gray)
        t2 = time.perf_counter()
        seg.segment(gray)  # front-end again, then segmentation
        t3 = time.perf_counter()
        reading = reader.read_gray("", gray)  # segmentation again, then the model
        t4 = time.perf_counter()
        times["load"].append(t1 - t0)
        times["front-end"].append(t2 - t1)
        times["segmentation"].append((t3 - t2) - (t2 - t1))
        times["model"].append((t4 - t3) - (t3 - t2))
        times["total"].append((t1 - t0) + (t4 - t3))
        right += reading.number == truth
    print(f"{len(items)} photos 640x480 of {args.digits}-digit numbers, one core; right {right}/{len(items)}")
    print(f"{'stage':<14}{'p50 ms':>9}{'p90 ms':>9}")
    for stage, values in times.items():
        ms = np.asarray(values) * 1e3
        print(f"{stage:<14}{np.percentile(ms, 50):9.2f}{np.percentile(ms, 90):9.2f}")
    p50 = float(np.percentile(np.asarray(times["total"]) * 1e3, 50))
    print(f"goal: whole read p50 <= {GOAL_MS:.0f} ms: {p50:.1f} ms {'PASS' if p50 <= GOAL_MS else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

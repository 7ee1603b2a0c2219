"""Reading handwritten numbers: whole-number and per-digit accuracy by length, layout and style, in one run.

Numbers of 2-8 digits are composed from MNIST test digits (never trained on)
by :mod:`mnist_edge.synthesis.numbers`: spaced, tight, touching and wavy
(baseline drift, slant, scale changes) lines, handed over as clean drawings,
scans and photos of squared paper; and, with ``--glyphs``, from the
stroke-drawn digit forms of :mod:`mnist_edge.synthesis.glyphs` (the forms
other countries write); or, with ``--images DIR``, from any labelled folder
of single digits (read as ``eval --images`` reads it: other writers' scans,
your own handwriting), each through the front-end to its MNIST form first.
With ``--images DIR --side-by-side``, numbers are instead made the plain way
a new user would make them: the folder's image files put side by side as
they are (each scaled to the first one's height), no composition, no
rendering. Every image is read by the same code as
``predict --number`` (the default model unless ``--model``), and scored as
``eval --images --number`` scores it: a ``?`` is a miss; how many wrong
answers carry a ``?`` (the rest are silently wrong), and how well a
number's confidence tells right answers from wrong ones. Last, the issue's
"every single-digit answer unchanged": ``--singles`` of the source's digits
(default 1,000), each its own image, read with and without ``--number``.

Tuning the segmentation used MNIST's *training* digits (``--split train``);
the figures reported are on the test digits.

(Named number_reading.py, not numbers.py: a script's folder comes first on
sys.path, and a numbers.py there would shadow the standard library's
``numbers``, which numpy imports, for every benchmark in the folder.)

    python benchmarks/number_reading.py [--count 40] [--split test] [--model M.tflite]
                                        [--glyphs | --images DIR [--side-by-side]] [--singles 1000]
"""

from __future__ import annotations

import argparse
import collections
import io
import time

import numpy as np
from PIL import Image

from mnist_edge import data
from mnist_edge.constants import NUMBER_CONFIDENCE_BARS
from mnist_edge.evaluation.image_eval import DIGITS, labelled_forms, labelled_images
from mnist_edge.evaluation.number_eval import aligned_matches, by_confidence, format_bar
from mnist_edge.preprocess import load_gray, pil_to_gray
from mnist_edge.runtime import Predictor, default_model_path
from mnist_edge.runtime.number import DOUBT, NumberReader
from mnist_edge.runtime.reading import Reader
from mnist_edge.synthesis import glyphs, numbers

LENGTHS = (2, 3, 4, 5, 6, 8)


def digit_source(args):
    """(images, labels) the numbers are composed from."""
    if args.images:
        forms = labelled_forms(args.images)
        return forms.x, forms.y
    dataset = data.load(args.data_dir)
    if args.glyphs:
        rng = np.random.default_rng(args.seed + 99)
        labels = np.arange(2000) % 10
        return np.stack([glyphs.mnist_form(str(k), rng) for k in labels]), labels
    if args.split == "train":
        return dataset.x_train, dataset.y_train
    return dataset.x_test, dataset.y_test


def tally(cells, keys, truth: str, answer: str) -> None:
    """Counts one number in each cell it belongs to.

    numbers, right, digits, digits right (aligned), and wrong but marked: a
    "?" in the answer or "not a number", so a reader knows to look again.
    """
    marked = answer != truth and (not answer or DOUBT in answer)
    for key in keys:
        cell = cells[key]
        cell[0] += 1
        cell[1] += answer == truth
        cell[2] += len(truth)
        cell[3] += aligned_matches(truth, answer)
        cell[4] += marked


def side_by_side(args, reader) -> int:
    """Numbers made of the folder's image files put side by side as they are; prints their table."""
    items = labelled_images(args.images, DIGITS)
    rng = np.random.default_rng(args.seed)
    cells = collections.defaultdict(lambda: [0] * 5)  # see tally()
    scored = []  # (right, the number's confidence) of 2-6 digit numbers
    started = time.perf_counter()
    for length in LENGTHS:
        for _ in range(args.count):
            picked = [items[i] for i in rng.integers(len(items), size=length)]
            grays = [load_gray(path) for path, _ in picked]
            height = grays[0].shape[0]
            line = np.concatenate([_to_height(g, height) for g in grays], axis=1)
            truth = "".join(label for _, label in picked)
            reading = reader.read_gray("", line)
            answer = reading.number or ""
            tally(cells, (("length", length), ("all",)), truth, answer)
            if length <= 6:
                scored.append((answer == truth, reading.confidence or 0.0))
    print(f"numbers made of {args.images}'s images side by side; model {args.model or default_model_path()}")
    print(f"{'':<22}{'n':>7}{'numbers':>10}{'digits':>10}")
    for name, key in [("all", ("all",))] + [(f"length {n}", ("length", n)) for n in LENGTHS]:
        n, right, digits, digits_right, _ = cells[key]
        print(f"{name:<22}{n:>7}{right / n:>10.3f}{digits_right / digits:>10.3f}")
    print(f"{cells[('all',)][0]} numbers in {time.perf_counter() - started:.1f} s")
    print_goal(cells)
    print_confidence(scored)
    return 0


def _to_height(gray: np.ndarray, height: int) -> np.ndarray:
    if gray.shape[0] == height:
        return gray
    width = max(1, round(gray.shape[1] * height / gray.shape[0]))
    return np.asarray(Image.fromarray(gray, mode="F").resize((width, height), Image.BILINEAR), np.float32)


def print_goal(cells) -> None:
    """The issue's goal line: 2-6 digit numbers, whole and per digit."""
    goal_numbers = [cells[("length", n)] for n in LENGTHS if n <= 6]
    n = sum(c[0] for c in goal_numbers)
    whole = sum(c[1] for c in goal_numbers) / n
    per_digit = sum(c[3] for c in goal_numbers) / sum(c[2] for c in goal_numbers)
    print(
        f"2-6 digits: numbers {whole:.3f} (goal >= 0.85: {'PASS' if whole >= 0.85 else 'FAIL'}), "
        f"digits {per_digit:.3f} (goal >= 0.95: {'PASS' if per_digit >= 0.95 else 'FAIL'})"
    )
    wrong = n - sum(c[1] for c in goal_numbers)
    marked = sum(c[4] for c in goal_numbers)
    print(
        f"2-6 digits read wrong: {wrong}, of them marked ('?' or not a number) {marked}; "
        f"silently wrong {(wrong - marked) / n:.3f} of all"
    )


def print_confidence(scored) -> None:
    """How well a number's confidence tells right answers from wrong ones (2-6 digit numbers).

    For each bar in :data:`~mnist_edge.constants.NUMBER_CONFIDENCE_BARS`: the share of answers at or
    above it, how many of those are right, and the share of the wrong
    answers that fall below it (flagged for a second look).
    """
    right = [r for r, _ in scored]
    confidence = [c for _, c in scored]
    for bar in NUMBER_CONFIDENCE_BARS:
        print(f"2-6 digits, number confidence >= {bar}: {format_bar(by_confidence(right, confidence, bar))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="numbers per (layout, style, length) cell")
    parser.add_argument("--split", choices=("test", "train"), default="test")
    parser.add_argument("--glyphs", action="store_true", help="compose from the stroke-drawn forms instead")
    parser.add_argument("--images", default=None, help="compose from this labelled folder of single digits")
    parser.add_argument(
        "--side-by-side", action="store_true", help="with --images: the files side by side, not composed"
    )
    parser.add_argument("--model", default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-misreads", type=int, default=0)
    parser.add_argument(
        "--singles",
        type=int,
        default=1000,
        help="also read this many of the source's single digits with and without --number (0: skip)",
    )
    args = parser.parse_args()
    if args.side_by_side and not args.images:
        parser.error("--side-by-side needs --images DIR")

    reader = NumberReader(Reader(Predictor(args.model or default_model_path())))
    if args.side_by_side:
        return side_by_side(args, reader)
    x, y = digit_source(args)
    rng = np.random.default_rng(args.seed)
    cells = collections.defaultdict(lambda: [0] * 5)  # see tally()
    misreads = []
    scored = []  # (right, the number's confidence) of 2-6 digit numbers
    started = time.perf_counter()
    for layout_name, layout in numbers.LAYOUTS.items():
        for style in numbers.STYLES:
            for length in LENGTHS:
                for _ in range(args.count):
                    idx = numbers.sample_digits(y, length, rng)
                    truth = "".join(str(int(y[i])) for i in idx)
                    image = numbers.render(numbers.compose(x[idx], rng, layout), rng, style)
                    reading = reader.read_gray("", pil_to_gray(Image.open(io.BytesIO(image))))
                    answer = reading.number or ""
                    if length <= 6:
                        scored.append((answer == truth, reading.confidence or 0.0))
                    keys = (
                        (layout_name, style, length),
                        ("layout", layout_name),
                        ("style", style),
                        ("length", length),
                        ("all",),
                    )
                    tally(cells, keys, truth, answer)
                    if answer != truth:
                        misreads.append((layout_name, style, truth, answer))
    seconds = time.perf_counter() - started

    def row(name, key):
        n, right, digits, digits_right, _ = cells[key]
        return f"{name:<22}{n:>7}{right / n:>10.3f}{digits_right / digits:>10.3f}"

    source = (
        f"the digits of {args.images}"
        if args.images
        else "glyph forms"
        if args.glyphs
        else f"MNIST {args.split} digits"
    )
    print(f"numbers composed from {source}; model {args.model or default_model_path()}")
    print(f"{'':<22}{'n':>7}{'numbers':>10}{'digits':>10}")
    print(row("all", ("all",)))
    for length in LENGTHS:
        print(row(f"length {length}", ("length", length)))
    for layout_name in numbers.LAYOUTS:
        print(row(f"layout {layout_name}", ("layout", layout_name)))
    for style in numbers.STYLES:
        print(row(f"style {style}", ("style", style)))
    print(f"{cells[('all',)][0]} numbers in {seconds:.1f} s")
    print_goal(cells)
    apart = [
        cells[(layout, style, n)]
        for layout in numbers.LAYOUTS
        if layout != "touching"
        for style in numbers.STYLES
        for n in LENGTHS
        if n <= 6
    ]
    whole = sum(c[1] for c in apart) / sum(c[0] for c in apart)
    digits = sum(c[3] for c in apart) / sum(c[2] for c in apart)
    print(f"2-6 digits, layouts but 'touching' (all touch): numbers {whole:.3f}, digits {digits:.3f}")
    print_confidence(scored)
    for item in misreads[: args.show_misreads]:
        print("misread", *item)
    if args.singles:
        print_singles(reader, x[: args.singles])
    return 0


def print_singles(reader: NumberReader, digits: np.ndarray) -> None:
    """The issue's "every single-digit answer unchanged": single digits read with and without --number.

    Each digit is handed over as its own image (the source's 28x28 form,
    light ink on dark); predict's label ("?" when it doubts) is compared
    with the number read from the same image.
    """
    differ = []
    for k, digit in enumerate(digits):
        gray = digit.astype(np.float32) / 255
        alone = reader.reader.read_gray(str(k), gray).label or "?"
        number = reader.read_gray(str(k), gray).number or "?"
        if alone != number:
            differ.append(f"{k}: {alone} -> {number}")
    print(f"single digits read differently with --number: {len(differ)} of {len(digits)}")
    if differ:
        print("  " + ", ".join(differ[:12]) + (" ..." if len(differ) > 12 else ""))


if __name__ == "__main__":
    raise SystemExit(main())

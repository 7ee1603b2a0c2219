"""How often "not a digit" is answered: for digits (rarely) and for everything else (mostly).

Every image goes through what ``predict`` does (front-end, model, the
model's calibrated threshold), saved as files first like a user's would be:

* MNIST test digits (PNG): goal <= 1 % answered "not a digit";
* Fashion-MNIST test items (PNG, 28x28 as the dataset has them): goal >= 90 %;
* letters rendered from the installed fonts (dark on light, varied):
  goal >= 70 %; fonts of the DejaVu Sans Mono family are never used in
  training (``mnist_edge.synthesis.outliers.HELD_OUT_FONTS``) and are reported apart;
* shapes and scribbles, and photos of empty paper (reported, no goal);
* digits in the forms MNIST lacks (``synthesis/glyphs.py``, every form and pen):
  reported, as the digits an unusual writer would have refused.

Then the trade-off: the AUROC of the model's confidence between all digits and
all non-digits (an image the front-end finds no digit in scores as rejected),
and for a range of thresholds the share of MNIST digits and of glyph digits
kept against the share of non-digits rejected, the model's own threshold marked.

Run: MNIST_EDGE_DATA=../shared/data/mnist python benchmarks/not_a_digit.py [--n 1000] [--model X.tflite]
Exit code 1 if a goal is missed.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_edge import data, runtime
from mnist_edge.runtime import reading
from mnist_edge.synthesis import glyphs, outliers

FASHION = "/usr/share/datasets/fashion-mnist"


def confidences(reader, images, folder: Path, name: str) -> np.ndarray:
    """The model's confidence on each image (saved as a file first); -1 where the front-end found no digit."""
    scores = []
    for k, image in enumerate(images):
        path = folder / f"{name}_{k}.png"
        if isinstance(image, bytes):
            path.write_bytes(image)
        else:
            Image.fromarray(image).save(path)
        result = reader.read_file(path)
        scores.append(-1.0 if result.confidence is None else result.confidence)
    return np.asarray(scores)


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """The chance a random digit scores above a random non-digit (ties count half)."""
    scores = np.concatenate([positive, negative])
    ranks = np.empty(len(scores))
    order = np.argsort(scores, kind="mergesort")
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average ranks over ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def print_tradeoff(reader, digits: np.ndarray, glyph_digits: np.ndarray, others: np.ndarray) -> None:
    area = auroc(np.concatenate([digits, glyph_digits]), others)
    print(f"\nAUROC, digits (MNIST and glyphs) against everything else: {area:.4f}")
    print(f"{'threshold':>10}{'MNIST kept':>12}{'glyphs kept':>13}{'others rejected':>17}")
    marks = sorted(set(np.round(np.arange(0.3, 0.96, 0.05), 2)) | {round(reader.min_confidence, 4)})
    for t in marks:
        mine = "  <- the model's" if abs(t - reader.min_confidence) < 1e-6 else ""
        print(
            f"{t:10.3f}{np.mean(digits >= t):12.1%}{np.mean(glyph_digits >= t):13.1%}"
            f"{np.mean(others < t):17.1%}{mine}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images per kind")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    reader = reading.Reader(runtime.Predictor(args.model or runtime.default_model_path()))
    rng = np.random.default_rng(args.seed)
    mnist = data.load()
    fonts = outliers.find_fonts()
    held = [f for f in fonts if outliers.is_held_out_font(f)]
    kinds = {
        "MNIST test digits": (mnist.x_test[rng.choice(10000, args.n, replace=False)], "<=", 0.01),
        "letters, all fonts": ([outliers.letter(rng, fonts) for _ in range(args.n)], ">=", 0.70),
        "letters, held-out fonts": ([outliers.letter(rng, held) for _ in range(args.n)], ">=", 0.70)
        if held
        else None,
        "shapes": ([outliers.shape(rng) for _ in range(args.n // 2)], None, None),
        "scribbles": ([outliers.scribble(rng) for _ in range(args.n // 2)], None, None),
        "empty pages": ([outliers.empty_page(rng) for _ in range(max(20, args.n // 10))], None, None),
    }
    if Path(FASHION).is_dir():
        fashion = data.load(FASHION)
        kinds["Fashion-MNIST test items"] = (
            fashion.x_test[rng.choice(10000, args.n, replace=False)],
            ">=",
            0.90,
        )
    glyph_rng = np.random.default_rng(args.seed)
    labels = [str(k % 10) for k in range(args.n)]
    kinds["digits in other forms (glyphs)"] = (
        [glyphs.render(label, glyph_rng) for label in labels],
        None,
        None,
    )
    print(f"model {reader.predictor.model_path}; 'not a digit' below confidence {reader.min_confidence:.3f}")
    failed, scores = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in kinds.items():
            if spec is None:
                continue
            images, op, goal = spec
            scores[name] = confidences(reader, images, Path(tmp), name.split()[0])
            rate = float(np.mean(scores[name] < reader.min_confidence))
            ok = goal is None or (rate <= goal if op == "<=" else rate >= goal)
            failed += [] if ok else [name]
            goal_text = f"goal {op} {goal:.0%}" if goal is not None else ""
            print(
                f"{name:28s} {rate:7.1%} answered 'not a digit'  {goal_text:12s} "
                f"{'' if goal is None else ('PASS' if ok else 'FAIL')}",
                flush=True,
            )
    digit_kinds = ("MNIST test digits", "digits in other forms (glyphs)")
    others = np.concatenate([v for k, v in scores.items() if k not in digit_kinds])
    print_tradeoff(reader, scores["MNIST test digits"], scores["digits in other forms (glyphs)"], others)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

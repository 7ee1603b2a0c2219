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
  reported, as the digits an unusual writer would have refused;
* other writers' real digits: UCI optdigits (1,797 digits by 43 writers, in
  scikit-learn's wheel; never trained on), when scikit-learn is installed.

Then the trade-off, for the model's own score (the sidecar's ``abstain.score``)
and for the top probability alone: the AUROC between all digits and all
non-digits (an image the front-end finds no digit in scores as rejected),
and for a range of thresholds the share of MNIST digits, glyph digits and
other writers' digits kept against the share of non-digits rejected, the
model's own threshold marked.

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
from mnist_edge.runtime import abstain, reading
from mnist_edge.synthesis import glyphs, outliers

FASHION = "/usr/share/datasets/fashion-mnist"
SHORT = {
    "MNIST test digits": "MNIST",
    "digits in other forms (glyphs)": "glyphs",
    "other writers (optdigits)": "optdigits",
}


def probabilities(reader, images, folder: Path, name: str) -> list:
    """The model's probabilities for each image (saved as a file first); None where no digit was found."""
    out = []
    for k, image in enumerate(images):
        path = folder / f"{name}_{k}.png"
        if isinstance(image, bytes):
            path.write_bytes(image)
        elif isinstance(image, Path):
            path = image
        else:
            Image.fromarray(image).save(path)
        result = reader.read_file(path)
        out.append(None if result.probabilities is None else np.asarray(result.probabilities))
    return out


def scores_of(probs: list, kind: str) -> np.ndarray:
    """The score of each reading; -1 where the front-end found no digit (always rejected)."""
    return np.asarray([-1.0 if p is None else float(abstain.score(p, kind)) for p in probs])


def other_writers(folder: Path):
    """UCI optdigits as 8x8 PNGs (light on dark, as the dataset has them), or None without scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    digits = load_digits()
    paths = []
    for k, image in enumerate(digits.images):
        path = folder / f"optdigits_{k}.png"
        Image.fromarray((image / 16 * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


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


def print_tradeoff(reader, probs: dict, digit_kinds, kind: str) -> None:
    scores = {name: scores_of(p, kind) for name, p in probs.items()}
    others = np.concatenate([v for k, v in scores.items() if k not in digit_kinds])
    digits = np.concatenate([scores[k] for k in digit_kinds if k in scores])
    mine = kind == reader.score
    print(
        f"\nscore {kind}{' (the model’s)' if mine else ''}: AUROC, digits against everything else: "
        f"{auroc(digits, others):.4f}"
    )
    columns = [k for k in digit_kinds if k in scores]
    print(
        f"{'threshold':>10}"
        + "".join(f"{SHORT[k] + ' kept':>16}" for k in columns)
        + f"{'others rejected':>17}"
    )
    marks = sorted(
        set(np.round(np.arange(0.3, 0.96, 0.05), 2)) | ({round(reader.min_confidence, 4)} if mine else set())
    )
    for t in marks:
        flag = "  <- the model's" if mine and abs(t - reader.min_confidence) < 1e-6 else ""
        print(
            f"{t:10.3f}"
            + "".join(f"{np.mean(scores[k] >= t):16.1%}" for k in columns)
            + f"{np.mean(others < t):17.1%}{flag}"
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
    print(
        f"model {reader.predictor.model_path}; 'not a digit' below {reader.min_confidence:.3f} "
        f"({reader.score} score)"
    )
    failed, probs = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        writers = other_writers(Path(tmp))
        if writers is not None:
            kinds["other writers (optdigits)"] = (writers, None, None)
        for name, spec in kinds.items():
            if spec is None:
                continue
            images, op, goal = spec
            probs[name] = probabilities(reader, images, Path(tmp), name.split()[0])
            rate = float(np.mean(scores_of(probs[name], reader.score) < reader.min_confidence))
            ok = goal is None or (rate <= goal if op == "<=" else rate >= goal)
            failed += [] if ok else [name]
            goal_text = f"goal {op} {goal:.0%}" if goal is not None else ""
            print(
                f"{name:28s} {rate:7.1%} answered 'not a digit'  {goal_text:12s} "
                f"{'' if goal is None else ('PASS' if ok else 'FAIL')}",
                flush=True,
            )
    digit_kinds = ("MNIST test digits", "digits in other forms (glyphs)", "other writers (optdigits)")
    for kind in dict.fromkeys([reader.score, *abstain.SCORES]):
        print_tradeoff(reader, probs, digit_kinds, kind)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

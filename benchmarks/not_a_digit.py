"""How often "not a digit" is answered: for digits (rarely) and for everything else (mostly).

Every image goes through what ``predict`` does (front-end, model, the
model's calibrated threshold), saved as files first like a user's would be:

* MNIST test digits (PNG): goal <= 1 % answered "not a digit";
* Fashion-MNIST test items (PNG, 28x28 as the dataset has them): goal >= 90 %;
* letters rendered from the installed fonts (dark on light, varied):
  goal >= 70 %; fonts of the DejaVu Sans Mono family are never used in
  training (``mnist_edge.synthesis.outliers.HELD_OUT_FONTS``) and are reported apart;
* shapes and scribbles, and photos of empty paper (reported, no goal).

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
from mnist_edge.synthesis import outliers

FASHION = "/usr/share/datasets/fashion-mnist"


def answered_not_a_digit(reader, images, folder: Path, name: str) -> float:
    """Share of the images (saved as PNG) the reader answers "not a digit"."""
    count = 0
    for k, image in enumerate(images):
        path = folder / f"{name}_{k}.png"
        Image.fromarray(image).save(path)
        result = reader.read_file(path)
        count += result.label is None and result.error is None
    return count / max(len(images), 1)


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
    print(f"model {reader.predictor.model_path}; 'not a digit' below confidence {reader.min_confidence:.3f}")
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in kinds.items():
            if spec is None:
                continue
            images, op, goal = spec
            rate = answered_not_a_digit(reader, images, Path(tmp), name.split()[0])
            ok = goal is None or (rate <= goal if op == "<=" else rate >= goal)
            failed += [] if ok else [name]
            goal_text = f"goal {op} {goal:.0%}" if goal is not None else ""
            print(
                f"{name:28s} {rate:7.1%} answered 'not a digit'  {goal_text:12s} "
                f"{'' if goal is None else ('PASS' if ok else 'FAIL')}",
                flush=True,
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

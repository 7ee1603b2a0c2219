"""How well `mnist-edge predict` reads digits as users have them.

Builds test images from the MNIST *test* set (never seen in training) and
reads them as `predict` does (`reading.Reader`: the front-end, the model and
its "not a digit" threshold), side by side with the model on the original
arrays:

* MNIST PNGs exactly as stored: must score exactly as the arrays;
* photo-like JPEGs (`mnist_edge.synthesis.synth`): dark ink on squared paper, large and
  off-centre, uneven light and a shadow, noise, JPEG quality 40-85. "Not a
  digit" counts as a miss. Goal >= 95 %;
* photos of empty paper (some with a grid, some with a shadow's edge): each
  must be answered with no digit ("no digit found" or "not a digit").

Run: MNIST_EDGE_DATA=../shared/data/mnist python benchmarks/photo_accuracy.py [--n 1000]
Exit code 1 if a goal is missed.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_edge import data, runtime
from mnist_edge.runtime import reading
from mnist_edge.synthesis import synth


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images per kind")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    dataset = data.load()
    predictor = runtime.Predictor(args.model or runtime.default_model_path())
    reader = reading.Reader(predictor)
    rng = np.random.default_rng(args.seed)
    idx = rng.choice(len(dataset.y_test), size=args.n, replace=False)
    labels = dataset.y_test[idx].astype(str)
    arrays = np.array([str(predictor.predict(dataset.x_test[i]).label) for i in idx])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pngs, photos, timings = [], [], []
        for k, i in enumerate(idx):
            png = tmp / f"m{k}.png"
            Image.fromarray(dataset.x_test[i]).save(png)
            pngs.append(str(predictor.predict(runtime.preprocess_file(png)).label))
            jpg = tmp / f"p{k}.jpg"
            jpg.write_bytes(synth.render_photo(dataset.x_test[i], rng))
            t0 = time.perf_counter()
            photos.append(reader.read_file(jpg).label)  # None: "not a digit"
            timings.append(time.perf_counter() - t0)
        blank_ok = 0
        n_blank = max(20, args.n // 10)
        for k in range(n_blank):
            path = tmp / f"b{k}.jpg"
            path.write_bytes(synth.render_blank(rng, grid=k % 2 == 0))
            blank_ok += reader.read_file(path).label is None
    pngs, photos = np.array(pngs), np.array(photos, dtype=object)
    acc_arr = float(np.mean(arrays == labels))
    acc_png = float(np.mean(pngs == labels))
    acc_photo = float(np.mean(photos == labels))
    print(f"default model on {args.n} MNIST test digits (seed {args.seed})")
    print(f"  arrays (reference)                 accuracy {acc_arr:.4f}")
    print(
        f"  MNIST PNG files                    accuracy {acc_png:.4f}  "
        f"identical to arrays: {bool(np.array_equal(pngs, arrays))}"
    )
    print(
        f"  photo-like JPEGs on squared paper  accuracy {acc_photo:.4f}  "
        f"(answered no digit: {sum(p is None for p in photos)}; "
        f"{1000 * np.median(timings):.1f} ms/image median)"
    )
    print(f"  empty-paper photos answered with no digit: {blank_ok}/{n_blank}")
    ok = np.array_equal(pngs, arrays) and acc_photo >= 0.95 and blank_ok == n_blank
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Connected components in O(pixels): the front-end's labelling against SciPy's, side by side.

Times `mnist_edge.preprocess.components.label` (run-based union-find, numpy
only) on worst cases of 1000x1000: a snake (one component winding through
every row), a checkerboard (500,000 diagonal joins) and random noise, and,
when SciPy is installed (the dev extra), `scipy.ndimage.label` with 8-
connectivity on the same masks, in one run. Both must find the same number
of components. Goal: the snake under 50 ms.

Run: python benchmarks/components_speed.py [--runs 7]
Exit code 1 if the goal is missed or the counts differ.
"""

import argparse
import statistics
import sys
import time

import numpy as np

from mnist_edge.preprocess.components import label


def snake(n: int) -> np.ndarray:
    mask = np.zeros((n, n), bool)
    mask[::2] = True
    for r in range(1, n, 2):
        mask[r, n - 1 if (r // 2) % 2 == 0 else 0] = True
    return mask


def median_ms(fn, mask, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(mask)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    masks = {
        "snake 1000x1000": snake(1000),
        "checkerboard 1000x1000": (np.indices((1000, 1000)).sum(0) % 2) == 0,
        "random 50 % 1000x1000": np.random.default_rng(0).random((1000, 1000)) < 0.5,
    }
    try:
        from scipy import ndimage

        def scipy_label(mask):
            return ndimage.label(mask, structure=np.ones((3, 3), bool))
    except ImportError:
        scipy_label = None
    ok = True
    print(f"{'mask':26s} {'mnist-edge ms':>14s} {'scipy ms':>10s} {'components':>11s}")
    for name, mask in masks.items():
        ours = median_ms(label, mask, args.runs)
        count = label(mask).count
        theirs = median_ms(scipy_label, mask, args.runs) if scipy_label else float("nan")
        if scipy_label and scipy_label(mask)[1] != count:
            ok = False
            print(f"{name}: component counts differ")
        print(f"{name:26s} {ours:14.1f} {theirs:10.1f} {count:11d}")
        if name.startswith("snake"):
            goal = ours < 50
            ok &= goal
            print(f"  snake under 50 ms: {'PASS' if goal else 'FAIL'}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

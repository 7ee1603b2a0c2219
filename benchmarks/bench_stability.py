"""Do `mnist-edge bench`'s latency figures hold still? Repeated runs against an independent loop.

Shows, side by side in one run (fresh processes, alternating so that any drift
of the machine lands on both alike):

1. `mnist-edge bench --json --model M` run --repeats times: the headline
   end-to-end p50 (µs) of each run;
2. between them, an independent plain loop in its own process: a
   `Predictor` on the same model and image, warmed up, timing
   `Predictor.predict` in windows and taking the median of the windows' p50s;
3. the spread of the bench p50s (max / min - 1; goal <= 10 %) and the ratio of
   their median to the loop's median (goal within 10 %).

With --explain it also prints the warm-up curve that explains the drift the
first bench had (p50 of consecutive blocks of calls from the very first call,
in a fresh process, right after the batch pass over the test set that bench
makes before timing).

Run: MNIST_EDGE_DATA=../shared/data/mnist python benchmarks/bench_stability.py \
       [--model M] [--repeats 5] [--explain]
Exit code 1 if a goal is missed. Run on an otherwise idle machine.
"""

import argparse
import json
import statistics
import subprocess
import sys

LOOP = r"""
import gc, json, sys, time
import numpy as np
from mnist_edge import data
from mnist_edge.runtime import Predictor

model, windows, per_window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
image = data.load().x_test[0]
p = Predictor(model, num_threads=1)
for _ in range(2000):
    p.predict(image)
ns = time.perf_counter_ns
p50s = []
gc.disable()
for _ in range(windows):
    samples = []
    for _ in range(per_window):
        t0 = ns(); p.predict(image); samples.append(ns() - t0)
    p50s.append(sorted(samples)[len(samples) // 2] / 1000)
print(json.dumps({"p50": sorted(p50s)[len(p50s) // 2]}))
"""

CURVE = r"""
import json, sys, time
from mnist_edge import data
from mnist_edge.runtime import Predictor

model, blocks, per_block = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x = data.load().x_test
p = Predictor(model, num_threads=1)
p.probabilities(x)  # what bench does before timing: a batch pass over the test set
ns = time.perf_counter_ns
curve = []
for _ in range(blocks):
    samples = []
    for _ in range(per_block):
        t0 = ns(); p.predict(x[0]); samples.append(ns() - t0)
    curve.append(sorted(samples)[len(samples) // 2] / 1000)
print(json.dumps(curve))
"""


def run_json(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... exited {out.returncode}: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout)


def bench_p50(model, runs):
    cmd = [sys.executable, "-m", "mnist_edge", "bench", "--json", "-q", "--model", model]
    return run_json(cmd + ["--runs", str(runs)])["models"][0]["latency_us"]["p50"]


def loop_p50(model, runs):
    return run_json([sys.executable, "-c", LOOP, model, "10", str(max(1, runs // 10))])["p50"]


def explain(model, blocks=40, per_block=250):
    curve = run_json([sys.executable, "-c", CURVE, model, str(blocks), str(per_block)])
    print(f"\nwarm-up curve: p50 (µs) of blocks of {per_block} calls from the first one after the batch pass")
    for start in range(0, len(curve), 10):
        row = " ".join(f"{v:6.2f}" for v in curve[start : start + 10])
        print(f"  calls {start * per_block:5d}-{(start + 10) * per_block - 1:5d}: {row}")
    settled = statistics.median(curve[-10:])
    first = next((k for k, v in enumerate(curve) if v <= settled * 1.05), len(curve))
    print(
        f"  settled p50 {settled:.2f} µs; within 5 % of it after {first * per_block} calls; "
        f"first block {curve[0]:.2f} µs"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a .tflite model (default: the shipped one)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10000, help="timed calls per figure")
    parser.add_argument("--explain", action="store_true", help="also print the warm-up curve")
    args = parser.parse_args()
    from mnist_edge.runtime import default_model_path

    model = args.model or str(default_model_path())
    bench, loop = [], []
    for k in range(args.repeats):
        bench.append(bench_p50(model, args.runs))
        loop.append(loop_p50(model, args.runs))
        print(
            f"run {k + 1}: bench p50 {bench[-1]:7.2f} µs   independent loop p50 {loop[-1]:7.2f} µs",
            flush=True,
        )
    spread = max(bench) / min(bench) - 1
    ratio = statistics.median(bench) / statistics.median(loop)
    print(f"\nmodel {model}, {args.runs} timed calls per figure, 1 thread")
    print(f"bench p50 spread over {args.repeats} runs (max/min - 1)   {spread * 100:6.1f} %   goal <= 10 %")
    print(f"median bench p50 / median loop p50              {ratio:6.3f}     goal 0.90-1.10")
    ok = spread <= 0.10 and 0.90 <= ratio <= 1.10
    if args.explain:
        explain(model)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

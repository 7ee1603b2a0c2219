"""Training speed: `mnist-edge train` against the tutorial's plain script.

Runs both, one after the other in fresh processes on the same machine, the
same model, batch size (32) and epochs (5), and prints their wall times
(fit only), test accuracies and the ratio. The goal is a ratio <= 0.40 with
accuracy >= 0.975: the saving must come from removing overhead (float32 input,
a tf.data pipeline, steps_per_execution, threading), not from learning less.

Run: MNIST_EDGE_DATA=../shared/data/mnist python benchmarks/train_speed.py [--repeats N]
Exit code 1 if the goal is missed (the median over repeats is compared).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_json(cmd):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    tutorial, ours = [], []
    for _ in range(args.repeats):
        tutorial.append(run_json([sys.executable, os.path.join(HERE, "tutorial_train.py")]))
        with tempfile.TemporaryDirectory() as out:
            ours.append(
                run_json([sys.executable, "-m", "mnist_edge", "train", "--quiet", "--json", "--out", out])
            )
    t_tut = statistics.median(r["train_seconds"] for r in tutorial)
    t_ours = statistics.median(r["train_seconds"] for r in ours)
    acc_ours = min(r["test_accuracy"] for r in ours)
    ratio = t_ours / t_tut
    print(f"{'':24}{'fit seconds':>12}{'test accuracy':>15}")
    print(
        f"{'tutorial script':24}{t_tut:12.2f}{statistics.median(r['test_accuracy'] for r in tutorial):15.4f}"
    )
    print(f"{'mnist-edge train':24}{t_ours:12.2f}{acc_ours:15.4f}")
    print(f"ratio (mnist-edge / tutorial): {ratio:.3f}  (goal <= 0.40, accuracy >= 0.975)")
    ok = ratio <= 0.40 and acc_ours >= 0.975
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

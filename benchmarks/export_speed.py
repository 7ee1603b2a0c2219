"""Wall time of `mnist-edge export --quantize all`, parity runs included.

Times the whole command as a user runs it (process start, TensorFlow import,
four conversions, four full-test-set parity runs, sidecars) against the goal
of <= 15 s on the 2-core development machine, and prints the size and
parity figures of the int8 file against its targets (<= 0.27x float32,
agreement >= 99.5 %, accuracy drop <= 0.2 pp).

Run: MNIST_EDGE_DATA=../shared/data/mnist python benchmarks/export_speed.py [--model M.keras]
(without --model it trains the default model into a temp folder first).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            out = subprocess.run(
                [sys.executable, "-m", "mnist_edge", "train", "-q", "--json", "--out", tmp],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            model = json.loads(out)["model"]
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mnist_edge",
                "export",
                "--quantize",
                "all",
                "--model",
                model,
                "--out",
                os.path.join(tmp, "export"),
                "--json",
                "-q",
            ],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        print(proc.stderr)
        return 1
    doc = json.loads(proc.stdout)
    arts = {a["quantization"]: a for a in doc["artifacts"]}
    f32, i8 = arts["none"], arts["int8"]
    ratio = i8["size_bytes"] / f32["size_bytes"]
    checks = [
        ("export --quantize all wall time (s)", wall, 15.0, wall <= 15.0),
        ("int8 size / float32 size", ratio, 0.27, ratio <= 0.27),
        ("int8 agreement with Keras", i8["agreement"], 0.995, i8["agreement"] >= 0.995),
        ("int8 accuracy drop (pp)", i8["accuracy_drop_pp"], 0.2, i8["accuracy_drop_pp"] <= 0.2),
        ("float32 agreement with Keras", f32["agreement"], 1.0, f32["agreement"] == 1.0),
    ]
    for name, value, goal, ok in checks:
        print(f"{name:<38}{value:10.4f}   goal {goal:<6} {'PASS' if ok else 'MISS'}")
    for a in doc["artifacts"]:
        print(
            f"  {a['format']:<8} {a['size_bytes']:>7} B  accuracy {a['accuracy']:.4f}  "
            f"agreement {a['agreement']:.4f}  max|dp| {a['max_abs_diff']:.4f}"
        )
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())

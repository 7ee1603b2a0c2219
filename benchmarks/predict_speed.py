"""The predictor's speed and footprint, measured side by side in one run.

1. Cold start: wall time and peak RSS of one `mnist-edge predict digit.png`
   process, against the floor (a python that only imports numpy, Pillow and
   LiteRT) and, if TensorFlow is installed, the TensorFlow path (import
   tensorflow, tf.lite.Interpreter). Goals: <= 0.30 s and <= 80 MB.
2. Latency: single-image `Predictor.predict` on a uint8 array against the bare
   `set_tensor` / `invoke` / `get_tensor` loop on the same interpreter kind and
   model, interleaved in rounds so drift hits both alike. Goal: p50 ratio <= 1.5.

Run: python benchmarks/predict_speed.py [--model M.tflite] [--runs 7]
Needs mnist-edge[runtime]; uses the packaged int8 model by default.
Exit code 1 if a goal is missed.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np


def run_measured(cmd):
    """Wall seconds and peak RSS (bytes) of one fresh process running ``cmd``."""
    from mnist_edge.bench.environment import measure_process

    result = measure_process(cmd)
    if result["rc"] != 0:
        raise RuntimeError(f"{cmd} exited with {result['rc']}: {result['stderr'][-300:]}")
    return result["wall"], result["maxrss"]


def cold_start(runs, digit_png, model):
    exe = os.path.join(os.path.dirname(sys.executable), "mnist-edge")
    predict = [exe] if os.path.exists(exe) else [sys.executable, "-m", "mnist_edge"]
    cases = {
        "floor: python + numpy + Pillow + LiteRT": [
            sys.executable,
            "-c",
            "import numpy, PIL.Image, ai_edge_litert.interpreter",
        ],
        "mnist-edge predict digit.png": predict + ["predict", "-q", "--model", model, digit_png],
    }
    try:
        import importlib.util

        if importlib.util.find_spec("tensorflow") is not None:
            cases["TensorFlow path (import tf, tf.lite.Interpreter)"] = [
                sys.executable,
                "-c",
                "import os; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'\nimport tensorflow as tf\n"
                f"i = tf.lite.Interpreter(model_path={model!r}); i.allocate_tensors(); i.invoke()",
            ]
    except ImportError:
        pass
    results = {}
    for name, cmd in cases.items():
        run_measured(cmd)  # warm the page cache
        samples = [run_measured(cmd) for _ in range(runs)]
        results[name] = (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples))
    return results


def latency(model, rounds=20, per_round=500):
    from ai_edge_litert.interpreter import Interpreter

    from mnist_edge import data, runtime

    predictor = runtime.Predictor(model, num_threads=1)
    bare = Interpreter(model_path=model, num_threads=1)
    bare.allocate_tensors()
    inp, out = bare.get_input_details()[0]["index"], bare.get_output_details()[0]["index"]
    image = data.load().x_test[0]
    x = predictor.prepare(image)  # the bare loop gets pre-quantised input: its best case
    ns = time.perf_counter_ns
    ours, base = [], []

    def bare_call():
        bare.set_tensor(inp, x)
        bare.invoke()
        bare.get_tensor(out)

    for _ in range(50):
        predictor.predict(image)
        bare_call()
    for _ in range(rounds):
        for _ in range(per_round):
            t0 = ns()
            bare_call()
            base.append(ns() - t0)
        for _ in range(per_round):
            t0 = ns()
            predictor.predict(image)
            ours.append(ns() - t0)
    return np.array(ours) / 1000, np.array(base) / 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from PIL import Image

    from mnist_edge import data, runtime

    model = args.model or str(runtime.default_model_path())
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        digit = os.path.join(tmp, "digit.png")
        Image.fromarray(data.load().x_test[0]).save(digit)
        cold = cold_start(args.runs, digit, model)
    print(f"cold start, median of {args.runs} runs")
    print(f"  {'':52}{'wall s':>8}{'peak MB':>9}")
    for name, (wall, rss) in cold.items():
        print(f"  {name:52}{wall:8.3f}{rss / 1e6:9.1f}")
    wall, rss = cold["mnist-edge predict digit.png"]
    floor_wall, floor_rss = cold["floor: python + numpy + Pillow + LiteRT"]
    print(
        f"  predict vs floor: {wall / floor_wall:.2f}x time, {rss / floor_rss:.2f}x memory; "
        f"goals <= 0.30 s, <= 80 MB: {'PASS' if wall <= 0.30 and rss <= 80e6 else 'MISS'}"
    )
    ok &= wall <= 0.30 and rss <= 80e6

    ours, base = latency(model)
    print(f"single-image latency, {len(ours)} calls each, interleaved (µs)")
    for name, v in (("Predictor.predict (uint8 pixels)", ours), ("bare set/invoke/get", base)):
        p50, p90, p99 = np.percentile(v, [50, 90, 99])
        print(f"  {name:34} p50 {p50:7.2f}  p90 {p90:7.2f}  p99 {p99:7.2f}  mean {v.mean():7.2f}")
    ratio = np.median(ours) / np.median(base)
    print(
        f"  p50 ratio Predictor / bare loop: {ratio:.2f} (goal <= 1.5): {'PASS' if ratio <= 1.5 else 'MISS'}"
    )
    ok &= ratio <= 1.5
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

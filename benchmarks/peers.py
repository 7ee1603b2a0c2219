"""Our predictor against its peers, side by side in one run, same model and images.

Trains (or loads) the tutorial MLP, exports float32 and int8 TFLite, converts
the same Keras model to ONNX with tf2onnx (`from_function`: `from_keras` fails
on Keras 3 models), and times on the same MNIST test images:

* Keras `model(x)` and `model.predict(x)` (one image), `predict` on the batch;
* our `Predictor` on the float32 and int8 files (`predict` on a uint8 array
  with 1 thread, `probabilities` on the 10,000-image batch with all cores,
  as ONNX Runtime and numpy use by default);
* the bare LiteRT `set_tensor` / `invoke` / `get_tensor` loop on the int8 file
  (input pre-quantised: its best case);
* ONNX Runtime (CPU provider) on the float model, one image and the batch;
* a plain numpy forward pass (float32 matmuls), one image and the batch.

Single-image figures are p50/p99 µs over `--runs` calls after warm-up, timed
with perf_counter_ns around the call only; batch figures are the best of 5.
Prints the ratios the project's goals are stated in:
int8 Predictor p50 <= 0.5x ONNX Runtime's and <= 1.5x the bare loop;
10,000-image batch throughput >= ONNX Runtime's.

Run: MNIST_EDGE_DATA=../shared/data/mnist python benchmarks/peers.py [--model M.keras] [--runs 5000]
Needs the train, runtime and dev extras (dev brings onnxruntime and tf2onnx).
Exit code 1 if a goal is missed.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def single(call, runs, warmup):
    for _ in range(warmup):
        call()
    ns = time.perf_counter_ns
    out = np.empty(runs)
    for i in range(runs):
        t0 = ns()
        call()
        out[i] = ns() - t0
    return np.percentile(out / 1000, [50, 99])


def batch(call, n, repeats=5):
    call()
    best = min(_timed(call) for _ in range(repeats))
    return n / best


def _timed(call):
    t0 = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - t0) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a trained .keras (default: train one)")
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    from mnist_edge import data, export, runtime
    from mnist_edge.training import train
    from mnist_edge.training._tf import import_tf
    from mnist_edge.training.config import TrainConfig

    tf = import_tf()
    import keras
    import onnxruntime as ort
    import tf2onnx
    from ai_edge_litert.interpreter import Interpreter

    dataset = data.load()
    x_u8, y = dataset.x_test, dataset.y_test
    x01 = data.normalize(x_u8)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model
        if model_path is None:
            print("training the tutorial model (seed 0) ...", file=sys.stderr)
            model_path = train.train(dataset, tmp, TrainConfig(seed=0))["model"]
        model = keras.models.load_model(model_path, compile=False)
        export.export(model_path, tmp, export.ExportConfig(quantizations=("none", "int8")), dataset=dataset)
        stem = Path(model_path).stem
        f32_path, i8_path = (str(Path(tmp) / f"{stem}_{f}.tflite") for f in ("float32", "int8"))

        spec = (tf.TensorSpec((None, 28, 28), tf.float32, name="image"),)
        onnx_model, _ = tf2onnx.convert.from_function(
            tf.function(lambda x: model(x, training=False)), input_signature=spec, opset=17
        )
        options = ort.SessionOptions()
        session = ort.InferenceSession(
            onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        ort_in = session.get_inputs()[0].name

        weights = model.get_weights()  # W1, b1, W2, b2 of the MLP
        W1, b1, W2, b2 = (w.astype(np.float32) for w in weights)

        def numpy_forward(x):
            h = np.maximum(x.reshape(len(x), 784) @ W1 + b1, 0)
            z = h @ W2 + b2
            z = np.exp(z - z.max(axis=1, keepdims=True))
            return z / z.sum(axis=1, keepdims=True)

        p_f32 = runtime.Predictor(f32_path, num_threads=1)
        p_i8 = runtime.Predictor(i8_path, num_threads=1)
        # Batch figures use every core, as ONNX Runtime and numpy do by default.
        cores = os.cpu_count() or 1
        b_f32 = runtime.Predictor(f32_path, num_threads=cores)
        b_i8 = runtime.Predictor(i8_path, num_threads=cores)
        bare = Interpreter(model_path=i8_path, num_threads=1)
        bare.allocate_tensors()
        b_in, b_out = bare.get_input_details()[0]["index"], bare.get_output_details()[0]["index"]
        q = p_i8.prepare(x_u8[0])

        img_u8, img01 = x_u8[0], x01[:1]
        one_tf = tf.constant(img01)
        rows = []
        runs, warm = args.runs, args.warmup
        rows.append(
            (
                "Keras model(x)",
                *single(lambda: model(one_tf, training=False), runs // 10, 20),
                batch(lambda: model.predict(x01, batch_size=1000, verbose=0), len(y), 3),
            )
        )
        rows.append(
            (
                "Keras model.predict(x)",
                *single(lambda: model.predict(img01, verbose=0), max(20, runs // 100), 5),
                None,
            )
        )
        rows.append(
            (
                "ONNX Runtime (float32)",
                *single(lambda: session.run(None, {ort_in: img01}), runs, warm),
                batch(lambda: session.run(None, {ort_in: x01}), len(y)),
            )
        )
        rows.append(
            (
                "numpy forward (float32)",
                *single(lambda: numpy_forward(img01), runs, warm),
                batch(lambda: numpy_forward(x01), len(y)),
            )
        )
        rows.append(
            (
                "Predictor TFLite float32",
                *single(lambda: p_f32.predict(img_u8), runs, warm),
                batch(lambda: b_f32.probabilities(x_u8), len(y)),
            )
        )
        rows.append(
            (
                "Predictor TFLite int8",
                *single(lambda: p_i8.predict(img_u8), runs, warm),
                batch(lambda: b_i8.probabilities(x_u8), len(y)),
            )
        )

        def bare_loop():
            bare.set_tensor(b_in, q)
            bare.invoke()
            bare.get_tensor(b_out)

        rows.append(("bare LiteRT loop int8", *single(bare_loop, runs, warm), None))
        # Interleaved re-measurement of the two figures whose ratio is a goal.
        ours, base = [], []
        for _ in range(10):
            ours.append(single(lambda: p_i8.predict(img_u8), runs // 10, 50)[0])
            base.append(single(bare_loop, runs // 10, 50)[0])

        accuracy = {
            "Keras": np.mean(model.predict(x01, batch_size=1000, verbose=0).argmax(1) == y),
            "ONNX Runtime": np.mean(session.run(None, {ort_in: x01})[0].argmax(1) == y),
            "numpy": np.mean(numpy_forward(x01).argmax(1) == y),
            "TFLite float32": np.mean(p_f32.probabilities(x_u8).argmax(1) == y),
            "TFLite int8": np.mean(p_i8.probabilities(x_u8).argmax(1) == y),
        }

    print(
        f"same model ({Path(model_path).name}), same {len(y)} test images; single image: "
        f"p50/p99 µs, 1 interpreter thread; batch: best of 5, images/s, all {os.cpu_count()} cores"
    )
    print(f"{'':28}{'p50 µs':>10}{'p99 µs':>10}{'batch img/s':>14}")
    for name, p50, p99, ips in rows:
        print(f"{name:28}{p50:10.2f}{p99:10.2f}{(f'{ips:14.0f}' if ips else '             -')}")
    print("accuracy: " + ", ".join(f"{k} {v:.4f}" for k, v in accuracy.items()))
    table = {name: (p50, ips) for name, p50, _, ips in rows}
    ort_p50, ort_ips = table["ONNX Runtime (float32)"]
    i8_p50, i8_ips = table["Predictor TFLite int8"]
    ratio_bare = float(np.median(np.array(ours) / np.array(base)))
    goals = [
        ("int8 Predictor p50 / ONNX Runtime p50", i8_p50 / ort_p50, "<= 0.5", i8_p50 / ort_p50 <= 0.5),
        ("int8 Predictor p50 / bare loop p50 (interleaved)", ratio_bare, "<= 1.5", ratio_bare <= 1.5),
        ("int8 batch throughput / ONNX Runtime's", i8_ips / ort_ips, ">= 1.0", i8_ips >= ort_ips),
        ("int8 Predictor p50 / Keras model(x) p50", i8_p50 / table["Keras model(x)"][0], "info", True),
    ]
    for name, value, goal, ok in goals:
        print(f"{name:52}{value:8.3f}  goal {goal:7} {'PASS' if ok else 'MISS' if goal != 'info' else ''}")
    return 0 if all(ok for *_, ok in goals) else 1


if __name__ == "__main__":
    sys.exit(main())

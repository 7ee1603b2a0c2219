"""The Keras reference, timed as users call it (TensorFlow side only)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Tuple

import numpy as np

from mnist_edge.bench import timing
from mnist_edge.evaluation import parity


def bench_keras(
    model, x_test01: np.ndarray, y_test: np.ndarray, path: Path, runs: int, warmup: int
) -> Tuple[dict, np.ndarray, List[int]]:
    """Keras figures: ``model(x)`` and ``model.predict(x)`` on one image, ``predict`` on the batch.

    Returns:
        ``(entry, probabilities on the test set, model(x) samples in ns)``.
    """
    import tensorflow as tf

    probs = np.asarray(model.predict(x_test01, batch_size=1000, verbose=0), dtype=np.float32)
    one = tf.constant(x_test01[:1])
    calls = {
        "call": lambda: model(one, training=False),
        "predict": lambda: model.predict(x_test01[:1], verbose=0),
    }
    call = timing.interleaved({"call": calls["call"]}, runs, warmup, windows=5)["call"]
    # model.predict costs milliseconds per call: fewer runs.
    predict_one = timing.interleaved(
        {"predict": calls["predict"]}, max(5, runs // 20), min(warmup, 5), windows=5
    )["predict"]
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter_ns()
        model.predict(x_test01, batch_size=1000, verbose=0)
        best = min(best, time.perf_counter_ns() - t0)
    entry = {
        "path": str(path),
        "format": "keras",
        "quantization": "none (reference)",
        "size_bytes": path.stat().st_size,
        **call.figures(),
        "invoke_latency_us": None,
        "predict_latency_us": predict_one.figures()["latency_us"],
        "throughput_ips": round(len(x_test01) / (best / 1e9), 1),
        "throughput_runs": 3,
        "latency_note": "latency_us is model(x) on one image; predict_latency_us is "
        "model.predict(x) on one image; throughput is model.predict on the batch",
        "peak_rss_bytes": None,
        "reference": "itself",
    }
    entry.update(parity.compare(probs, probs, y_test))
    return entry, probs, call.samples

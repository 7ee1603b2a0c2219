"""Measuring one ``.tflite`` file the way a device runs it (numpy + the interpreter only).

Figures, as LiteRT's ``benchmark_model`` names them: ``init_ms`` (load +
allocate), ``first_inference_us``, ``warmup_mean_us`` and steady-state
``latency_us`` (p50/p90/p99/mean/std/min with the run count), end to end
(uint8 pixels in, label out: ``Predictor.predict``) and invoke-only, per
thread count with XNNPACK on and off; batch throughput; cold load time and
peak RSS of a fresh process; and accuracy with parity against the original
Keras model (its reference record, or the live model when given).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

from mnist_edge.bench import timing
from mnist_edge.bench.environment import measure_process
from mnist_edge.errors import RuntimeModelError
from mnist_edge.evaluation import parity
from mnist_edge.runtime import Predictor
from mnist_edge.runtime.guard import python_command


def infer_format(predictor) -> Dict[str, str]:
    """Format and quantisation of a TFLite model: from its sidecar, else its tensors."""
    sidecar = predictor.sidecar
    if sidecar is not None and sidecar.quantization:
        fmt = sidecar.format_name or sidecar.quantization
        if sidecar.quantization == "int8" and sidecar.io_type not in (None, "int8"):
            fmt += f" ({sidecar.io_type} io)"
        return {"format": fmt, "quantization": sidecar.quantization}
    dtypes = predictor.tensor_dtypes()
    if predictor.input_dtype.name in ("int8", "uint8"):
        return {"format": "int8", "quantization": "int8"}
    if "float16" in dtypes:
        return {"format": "float16", "quantization": "float16"}
    if "int8" in dtypes:
        return {"format": "dynamic", "quantization": "dynamic"}
    return {"format": "float32", "quantization": "none"}


def _load_probe(path: str, npy: str, runtime_name: str) -> dict:
    """Cold load time and peak RSS of a process that only loads the predictor and predicts."""
    code = (
        "import sys, time, json\n"
        "import numpy as np\n"
        "from mnist_edge.runtime import Predictor\n"
        "x = np.load(sys.argv[2])\n"
        "t = time.perf_counter(); p = Predictor(sys.argv[1], runtime=sys.argv[3]);"
        " cold = time.perf_counter() - t\n"
        "p.predict(x[0]); p.probabilities(x)\n"
        "print(json.dumps({'cold_ms': cold * 1000}))\n"
    )

    result = measure_process(python_command() + ["-c", code, path, npy, runtime_name])
    if result["rc"] != 0:
        lines = result["stderr"].strip().splitlines()
        raise RuntimeModelError(lines[-1] if lines else f"load probe exited {result['rc']}")
    return {
        "cold": round(json.loads(result["stdout"])["cold_ms"], 3),
        "peak_rss_bytes": int(result["maxrss"]),
    }


def _warm_init_ms(path: Path, runtime_name: str) -> float:
    warm = []
    for _ in range(10):
        t0 = time.perf_counter_ns()
        _predictor(path, runtime_name)
        warm.append(time.perf_counter_ns() - t0)
    return round(statistics.median(warm) / 1e6, 3)


def _predictor(path, runtime_name, **kwargs):

    return Predictor(path, runtime=runtime_name, **kwargs)


def _configs(path: Path, runtime_name: str, threads: Sequence[int], image: np.ndarray):
    """Per (threads, XNNPACK): the end-to-end call, the invoke-only call, and the predictor."""
    configs = {}
    for n_threads in threads:
        for xnnpack in (True, False):
            p = _predictor(path, runtime_name, num_threads=n_threads, xnnpack=xnnpack)
            # invoke-only: the input tensor is filled once, only invoke() is timed.
            bare = p.new_interpreter()
            bare.set_tensor(bare.get_input_details()[0]["index"], p.prepare(image))
            configs[(n_threads, xnnpack)] = (lambda p=p: p.predict(image), bare.invoke, p)
    return configs


def _throughput(p, x: np.ndarray) -> float:
    p.probabilities(x[:100])  # build the batch interpreter outside the timing
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter_ns()
        p.probabilities(x)
        best = min(best, time.perf_counter_ns() - t0)
    return round(len(x) / (best / 1e9), 1)


def sweep(
    path: Path,
    x: np.ndarray,
    threads: Sequence[int],
    runs: int,
    warmup: int,
    min_seconds: float,
    runtime_name: str,
):
    """Latency of every (threads, XNNPACK) configuration, interleaved; throughput of each."""
    configs = _configs(path, runtime_name, threads, x[0])
    calls = {}
    for key, (e2e, invoke, _) in configs.items():
        calls[(key, "e2e")] = e2e
        calls[(key, "invoke")] = invoke
    measured = timing.interleaved(calls, runs, warmup, min_seconds=min_seconds)
    rows = []
    for (n_threads, xnnpack), (_, _, p) in configs.items():
        e2e = measured[((n_threads, xnnpack), "e2e")].figures()
        rows.append(
            {
                "threads": n_threads,
                "xnnpack": xnnpack,
                **e2e,
                "invoke_latency_us": measured[((n_threads, xnnpack), "invoke")].figures()["latency_us"],
                "throughput_ips": _throughput(p, x),
                "throughput_runs": 3,
                "batch_size": int(p.default_batch_size()),
            }
        )
    samples = {key: measured[(key, "e2e")].samples for key in configs}
    return rows, samples


def bench_file(
    path: Path,
    dataset,
    threads: Sequence[int],
    runs: int,
    warmup: int,
    min_seconds: float,
    probe_npy: str,
    runtime_name: str = "auto",
    keras_probs: Optional[np.ndarray] = None,
):
    """All figures for one ``.tflite`` file.

    Returns:
        ``(entry, e2e samples of the headline configuration in ns, predicted labels)``.

    Raises:
        RuntimeModelError: the file is missing, corrupt, invalid or the wrong shape.
    """
    t0 = time.perf_counter_ns()
    base = _predictor(path, runtime_name, untrusted=True)
    init_ms = (time.perf_counter_ns() - t0) / 1e6
    probs = base.probabilities(dataset.x_test)
    entry = {
        "path": str(path),
        "sha256": hashlib.sha256(base.content).hexdigest(),  # --compare: same name, same model?
        **infer_format(base),
        "size_bytes": path.stat().st_size,
        "input_dtype": base.input_dtype.name,
        "output_dtype": base.output_dtype.name,
        "runtime": base.runtime,
        "runtime_version": base.runtime_version,
        "ops": base.facts.op_names,
    }
    entry.update(parity.against_keras(probs, base, dataset, keras_probs))
    probe = _load_probe(str(path), probe_npy, runtime_name)
    entry["peak_rss_bytes"] = probe.pop("peak_rss_bytes")
    entry["load_ms"] = {
        "cold": probe["cold"],
        "warm": _warm_init_ms(path, runtime_name),
        "warm_runs": 10,
        "first_in_this_process": round(init_ms, 3),
    }
    entry["init_ms"] = entry["load_ms"]["cold"]
    rows, samples = sweep(path, dataset.x_test, threads, runs, warmup, min_seconds, runtime_name)
    head = rows[0]  # the first thread count, XNNPACK on: the headline figures
    entry.update(
        {
            k: head[k]
            for k in (
                "first_inference_us",
                "warmup_mean_us",
                "latency_us",
                "invoke_latency_us",
                "throughput_ips",
            )
        }
    )
    entry.update({"headline": {"threads": head["threads"], "xnnpack": True}, "sweep": rows})
    return entry, samples[(head["threads"], True)], probs.argmax(1)

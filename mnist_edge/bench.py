"""Benchmark every format against the Keras reference: parity, size, load, memory, latency.

Figures are exact and say what they are from:

* parity on the same 10,000 test images: accuracy, top-1 agreement with
  Keras, per-class accuracy difference, max / mean absolute probability
  difference; TFLite runs through :class:`mnist_edge.runtime.Predictor`, the
  code a device runs;
* latency per single image in microseconds from ``time.perf_counter_ns``
  around the measured call only, after warm-up: invoke-only and end-to-end
  (uint8 pixels -> quantise -> invoke -> dequantise -> label, i.e.
  ``Predictor.predict``), as p50 / p90 / p99 / mean / std with the run count;
  per thread count, with XNNPACK on and off;
* batch throughput (images/s) on the 10,000 images;
* load time cold (first interpreter in a fresh process) and warm, and peak
  RSS of a process that only loads the predictor and predicts.

Keras is timed as users call it: ``model(x)`` and ``model.predict(x)`` on one
image, ``model.predict`` on the batch.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from mnist_edge import runtime

# Measures one fresh process: wall time and its own peak RSS. Run through
# this small launcher because ru_maxrss of a child forked from a big process
# counts pages it inherited before exec.
_LAUNCHER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)\n"
    "w = time.perf_counter() - t\n"
    "import json\n"
    "print(json.dumps({'rc': r.returncode, 'wall': w, 'stdout': r.stdout, 'stderr': r.stderr[-2000:],\n"
    "    'maxrss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))\n"
)


def measure_process(cmd: Sequence[str], env: Optional[dict] = None) -> dict:
    """Runs ``cmd`` in a fresh process; returns rc, wall seconds, peak RSS bytes, output.

    Args:
        cmd: the command line.
        env: environment for the child (default: inherited).

    Returns:
        ``{"rc", "wall", "maxrss", "stdout", "stderr"}``.
    """
    out = subprocess.run([sys.executable, "-c", _LAUNCHER] + list(cmd), capture_output=True,
                         text=True, check=True, env=env).stdout
    return json.loads(out)


def stats_us(samples_ns: Sequence[int]) -> dict:
    """p50/p90/p99/mean/std in microseconds, and how many runs they are from."""
    arr = np.asarray(samples_ns, dtype=np.float64) / 1000.0
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"p50": round(float(p50), 3), "p90": round(float(p90), 3), "p99": round(float(p99), 3),
            "mean": round(float(arr.mean()), 3), "std": round(float(arr.std()), 3), "runs": int(len(arr))}


def sample_calls(call: Callable[[], object], runs: int, warmup: int) -> List[int]:
    """Nanoseconds of ``runs`` calls of ``call`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        call()
    ns = time.perf_counter_ns
    samples = []
    append = samples.append
    for _ in range(runs):
        t0 = ns()
        call()
        append(ns() - t0)
    return samples


def time_calls(call: Callable[[], object], runs: int, warmup: int) -> dict:
    """Latency statistics (µs) of ``runs`` calls after ``warmup`` untimed calls."""
    return stats_us(sample_calls(call, runs, warmup))


def environment(interpreter: str, interpreter_version: str, threads: Sequence[int]) -> dict:
    """CPU, OS, Python, numpy, interpreter, threads: what the numbers depend on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    env = {
        "cpu": cpu,
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "interpreter": interpreter,
        "interpreter_version": interpreter_version,
        "threads": list(threads),
        "delegate": "XNNPACK (default) and none (builtin kernels), both measured",
        "timer": "time.perf_counter_ns around the measured call only",
    }
    for name in ("tensorflow", "keras"):
        if name in sys.modules:
            env[name] = getattr(sys.modules[name], "__version__", "unknown")
    return env


def infer_format(predictor: "runtime.Predictor") -> Dict[str, str]:
    """Format and quantisation of a TFLite model: from its sidecar, else its tensors."""
    meta = predictor.metadata or {}
    if meta.get("quantization"):
        fmt = meta.get("format_name", meta["quantization"])
        if meta["quantization"] == "int8" and meta.get("io_type") not in (None, "int8"):
            fmt += f" ({meta['io_type']} io)"
        return {"format": fmt, "quantization": meta["quantization"]}
    dtypes = predictor.tensor_dtypes()
    if predictor.input_dtype.name in ("int8", "uint8"):
        return {"format": "int8", "quantization": "int8"}
    if "float16" in dtypes:
        return {"format": "float16", "quantization": "float16"}
    if "int8" in dtypes:
        return {"format": "dynamic", "quantization": "dynamic"}
    return {"format": "float32", "quantization": "none"}


def parity(probs: np.ndarray, keras_probs: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy and agreement figures of ``probs`` against labels and Keras."""
    pred, ref = probs.argmax(1), keras_probs.argmax(1)
    diff = np.abs(probs.astype(np.float64) - keras_probs.astype(np.float64))
    per_class = []
    for c in range(10):
        mask = labels == c
        per_class.append(round(float(np.mean(pred[mask] == c) - np.mean(ref[mask] == c)), 6)
                         if mask.any() else 0.0)
    return {
        "accuracy": float(np.mean(pred == labels)),
        "agreement": float(np.mean(pred == ref)),
        "disagreements": int(np.sum(pred != ref)),
        "per_class_accuracy_diff": per_class,
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
    }


def _load_probe(path: str, npy: str) -> dict:
    """Cold load time and peak RSS of a predictor-only process."""
    code = (
        "import sys, time, json\n"
        "import numpy as np\n"
        "from mnist_edge.runtime import Predictor\n"
        "x = np.load(sys.argv[2])\n"
        "t = time.perf_counter(); p = Predictor(sys.argv[1]); cold = time.perf_counter() - t\n"
        "p.predict(x[0]); p.probabilities(x)\n"
        "print(json.dumps({'cold_ms': cold * 1000}))\n"
    )
    result = measure_process([sys.executable, "-c", code, path, npy])
    if result["rc"] != 0:
        raise RuntimeError(result["stderr"].strip().splitlines()[-1] if result["stderr"].strip()
                           else f"probe exited {result['rc']}")
    return {"cold_ms": round(json.loads(result["stdout"])["cold_ms"], 3),
            "peak_rss_bytes": int(result["maxrss"])}


def bench_tflite(path: Path, x_test: np.ndarray, y_test: np.ndarray, keras_probs: np.ndarray,
                 threads: Sequence[int], runs: int, warmup: int, probe_npy: str,
                 runtime_name: str = "auto") -> dict:
    """All figures for one ``.tflite`` file.

    Raises:
        runtime.RuntimeModelError: the file is missing, corrupt or the wrong shape.
    """
    base = runtime.Predictor(path, runtime=runtime_name)
    info = infer_format(base)
    probs = base.probabilities(x_test)
    entry = {"path": str(path), **info, "size_bytes": path.stat().st_size,
             "input_dtype": base.input_dtype.name, "output_dtype": base.output_dtype.name,
             "runtime": base.runtime, "runtime_version": base.runtime_version}
    entry.update(parity(probs, keras_probs, y_test))
    warm = []
    for _ in range(10):
        t0 = time.perf_counter_ns()
        runtime.Predictor(path, runtime=runtime_name)
        warm.append(time.perf_counter_ns() - t0)
    entry.update(_load_probe(str(path), probe_npy))
    entry["load_ms"] = {"cold": entry.pop("cold_ms"), "warm": round(statistics.median(warm) / 1e6, 3),
                        "warm_runs": len(warm)}

    image = x_test[0]
    sweep = []
    for n_threads in threads:
        for xnnpack in (True, False):
            p = runtime.Predictor(path, num_threads=n_threads, xnnpack=xnnpack, runtime=runtime_name)
            # invoke-only: the input tensor is filled once, only invoke() is timed.
            bare = p.new_interpreter()
            bare.set_tensor(bare.get_input_details()[0]["index"], p.prepare(image))
            invoke = time_calls(bare.invoke, runs, warmup)
            e2e = time_calls(lambda: p.predict(image), runs, warmup)
            p.probabilities(x_test[:100])  # build the batch interpreter outside the timing
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter_ns()
                p.probabilities(x_test)
                best = min(best, time.perf_counter_ns() - t0)
            sweep.append({"threads": n_threads, "xnnpack": xnnpack, "latency_us": e2e,
                          "invoke_latency_us": invoke,
                          "throughput_ips": round(len(x_test) / (best / 1e9), 1),
                          "throughput_runs": 3, "batch_size": int(len(x_test))})
    first = sweep[0]  # the first thread count, XNNPACK on: the headline figures
    entry.update({"latency_us": first["latency_us"], "invoke_latency_us": first["invoke_latency_us"],
                  "throughput_ips": first["throughput_ips"], "headline": {
                      "threads": first["threads"], "xnnpack": True}, "sweep": sweep})
    return entry


def bench_keras(model, x_test01: np.ndarray, y_test: np.ndarray, path: Path, runs: int,
                warmup: int) -> dict:
    """Keras reference figures, timed as users call the model."""
    import tensorflow as tf

    probs = np.asarray(model.predict(x_test01, batch_size=1000, verbose=0), dtype=np.float32)
    one = tf.constant(x_test01[:1])
    call = time_calls(lambda: model(one, training=False), runs, warmup)
    predict_runs = max(5, runs // 20)  # model.predict costs ~ms per call
    predict_one = time_calls(lambda: model.predict(x_test01[:1], verbose=0), predict_runs,
                             min(warmup, 5))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter_ns()
        model.predict(x_test01, batch_size=1000, verbose=0)
        best = min(best, time.perf_counter_ns() - t0)
    entry = {"path": str(path), "format": "keras", "quantization": "none (reference)",
             "size_bytes": path.stat().st_size, "latency_us": call,
             "invoke_latency_us": None, "predict_latency_us": predict_one,
             "throughput_ips": round(len(x_test01) / (best / 1e9), 1), "throughput_runs": 3,
             "latency_note": "latency_us is model(x) on one image; predict_latency_us is "
                             "model.predict(x) on one image; throughput is model.predict on the batch",
             "peak_rss_bytes": None}
    entry.update(parity(probs, probs, y_test))
    return entry, probs


def format_table(result: dict) -> str:
    """The summary table: format, size, accuracy, agreement, p50/p99 µs, images/s, speed-up."""
    models = result["models"]
    keras = next((m for m in models if m["format"] == "keras"), None)
    head = (f"{'format':<20}{'size KB':>9}{'accuracy':>10}{'agreement':>11}{'p50 µs':>10}"
            f"{'p99 µs':>10}{'invoke p50':>11}{'images/s':>11}{'vs Keras':>10}")
    lines = [head, "-" * len(head)]
    for m in models:
        if "error" in m:
            lines.append(f"{Path(m['path']).name:<20}  error: {m['error']}")
            continue
        speedup = (f"{keras['latency_us']['p50'] / m['latency_us']['p50']:.1f}x"
                   if keras and m is not keras else "1.0x")
        invoke = f"{m['invoke_latency_us']['p50']:.2f}" if m.get("invoke_latency_us") else "-"
        lines.append(f"{m['format']:<20}{m['size_bytes'] / 1024:9.1f}{m['accuracy']:10.4f}"
                     f"{m['agreement']:11.4f}{m['latency_us']['p50']:10.2f}{m['latency_us']['p99']:10.2f}"
                     f"{invoke:>11}{m['throughput_ips']:11.0f}{speedup:>10}")
    env = result["environment"]
    lines.append(f"single image, end to end (uint8 pixels in, label out), {env['threads'][0]} thread(s), "
                 f"XNNPACK; Keras p50 is model(x). {env['cpu']}, {env['interpreter']} "
                 f"{env['interpreter_version']}")
    return "\n".join(lines)


def write_report(result: dict, out_dir: Path, x_test_u8: np.ndarray, y_test: np.ndarray,
                 predictions: Dict[str, np.ndarray], latency_samples: Dict[str, np.ndarray]) -> List[Path]:
    """Markdown report with figures: latency distributions, size vs accuracy, disagreements.

    Args:
        result: the bench result document.
        out_dir: destination folder.
        x_test_u8: test images.
        y_test: test labels.
        predictions: per format, the predicted labels on the test set.
        latency_samples: per format, end-to-end single-image samples in µs.

    Returns:
        The files written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mnist_edge import fsutil
    from mnist_edge.reporting import save_figure

    out_dir = fsutil.ensure_writable_dir(out_dir)
    written = []

    def save(fig, name):
        written.append(save_figure(fig, out_dir / name))
        return name

    names = list(latency_samples)
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(names)), 4.5))
    data = [latency_samples[n] for n in names]
    ax.violinplot(data, showmedians=True)
    ax.set_yscale("log")
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20)
    ax.set_ylabel("µs per image (log scale)")
    ax.set_title("Single-image end-to-end latency")
    latency_png = save(fig, "latency.png")

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for m in result["models"]:
        if "error" in m:
            continue
        ax.scatter(m["size_bytes"] / 1024, m["accuracy"] * 100, s=60)
        ax.annotate(m["format"], (m["size_bytes"] / 1024, m["accuracy"] * 100),
                    textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("file size (KB, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Size vs accuracy")
    size_png = save(fig, "size_vs_accuracy.png")

    gallery_md = "float32 and int8 agree on every test image."
    f32 = next((n for n in predictions if n.startswith("float32")), None)
    i8 = next((n for n in predictions if n.startswith("int8")), None)
    if f32 and i8:
        differ = np.flatnonzero(predictions[f32] != predictions[i8])
        if len(differ):
            shown = differ[:40]
            cols = 8
            rows = -(-len(shown) // cols)
            fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.4, rows * 1.7), squeeze=False)
            for ax in axes.ravel():
                ax.axis("off")
            for ax, i in zip(axes.ravel(), shown):
                ax.imshow(x_test_u8[i], cmap="gray")
                ax.set_title(f"#{i} y={y_test[i]}\nf32 {predictions[f32][i]} / i8 {predictions[i8][i]}",
                             fontsize=7)
            fig.suptitle(f"Test images where {f32} and {i8} disagree ({len(differ)} of {len(y_test)})")
            gallery_md = f"![disagreements](disagreements.png)\n\n{len(differ)} of {len(y_test)} " \
                         f"test images; the first {len(shown)} shown (true label, float32 / int8)."
            save(fig, "disagreements.png")

    env = result["environment"]
    md = ["# mnist-edge bench report", "",
          f"{env['cpu']}, {env['cores']} cores, {env['os']}; Python {env['python']}, numpy "
          f"{env['numpy']}, {env['interpreter']} {env['interpreter_version']}.", "",
          "```", format_table(result), "```", "",
          "## Latency distribution", "", f"![latency]({latency_png})", "",
          "## Size vs accuracy", "", f"![size vs accuracy]({size_png})", "",
          "## Where float32 and int8 disagree", "", gallery_md, "",
          "## Thread and delegate sweep (end-to-end p50 µs / invoke p50 µs / images/s)", "",
          "| format | threads | XNNPACK | e2e p50 | invoke p50 | images/s |", "|---|---|---|---|---|---|"]
    for m in result["models"]:
        for row in m.get("sweep", []):
            md.append(f"| {m['format']} | {row['threads']} | {'on' if row['xnnpack'] else 'off'} | "
                      f"{row['latency_us']['p50']:.2f} | {row['invoke_latency_us']['p50']:.2f} | "
                      f"{row['throughput_ips']:.0f} |")
    written.append(fsutil.write_bytes_atomic(out_dir / "report.md", ("\n".join(md) + "\n").encode()))
    return written


def run(keras_path: Path, tflite_paths: Sequence[Path], dataset, threads: Sequence[int] = (1,),
        runs: int = 1000, warmup: int = 100, report_dir: Optional[Path] = None,
        runtime_name: str = "auto", log: Callable[[str], None] = lambda _m: None) -> dict:
    """Benchmarks the Keras reference and each TFLite file.

    Args:
        keras_path: the reference ``.keras`` model.
        tflite_paths: the files to compare.
        dataset: the data (its test set is used).
        threads: interpreter thread counts to sweep.
        runs: timed single-image calls per figure.
        warmup: untimed calls before each figure.
        report_dir: write a Markdown report with figures here.
        runtime_name: which interpreter.
        log: progress lines.

    Returns:
        ``{"environment", "models", "failed"}``; a file that cannot be
        benchmarked gets an entry with ``error`` and the others go on.
    """
    import tempfile

    from mnist_edge import data as data_mod
    from mnist_edge import keras_model

    model = keras_model.load_keras_model(keras_path)
    x_u8, y = dataset.x_test, dataset.y_test.astype(np.int64)
    x01 = data_mod.normalize(x_u8)
    log(f"keras: {keras_path}")
    keras_entry, keras_probs = bench_keras(model, x01, y, Path(keras_path), runs, warmup)
    _, interp_name, interp_version = runtime.load_interpreter_class(runtime_name)
    models = [keras_entry]
    predictions = {"keras": keras_probs.argmax(1)}
    samples = {}
    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "x.npy")
        np.save(npy, x_u8[:100])
        for path in tflite_paths:
            path = Path(path)
            log(f"tflite: {path}")
            try:
                entry = bench_tflite(path, x_u8, y, keras_probs, threads, runs, warmup, npy,
                                     runtime_name)
            except (runtime.RuntimeModelError, runtime.InputError, RuntimeError) as exc:
                models.append({"path": str(path), "error": str(exc).splitlines()[0]})
                log(f"  error: {str(exc).splitlines()[0]}")
                continue
            models.append(entry)
            p = runtime.Predictor(path, runtime=runtime_name)
            predictions[entry["format"]] = p.probabilities(x_u8).argmax(1)
            if report_dir:
                p1 = runtime.Predictor(path, num_threads=threads[0], runtime=runtime_name)
                image = x_u8[0]
                samples[entry["format"]] = np.asarray(
                    sample_calls(lambda: p1.predict(image), runs, warmup)) / 1000
    result = {"environment": environment(interp_name, interp_version, threads), "models": models,
              "failed": [m["path"] for m in models if "error" in m]}
    if report_dir:
        one = __import__("tensorflow").constant(x01[:1])
        keras_ns = sample_calls(lambda: model(one, training=False), min(runs, 300), 5)
        samples = {"keras model(x)": np.asarray(keras_ns) / 1000, **samples}
        result["report"] = [str(p) for p in write_report(result, Path(report_dir), x_u8, y,
                                                         predictions, samples)]
    return result

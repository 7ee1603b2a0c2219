"""The bench pipeline: which models, each measured (:mod:`.tflite`), the Keras side, the report."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from mnist_edge import data as data_mod
from mnist_edge.bench.environment import environment, measure_process  # noqa: F401 (public)
from mnist_edge.bench.keras_ref import bench_keras
from mnist_edge.bench.report import format_table, write_report  # noqa: F401 (public)
from mnist_edge.bench.tflite import bench_file
from mnist_edge.errors import MnistEdgeError
from mnist_edge.runtime import default_model_path, load_interpreter_class


def default_models(model_paths: Sequence, keras_path: Optional[Path]) -> list:
    """The models to measure, by one rule wherever bench runs (laptop or Pi).

    The files named with ``--model``; else, with ``--keras``, every ``.tflite``
    beside that Keras model (its exports); else the shipped default model. The
    current folder never decides.
    """

    if model_paths:
        return [Path(p) for p in model_paths]
    beside = sorted(keras_path.parent.glob("*.tflite")) if keras_path is not None else []
    return beside or [default_model_path()]


def _keras_side(keras_path, dataset, runs, warmup, log):
    # The build side, only when a .keras model is given (bench runs on devices without it).
    from mnist_edge.training import keras_model

    model = keras_model.load_keras_model(keras_path)
    log(f"keras: {keras_path}")
    entry, probs, samples = bench_keras(
        model, data_mod.normalize(dataset.x_test), dataset.y_test, Path(keras_path), runs, warmup
    )
    return entry, probs, samples


def run(
    tflite_paths: Sequence[Path],
    dataset,
    keras_path: Optional[Path] = None,
    threads: Sequence[int] = (1,),
    runs: int = 1000,
    warmup: int = 100,
    min_seconds: float = 0.0,
    report_dir: Optional[Path] = None,
    runtime_name: str = "auto",
    log: Callable[[str], None] = lambda _m: None,
) -> dict:
    """Benchmarks each TFLite file (and the Keras reference when given).

    Args:
        tflite_paths: the files to measure.
        dataset: the data (its test set is used).
        keras_path: the ``.keras`` reference (needs TensorFlow), or None.
        threads: interpreter thread counts to sweep.
        runs: timed single-image calls per figure (at least).
        warmup: untimed calls before each figure.
        min_seconds: time each configuration at least this long.
        report_dir: write a Markdown report (with figures if matplotlib is there).
        runtime_name: which interpreter.
        log: progress lines.

    Returns:
        ``{"environment", "models", "failed"}``; a file that cannot be
        benchmarked gets an entry with ``error`` and the others go on.
    """

    models, predictions, samples = [], {}, {}
    keras_probs = None
    if keras_path is not None:
        entry, keras_probs, keras_samples = _keras_side(keras_path, dataset, runs, warmup, log)
        models.append(entry)
        predictions["keras"] = keras_probs.argmax(1)
        samples["keras model(x)"] = np.asarray(keras_samples) / 1000
    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "x.npy")
        np.save(npy, dataset.x_test[:100])
        for path in map(Path, tflite_paths):
            log(f"tflite: {path}")
            try:
                entry, e2e, labels = bench_file(
                    path, dataset, threads, runs, warmup, min_seconds, npy, runtime_name, keras_probs
                )
            except MnistEdgeError as exc:
                models.append({"path": str(path), "error": str(exc)})  # the command says it, once
                continue
            models.append(entry)
            # Keyed by format, and by file too when two files share one (two int8 models).
            key = entry["format"]
            key = key if key not in predictions else f"{key} ({path.stem})"
            predictions[key] = labels
            samples[key] = np.asarray(e2e) / 1000
    _, interp_name, interp_version = load_interpreter_class(runtime_name)
    result = {
        "environment": environment(interp_name, interp_version, threads),
        "models": models,
        "failed": [m["path"] for m in models if "error" in m],
    }
    if report_dir:
        result["report"] = [
            str(p)
            for p in write_report(
                result, Path(report_dir), dataset.x_test, dataset.y_test, predictions, samples
            )
        ]
    return result

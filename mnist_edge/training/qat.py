"""``mnist-edge train --qat --from MODEL``: quantisation-aware fine-tuning against post-training int8.

Steps:

1. :func:`check_qat_tools`: tensorflow-model-optimization and tf-keras are
   installed (the ``qat`` extra); they run on tf-keras only, so
2. :func:`run_worker`: :mod:`.qat_worker` fine-tunes with fake quantisation
   in a process of its own (``TF_USE_LEGACY_KERAS=1``) and converts to int8;
3. :func:`compare`: the QAT int8 file and the post-training int8 export of
   the same source model on the MNIST test set, through the device's
   :class:`~mnist_edge.runtime.Predictor`;
4. the QAT file is gated against its own Keras model (the export's parity
   gate) and written with its sidecar as ``<stem>_qat_int8.tflite``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from mnist_edge import constants, fsutil
from mnist_edge import data as data_mod
from mnist_edge.errors import GateError, MissingExtraError, ModelError
from mnist_edge.evaluation import evaluate, parity
from mnist_edge.export.artifacts import build_sidecar
from mnist_edge.export.convert import compact_tensor_names, frozen_forward, representative_images
from mnist_edge.export.pipeline import DEFAULT_GATE, gate, write_artifacts
from mnist_edge.export.recipes import RECIPE_FACTS, convert_recipe
from mnist_edge.runtime import Predictor
from mnist_edge.training import keras_model

QAT_RATE_DIVISOR = 10  # fake quantisation fine-tunes a trained model: a tenth of Adam's rate
QAT_TOOLS = ("tensorflow_model_optimization", "tf_keras")


def check_qat_tools() -> None:
    """Raises MissingExtraError unless tensorflow-model-optimization and tf-keras are installed."""
    missing = [name.replace("_", "-") for name in QAT_TOOLS if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            f"train --qat needs {' and '.join(missing)}: pip install 'mnist-edge[qat]' && pip install "
            f"--no-deps tensorflow-model-optimization 'tf-keras~={_tensorflow_version()}' (with their "
            "dependencies they pull the full tensorflow wheel over tensorflow-cpu)"
        )


def _tensorflow_version() -> str:
    """The installed TensorFlow's major.minor (from the package metadata: no import)."""
    from importlib import metadata

    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return ".".join(metadata.version(dist).split(".")[:2]) + ".0"
        except metadata.PackageNotFoundError:
            continue
    return "2.16.0"


def run_worker(model_path: Path, out_stem: Path, epochs: int, batch: int, seed: int, data_dir) -> None:
    """Runs :mod:`.qat_worker`; its last error line becomes a ModelError."""
    rate = constants.LEARNING_RATE / QAT_RATE_DIVISOR
    args = [str(model_path), str(out_stem), str(epochs), str(rate), str(batch), str(seed), data_dir or ""]
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(
        [sys.executable, "-m", "mnist_edge.training.qat_worker", *args],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise ModelError(f"quantisation-aware training failed: {lines[-1] if lines else done.returncode}")


def keras_accuracy(model, dataset) -> float:
    """The Keras model's MNIST test accuracy."""
    probabilities = evaluate.keras_probabilities(model, data_mod.normalize(dataset.x_test))
    return float(np.mean(probabilities.argmax(1) == dataset.y_test))


def accuracy(predictor, dataset) -> float:
    """A ``.tflite``'s MNIST test accuracy through the device's Predictor."""
    return float(np.mean(predictor.probabilities(dataset.x_test).argmax(1) == dataset.y_test))


def post_training_int8(model, dataset, stage: Path) -> Predictor:
    """The ordinary export's int8 file of the same model (calibrated as ``export`` does)."""
    calibration = representative_images(dataset, constants.DEFAULT_CALIBRATION_SAMPLES, 0)
    content, _ = convert_recipe(frozen_forward(model), "int8", "int8", calibration)
    return Predictor(fsutil.write_bytes_atomic(stage / "ptq_int8.tflite", content))


def train_qat(
    source: os.PathLike,
    dataset: data_mod.Dataset,
    out_dir: os.PathLike,
    epochs: int,
    batch_size: int = constants.DEFAULT_BATCH_SIZE,
    seed: int = 0,
    data_dir: Optional[str] = None,
    log: Callable[[str], None] = lambda _m: None,
) -> dict:
    """Fine-tunes ``source`` with fake quantisation and writes ``<stem>_qat_int8.tflite`` + sidecar.

    Args:
        source: a trained ``.keras`` model.
        dataset: MNIST (training images to fine-tune on, the test set to measure).
        out_dir: where the int8 file and its sidecar go.
        epochs: QAT epochs.
        batch_size: images per step.
        seed: the fine-tuning seed.
        data_dir: the folder ``dataset`` came from, for the worker (None: the default lookup).
        log: progress lines.

    Returns:
        ``{"model", "qat_int8_accuracy", "ptq_int8_accuracy", "keras_accuracy", "parity", ...}``.

    Raises:
        MissingExtraError: the qat extra is missing.
        ModelError: the model cannot be read or has a layer QAT does not handle.
        GateError: the int8 file disagrees with its own QAT model.
    """
    check_qat_tools()
    source = Path(source)
    model = keras_model.load_keras_model(source)
    out_dir = fsutil.ensure_writable_dir(out_dir)
    name = f"{source.stem}_qat_int8.tflite"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mnist-edge-qat-") as tmp:
        stage = Path(tmp)
        log(f"qat: {epochs} epoch(s) of quantisation-aware training in a tf-keras process")
        run_worker(source, stage / "qat", epochs, batch_size, seed, data_dir)
        compacted = compact_tensor_names((stage / "qat.tflite").read_bytes())
        qat = Predictor(fsutil.write_bytes_atomic(stage / "qat_compact.tflite", compacted))
        reference = np.load(stage / "qat.npz")["probabilities"]
        stats = parity.compare(qat.probabilities(dataset.x_test), reference, dataset.y_test)
        failures = gate("int8", stats, **DEFAULT_GATE)
        ptq = post_training_int8(model, dataset, stage)
        result = {
            "model": str(out_dir / name),
            "source": str(source),
            "epochs": epochs,
            "keras_accuracy": keras_accuracy(model, dataset),
            "ptq_int8_accuracy": accuracy(ptq, dataset),
            "qat_int8_accuracy": stats["accuracy"],
            "qat_size_bytes": len(qat.content),
            "ptq_size_bytes": len(ptq.content),
            "parity": dict(stats, passed=not failures, reasons=[str(f) for f in failures]),
            "seconds": round(time.perf_counter() - started, 1),
        }
        if failures:
            raise GateError(f"{name}: the int8 file disagrees with its QAT model: {failures[0]}")
        recipe = {
            "name": "int8",
            **RECIPE_FACTS["int8"],
            "tool": "tensorflow-model-optimization QAT (tf-keras)",
            "qat_epochs": epochs,
        }
        sidecar = build_sidecar(
            qat.content,
            qat,
            "int8",
            "int8",
            {"name": source.name, "sha256": fsutil.sha256_file(source), "dataset": dataset.name},
            None,
            result["parity"],
            (keras_model.load_metadata(source) or {}).get("abstain"),
            None,
            recipe,
        )
        with fsutil.staging_dir(out_dir) as final:  # the same file system as OUT: renames are atomic
            write_artifacts(final, out_dir, name, qat.content, sidecar, keep=True)
    return result


def format_comparison(result: dict) -> str:
    """The table ``train --qat`` prints."""
    return "\n".join(
        [
            f"{'':<28}{'MNIST test':>11}{'size KB':>9}",
            f"{'Keras (float)':<28}{result['keras_accuracy']:11.4f}{'':>9}",
            f"{'post-training int8':<28}{result['ptq_int8_accuracy']:11.4f}"
            f"{result['ptq_size_bytes'] / 1024:9.1f}",
            f"{'quantisation-aware int8':<28}{result['qat_int8_accuracy']:11.4f}"
            f"{result['qat_size_bytes'] / 1024:9.1f}",
        ]
    )

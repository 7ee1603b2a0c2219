"""Training: the tutorial's model faithfully and fast, and robust device models.

The default is the TensorFlow beginner tutorial's MLP, layer for layer:
Flatten(28x28) -> Dense(128, relu) -> Dropout(0.2) -> Dense(10, softmax),
Adam with its defaults, sparse categorical cross-entropy, batch 32, 5 epochs,
pixels / 255. Training does the same learning as the tutorial; it is faster
because it removes overhead, not work:

* float32 input (the tutorial feeds float64 that Keras converts each step);
* a ``tf.data`` pipeline (seeded shuffle, batch, prefetch) instead of Keras'
  numpy adapter;
* ``steps_per_execution`` so one graph call runs many optimiser steps;
* for the MLP, one intra-op thread: a 32x784 matmul is too small to split.

For real-world inputs, ``augment_copies`` adds digits drawn the ways users'
images arrive and passed through the real front-end (:mod:`mnist_edge.synthesis.augment`),
and ``outliers`` adds non-digits taught to give a flat distribution (outlier
exposure); the "not a digit" threshold is then calibrated on a held-out
split (:mod:`mnist_edge.runtime.abstain`). Both runs use a cosine learning-rate decay.

TensorFlow is imported inside the functions, never at module import.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Dict, Optional

import numpy as np

from mnist_edge import constants, fsutil
from mnist_edge import data as data_mod
from mnist_edge.evaluation import reporting
from mnist_edge.evaluation.evaluate import keras_probabilities, metrics
from mnist_edge.runtime.sidecar import sidecar_path
from mnist_edge.training import keras_model, trainset
from mnist_edge.training._tf import import_tf
from mnist_edge.training.config import TrainConfig
from mnist_edge.training.models import ARCHS, DROPOUT, build_model  # noqa: F401 (re-exported)

DEFAULTS = {
    "learning_rate": constants.LEARNING_RATE,
    "optimizer": "adam",
    "loss": "sparse_categorical_crossentropy",
    "dropout": DROPOUT,
    "steps_per_execution": 100,
}


def model_stem(dataset_name: str, arch: str) -> str:
    """File stem for a trained model, e.g. ``mnist_mlp``."""
    return f"{dataset_name.replace('-', '_')}_{arch.replace('-', '_')}"


def _configure_threads(arch: str) -> Dict[str, int]:
    import tensorflow as tf

    cores = os.cpu_count() or 1
    # Threading can only be set before TensorFlow's runtime starts; if it
    # has already started (a second train in one process) keep what it has.
    intra = 1 if arch == "mlp" else cores
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(cores)
    except RuntimeError:
        pass
    return {
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def _pipeline(
    tf, x: np.ndarray, labels: np.ndarray, weights: Optional[np.ndarray], batch_size: int, seed: int
):
    """A seeded, shuffled, batched tf.data pipeline of float32 pixels / 255."""
    tensors = (data_mod.normalize(x), labels) if weights is None else (data_mod.normalize(x), labels, weights)
    return (
        tf.data.Dataset.from_tensor_slices(tensors)
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


def _compile(model, keras, options: TrainConfig, steps: int) -> int:
    """Compiles with Adam; returns the steps per execution used."""
    steps_per_execution = max(1, min(DEFAULTS["steps_per_execution"], steps))
    rate = options.learning_rate
    if options.decaying_rate:
        # Longer runs on harder data settle better with a decaying rate.
        rate = keras.optimizers.schedules.CosineDecay(rate, steps * options.epochs, alpha=0.02)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss="categorical_crossentropy" if options.robust else DEFAULTS["loss"],
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return steps_per_execution


def _progress_callback(keras, epochs: int, history: list, log: Callable[[str], None]):
    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            row = {
                "epoch": epoch + 1,
                "loss": float(logs.get("loss", float("nan"))),
                "accuracy": float(logs.get("accuracy", float("nan"))),
                "seconds": round(time.perf_counter() - self._t0, 3),
            }
            history.append(row)
            log(
                f"epoch {row['epoch']}/{epochs}: loss {row['loss']:.4f}  "
                f"accuracy {row['accuracy']:.4f}  ({row['seconds']:.1f} s)"
            )

    return Progress()


@dataclasses.dataclass
class Fitted:
    """What fitting produced, for the metadata."""

    history: list
    seconds: float
    counts: Dict[str, int]
    steps_per_execution: int


def _fit(model, tf, keras, x, y, options: TrainConfig, log) -> Fitted:
    """Builds the training set and fits."""
    if options.robust:
        train_set = trainset.assemble(x, y, options, log)
        pipeline = _pipeline(
            tf, train_set.x, train_set.targets, train_set.weights, options.batch_size, options.seed
        )
        n, counts = len(train_set.x), train_set.counts
    else:
        pipeline = _pipeline(tf, x, y.astype(np.int32), None, options.batch_size, options.seed)
        n, counts = len(y), {"digits": int(len(y)), "augmented": 0, "outliers": 0}
    steps_per_execution = _compile(model, keras, options, -(-n // options.batch_size))
    history = []
    started = time.perf_counter()
    model.fit(
        pipeline,
        epochs=options.epochs,
        verbose=0,
        shuffle=False,
        callbacks=[_progress_callback(keras, options.epochs, history, log)],
    )
    return Fitted(history, time.perf_counter() - started, counts, steps_per_execution)


def _test_metrics(model, dataset) -> Dict[str, float]:

    probs = keras_probabilities(model, data_mod.normalize(dataset.x_test))
    result = metrics(probs, dataset.y_test)
    return {"test_accuracy": result["test_accuracy"], "test_loss": result["test_loss"]}


def _metadata(
    options: TrainConfig, dataset, fitted: Fitted, threads, test, params, abstain_info, continued_from
) -> dict:
    return {
        "format": "mnist-edge/model-metadata/1",
        "model": None,  # filled in with the final path
        "arch": "continued" if continued_from else options.arch,
        "dataset": dataset.describe(),
        "train_examples": fitted.counts["digits"],
        "training_set": fitted.counts,
        "seed": options.seed,
        "hyperparameters": {
            "epochs": options.epochs,
            "batch_size": options.batch_size,
            "optimizer": DEFAULTS["optimizer"],
            "learning_rate": options.learning_rate,
            "learning_rate_schedule": "cosine decay" if options.decaying_rate else "constant",
            "loss": "categorical_crossentropy (outliers: uniform targets)"
            if options.robust
            else DEFAULTS["loss"],
            "dropout": DEFAULTS["dropout"],
            "preprocessing": "float32 pixels / 255",
            "steps_per_execution": fitted.steps_per_execution,
            "augment_copies": options.augment_copies,
            "outliers": options.outliers,
            "outlier_fonts": trainset.outlier_font_names(options),
            "styles": options.styles,
            "touching": options.touching,
            "writers": options.writers,
        },
        "continued_from": continued_from,
        "threads": threads,
        "history": fitted.history,
        **test,
        "train_seconds": round(fitted.seconds, 3),
        "epochs": options.epochs,
        "params": params,
        "abstain": abstain_info,
        "versions": reporting.library_versions(),
        "created_unix": int(time.time()),
    }


def _starting_model(config: TrainConfig, dataset, log):
    """A fresh model of ``config.arch``, or the model training continues from.

    Returns:
        ``(model, file stem, None or {"name", "sha256"} of the model continued from)``.

    Raises:
        ModelError: the model to continue from is missing, unreadable, or cannot be rebuilt.
    """
    if not config.start_from:
        return build_model(config.arch), model_stem(dataset.name, config.arch), None
    from mnist_edge.training.finetune import load_source

    model, path, _abstain = load_source(config.start_from, dataset, log)
    log(f"continuing from {path} at learning rate {config.learning_rate:g}")
    return model, continued_stem(path.stem), {"name": path.name, "sha256": fsutil.sha256_file(path)}


def continued_stem(stem: str) -> str:
    """The file stem of a model continued from ``stem``: one ``_continued``, however many stages.

    A build continues a continued model (the default model's touching stage);
    the name says it was continued, not how often (its JSON names the source).
    """
    base = stem.removesuffix("_int8")
    return base if base.endswith("_continued") else f"{base}_continued"


def train(
    dataset: data_mod.Dataset,
    out_dir: os.PathLike,
    config: TrainConfig = TrainConfig(),
    log: Callable[[str], None] = lambda _msg: None,
) -> dict:
    """Trains a model and writes ``<stem>.keras`` and ``<stem>.json`` atomically.

    Args:
        dataset: the loaded data.
        out_dir: where the model and its metadata go.
        config: what to train and how (architecture, epochs, batch size, seed,
            subset, augmentation, outliers); recorded in the metadata.
        log: receives progress lines.

    Returns:
        The metadata document (also written as JSON beside the model).

    Raises:
        OutputError: when ``out_dir`` cannot be written.
    """
    out_dir = fsutil.ensure_writable_dir(out_dir)
    tf = import_tf()
    import keras

    threads = _configure_threads(config.arch)
    keras.utils.set_random_seed(config.seed)
    x, y = dataset.x_train, dataset.y_train
    if config.train_limit is not None and config.train_limit < len(y):
        idx = data_mod.balanced_sample(y, config.train_limit, config.seed)
        x, y = x[idx], y[idx]
    (x, y), held_out = trainset.split_for_calibration(x, y, config)
    model, stem, continued_from = _starting_model(config, dataset, log)
    fitted = _fit(model, tf, keras, x, y, config, log)
    test = _test_metrics(model, dataset)
    abstain_info = trainset.calibrate_abstention(model, held_out, config, log)
    meta = _metadata(
        config, dataset, fitted, threads, test, int(model.count_params()), abstain_info, continued_from
    )
    keras_model.save_with_metadata(model, meta, out_dir, stem)
    return meta


def summary(meta: dict) -> dict:
    """The short JSON ``mnist-edge train`` prints."""
    abstain_info = meta.get("abstain") or {}
    return {
        "model": meta["model"],
        "metadata": str(sidecar_path(meta["model"])),
        "arch": meta["arch"],
        "dataset": meta["dataset"]["name"],
        "test_accuracy": meta["test_accuracy"],
        "test_loss": meta["test_loss"],
        "train_seconds": meta["train_seconds"],
        "epochs": meta["epochs"],
        "seed": meta["seed"],
        "min_confidence": abstain_info.get("min_confidence"),
        "abstain_score": abstain_info.get("score"),
    }

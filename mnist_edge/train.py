"""Training: the tutorial's model, trained faithfully and without overhead.

The default model is the TensorFlow beginner tutorial's MLP, layer for layer:
Flatten(28x28) -> Dense(128, relu) -> Dropout(0.2) -> Dense(10, softmax),
Adam with its defaults, sparse categorical cross-entropy, batch 32, 5 epochs,
pixels / 255. Training does the same learning as the tutorial; it is faster
because it removes overhead, not work:

* float32 input (the tutorial feeds float64 that Keras converts each step);
* a ``tf.data`` pipeline (seeded shuffle, batch, prefetch) instead of Keras'
  numpy adapter;
* ``steps_per_execution`` so one graph call runs many optimiser steps;
* one intra-op thread and inter-op threads on the other cores: a 32x784
  matmul is too small to split across threads, and the split costs more
  than it saves.

TensorFlow is imported inside the functions, never at module import.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np

from mnist_edge import data as data_mod
from mnist_edge import fsutil

ARCHS = ("mlp", "cnn")
DEFAULTS = {
    "epochs": 5,
    "batch_size": 32,
    "learning_rate": 0.001,  # Adam's default, as in the tutorial
    "optimizer": "adam",
    "loss": "sparse_categorical_crossentropy",
    "dropout": 0.2,
    "steps_per_execution": 100,
}


def model_stem(dataset_name: str, arch: str) -> str:
    """File stem for a trained model, e.g. ``mnist_mlp``."""
    return f"{dataset_name.replace('-', '_')}_{arch}"


def build_model(arch: str = "mlp"):
    """Builds (uncompiled) the tutorial MLP or the small CNN.

    Args:
        arch: ``"mlp"`` (the tutorial's model) or ``"cnn"``.

    Returns:
        A ``keras.Sequential`` taking ``(batch, 28, 28)`` float32 in [0, 1] and
        returning 10 class probabilities.

    Raises:
        ValueError: for an unknown architecture.
    """
    from mnist_edge._tf import import_tf

    import_tf()
    import keras
    from keras import layers

    if arch == "mlp":
        body = [
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense"),
            layers.Dropout(DEFAULTS["dropout"], name="dropout"),
            layers.Dense(10, activation="softmax", name="dense_1"),
        ]
    elif arch == "cnn":
        body = [
            layers.Reshape((28, 28, 1), name="reshape"),
            layers.Conv2D(16, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(name="pool1"),
            layers.Conv2D(32, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dropout(DEFAULTS["dropout"], name="dropout"),
            layers.Dense(10, activation="softmax", name="dense"),
        ]
    else:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    return keras.Sequential([keras.Input((28, 28), name="image")] + body, name=f"mnist_{arch}")


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


def library_versions() -> Dict[str, str]:
    """Versions of the libraries that decide the numbers, for metadata."""
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("tensorflow", "keras"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "unknown")
    return versions


def train(
    dataset: "data_mod.Dataset",
    out_dir: os.PathLike,
    arch: str = "mlp",
    epochs: int = DEFAULTS["epochs"],
    batch_size: int = DEFAULTS["batch_size"],
    seed: int = 0,
    train_limit: Optional[int] = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> dict:
    """Trains a model and writes ``<stem>.keras`` and ``<stem>.json`` atomically.

    Args:
        dataset: the loaded data.
        out_dir: where the model and its metadata go.
        arch: ``"mlp"`` or ``"cnn"``.
        epochs: passes over the training set.
        batch_size: examples per optimiser step.
        seed: seeds Python, numpy, TensorFlow and the shuffle; the same seed on
            the same machine gives bit-identical weights.
        train_limit: train on a class-balanced subset of this size (tests).
        log: receives one progress line per epoch.

    Returns:
        The metadata document (also written as JSON beside the model).

    Raises:
        fsutil.OutputError: when ``out_dir`` cannot be written.
    """
    out_dir = fsutil.ensure_writable_dir(out_dir)
    tf = __import__("mnist_edge._tf", fromlist=["import_tf"]).import_tf()
    import keras

    threads = _configure_threads(arch)
    keras.utils.set_random_seed(seed)

    x_train, y_train = dataset.x_train, dataset.y_train
    if train_limit is not None and train_limit < len(y_train):
        idx = data_mod.balanced_sample(y_train, train_limit, seed)
        x_train, y_train = x_train[idx], y_train[idx]
    x_train = data_mod.normalize(x_train)
    x_test = data_mod.normalize(dataset.x_test)

    model = build_model(arch)
    steps_per_epoch = -(-len(y_train) // batch_size)
    spe = max(1, min(DEFAULTS["steps_per_execution"], steps_per_epoch))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=DEFAULTS["learning_rate"]),
        loss=DEFAULTS["loss"],
        metrics=["accuracy"],
        steps_per_execution=spe,
    )
    pipeline = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train.astype(np.int32)))
        .shuffle(len(y_train), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )

    history = []

    class _Progress(keras.callbacks.Callback):
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
            log(f"epoch {row['epoch']}/{epochs}: loss {row['loss']:.4f}  "
                f"accuracy {row['accuracy']:.4f}  ({row['seconds']:.1f} s)")

    started = time.perf_counter()
    model.fit(pipeline, epochs=epochs, verbose=0, shuffle=False, callbacks=[_Progress()])
    train_seconds = time.perf_counter() - started
    test_loss, test_accuracy = model.evaluate(x_test, dataset.y_test.astype(np.int32),
                                              batch_size=1000, verbose=0)

    stem = model_stem(dataset.name, arch)
    meta = {
        "format": "mnist-edge/model-metadata/1",
        "model": None,  # filled below with the final path
        "arch": arch,
        "dataset": dataset.describe(),
        "train_examples": int(len(y_train)),
        "seed": seed,
        "hyperparameters": {
            "epochs": epochs, "batch_size": batch_size,
            "optimizer": DEFAULTS["optimizer"], "learning_rate": DEFAULTS["learning_rate"],
            "loss": DEFAULTS["loss"], "dropout": DEFAULTS["dropout"],
            "preprocessing": "float32 pixels / 255",
            "steps_per_execution": spe,
        },
        "threads": threads,
        "history": history,
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "train_seconds": round(train_seconds, 3),
        "epochs": epochs,
        "params": int(model.count_params()),
        "versions": library_versions(),
        "created_unix": int(time.time()),
    }
    final_model = out_dir / f"{stem}.keras"
    final_meta = out_dir / f"{stem}.json"
    meta["model"] = str(final_model)
    with fsutil.staging_dir(out_dir) as stage:
        staged_model = stage / final_model.name
        model.save(staged_model)
        meta["sha256"] = fsutil.sha256_file(staged_model)
        fsutil.write_json_atomic(stage / final_meta.name, meta)
        fsutil.commit(staged_model, final_model)
        fsutil.commit(stage / final_meta.name, final_meta)
    return meta


def load_metadata(model_path: os.PathLike) -> Optional[dict]:
    """Reads the metadata JSON beside a ``.keras`` model, if there is one."""
    import json

    meta_path = Path(model_path).with_suffix(".json")
    if not meta_path.is_file():
        return None
    try:
        return json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None

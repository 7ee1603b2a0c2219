"""Evaluation metrics and the tutorial's figures.

Metrics are computed in numpy from the model's probabilities, so the same
functions score Keras and TFLite models alike.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from mnist_edge import fsutil, reporting

FASHION_NAMES = [
    "T-shirt",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Boot",
]
EPS = 1e-7  # Keras clips probabilities to [eps, 1 - eps] in its cross-entropy


def metrics(probs: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, loss, per-class accuracy and confusion matrix.

    Args:
        probs: ``(n, 10)`` class probabilities.
        labels: ``(n,)`` true labels.

    Returns:
        A JSON-ready dict with ``test_accuracy``, ``test_loss``,
        ``per_class_accuracy`` (list of 10), ``confusion_matrix`` (10x10, rows
        are true labels) and ``n``.
    """
    labels = np.asarray(labels).astype(np.int64)
    pred = np.argmax(probs, axis=1)
    picked = np.clip(probs[np.arange(len(labels)), labels], EPS, 1 - EPS)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels, pred), 1)
    support = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), support, out=np.zeros(10), where=support > 0)
    return {
        "n": int(len(labels)),
        "test_accuracy": float(np.mean(pred == labels)),
        "test_loss": float(-np.mean(np.log(picked))),
        "per_class_accuracy": [round(float(v), 6) for v in per_class],
        "confusion_matrix": confusion.tolist(),
    }


def keras_probabilities(model, images_01: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Runs a Keras model on float images in [0, 1] and returns probabilities."""
    return np.asarray(model.predict(images_01, batch_size=batch_size, verbose=0), dtype=np.float32)


def write_plots(
    out_dir: os.PathLike,
    x_train: np.ndarray,
    y_train: np.ndarray,
    confusion: List[List[int]],
    image_2000_probs: np.ndarray,
    history: Optional[List[Dict]] = None,
    class_names: Optional[List[str]] = None,
) -> List[Path]:
    """Writes the tutorial's figures as PNG files.

    Args:
        out_dir: the folder for the PNGs (created if needed).
        x_train: uint8 training images (needs at least 2010).
        y_train: training labels.
        confusion: the 10x10 confusion matrix on the test set.
        image_2000_probs: the model's 10 probabilities for training image 2000.
        history: per-epoch rows from the training metadata, if known.
        class_names: names of the 10 classes (default: the digits).

    Returns:
        The paths written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = fsutil.ensure_writable_dir(out_dir)
    names = class_names or [str(i) for i in range(10)]
    written = []

    fig, axes = plt.subplots(4, 5, figsize=(8, 7))
    for ax, index in zip(axes.ravel(), range(1990, 2010)):
        ax.imshow(x_train[index], cmap="binary")
        ax.set_title(f"#{index}: {names[int(y_train[index])]}", fontsize=9)
        ax.axis("off")
    fig.suptitle("Training images 1990-2009 with their labels")
    written.append(reporting.save_figure(fig, out_dir / "train_grid.png"))

    cm = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax)
    ax.set_xticks(range(10), names, rotation=45 if class_names else 0)
    ax.set_yticks(range(10), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = cm.max() / 2
    for i in range(10):
        for j in range(10):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if cm[i, j] > threshold else "black",
            )
    ax.set_title(f"Confusion matrix (test, accuracy {np.trace(cm) / cm.sum():.4f})")
    written.append(reporting.save_figure(fig, out_dir / "confusion_matrix.png"))

    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(10, 4))
    im = ax_img.imshow(x_train[2000], cmap="gray")
    fig.colorbar(im, ax=ax_img)
    ax_img.set_title(f"Training image 2000 (label {names[int(y_train[2000])]})")
    probs = np.asarray(image_2000_probs, dtype=float)
    colors = ["tab:blue"] * 10
    colors[int(np.argmax(probs))] = "tab:red"
    ax_bar.bar(range(10), probs, color=colors)
    ax_bar.set_xticks(range(10), names, rotation=45 if class_names else 0)
    ax_bar.set_ylim(0, 1)
    ax_bar.set_title(f"Model's probabilities (predicted {names[int(np.argmax(probs))]}, {probs.max():.3f})")
    written.append(reporting.save_figure(fig, out_dir / "image_2000.png"))

    if history:
        epochs = [row["epoch"] for row in history]
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
        ax_loss.plot(epochs, [row["loss"] for row in history], marker="o")
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("training loss")
        ax_acc.plot(epochs, [row["accuracy"] for row in history], marker="o", color="tab:green")
        ax_acc.set_xlabel("epoch")
        ax_acc.set_ylabel("training accuracy")
        fig.suptitle("Training curves")
        written.append(reporting.save_figure(fig, out_dir / "training_curves.png"))
    return written


def evaluate_tflite(model_path, data_dir=None) -> dict:
    """Test-set figures of a ``.tflite`` model, without TensorFlow (the device's view).

    Args:
        model_path: the model.
        data_dir: the MNIST folder (default lookup without the Keras download).

    Returns:
        ``model``, ``dataset``, ``runtime`` and :func:`metrics`.
    """
    from mnist_edge import data as data_mod
    from mnist_edge import runtime

    predictor = runtime.Predictor(model_path, untrusted=True)
    dataset = data_mod.load(data_dir, allow_download=False)
    result = {
        "model": str(model_path),
        "dataset": dataset.name,
        "runtime": predictor.runtime,
        "runtime_version": predictor.runtime_version,
    }
    result.update(metrics(predictor.probabilities(dataset.x_test), dataset.y_test))
    return result


def evaluate_keras(model_path=None, data_dir=None, plots_dir=None, note=lambda _m: None) -> dict:
    """Test-set figures of a ``.keras`` model, and the tutorial's figures if asked.

    Raises:
        MissingExtraError: TensorFlow is not installed.
    """
    from mnist_edge.errors import require_tensorflow

    require_tensorflow("mnist-edge eval with a .keras model")
    from mnist_edge import data as data_mod
    from mnist_edge import keras_model
    from mnist_edge.train import load_metadata

    path = model_path or keras_model.default_model_path()
    model = keras_model.load_keras_model(path)
    dataset = data_mod.load(data_dir)
    probs = keras_probabilities(model, data_mod.normalize(dataset.x_test))
    result = {"model": str(path), "dataset": dataset.name}
    result.update(metrics(probs, dataset.y_test))
    if plots_dir:
        meta = load_metadata(path) or {}
        p2000 = keras_probabilities(model, data_mod.normalize(dataset.x_train[2000:2001]))[0]
        names = FASHION_NAMES if dataset.name == "fashion-mnist" else None
        written = write_plots(
            plots_dir,
            dataset.x_train,
            dataset.y_train,
            result["confusion_matrix"],
            p2000,
            meta.get("history"),
            names,
        )
        result["plots"] = [str(p) for p in written]
        if not meta.get("history"):
            note("note: no training metadata beside the model; training_curves.png skipped")
    return result

"""The tutorial's figures (``eval --plots``), one function per figure, with matplotlib."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from mnist_edge import fsutil
from mnist_edge.evaluation import reporting


def _train_grid(plt, x_train, y_train, names):
    fig, axes = plt.subplots(4, 5, figsize=(8, 7))
    for ax, index in zip(axes.ravel(), range(1990, 2010)):
        ax.imshow(x_train[index], cmap="binary")
        ax.set_title(f"#{index}: {names[int(y_train[index])]}", fontsize=9)
        ax.axis("off")
    fig.suptitle("Training images 1990-2009 with their labels")
    return fig


def _confusion(plt, confusion, names, rotate):
    cm = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    fig.colorbar(ax.imshow(cm, cmap="Blues"), ax=ax)
    ax.set_xticks(range(10), names, rotation=45 if rotate else 0)
    ax.set_yticks(range(10), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = cm.max() / 2
    for i in range(10):
        for j in range(10):
            color = "white" if cm[i, j] > threshold else "black"
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7, color=color)
    ax.set_title(f"Confusion matrix (test, accuracy {np.trace(cm) / cm.sum():.4f})")
    return fig


def _image_2000(plt, x_train, y_train, probs, names, rotate):
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(10, 4))
    fig.colorbar(ax_img.imshow(x_train[2000], cmap="gray"), ax=ax_img)
    ax_img.set_title(f"Training image 2000 (label {names[int(y_train[2000])]})")
    probs = np.asarray(probs, dtype=float)
    colors = ["tab:blue"] * 10
    colors[int(np.argmax(probs))] = "tab:red"
    ax_bar.bar(range(10), probs, color=colors)
    ax_bar.set_xticks(range(10), names, rotation=45 if rotate else 0)
    ax_bar.set_ylim(0, 1)
    ax_bar.set_title(f"Model's probabilities (predicted {names[int(np.argmax(probs))]}, {probs.max():.3f})")
    return fig


def _curves(plt, history):
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [row["loss"] for row in history], marker="o")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_acc.plot(epochs, [row["accuracy"] for row in history], marker="o", color="tab:green")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("training accuracy")
    fig.suptitle("Training curves")
    return fig


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
    rotate = class_names is not None
    figures = {
        "train_grid.png": _train_grid(plt, x_train, y_train, names),
        "confusion_matrix.png": _confusion(plt, confusion, names, rotate),
        "image_2000.png": _image_2000(plt, x_train, y_train, image_2000_probs, names, rotate),
    }
    if history:
        figures["training_curves.png"] = _curves(plt, history)
    return [reporting.save_figure(fig, out_dir / name) for name, fig in figures.items()]

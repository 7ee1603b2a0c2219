"""Accuracy on MNIST's test set: loss, per-class accuracy, confusion matrix, agreement.

Metrics are computed in numpy from the model's probabilities, so the same
functions score Keras and TFLite models alike. The tutorial's figures
(``eval --plots``) are drawn by :mod:`mnist_edge.training.figures`.
"""

from __future__ import annotations

import numpy as np

from mnist_edge import data as data_mod
from mnist_edge import runtime
from mnist_edge.errors import ModelError, require_tensorflow
from mnist_edge.evaluation import parity
from mnist_edge.runtime import default_model_path

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


def default_eval_model() -> str:
    """What ``eval`` evaluates without ``--model``: the trained Keras model in ``models/``
    when TensorFlow is there to run it, else the shipped ``.tflite`` (on a device)."""
    import importlib.util

    # The build side only here: eval of a .tflite runs on devices without it.
    from mnist_edge.training import keras_model

    if importlib.util.find_spec("tensorflow") is not None:
        try:
            return str(keras_model.default_model_path())
        except ModelError:
            pass
    return str(default_model_path())


def evaluate_tflite(model_path, data_dir=None, test_images=None) -> dict:
    """Test-set figures of a ``.tflite`` model, without TensorFlow (the device's view).

    Args:
        model_path: the model.
        data_dir: the MNIST folder (default lookup without the Keras download).
        test_images: only the first this many test images (None: all).

    Returns:
        ``model``, ``dataset``, ``runtime``, :func:`metrics`, and ``agreement``
        / ``max_abs_diff`` with the original Keras model (from the reference
        record beside the model; None without one).
    """

    predictor = runtime.Predictor(model_path, untrusted=True)
    dataset = data_mod.load(data_dir, allow_download=False)
    if test_images:
        dataset = dataset.test_head(test_images)
    probs = predictor.probabilities(dataset.x_test)
    result = {
        "model": str(model_path),
        "dataset": dataset.name,
        "runtime": predictor.runtime,
        "runtime_version": predictor.runtime_version,
    }
    result.update(metrics(probs, dataset.y_test))
    figures = parity.against_keras(probs, predictor, dataset, None)
    result.update({key: figures.get(key) for key in ("agreement", "max_abs_diff", "reference")})
    return result


def evaluate_keras(model_path=None, data_dir=None, plots_dir=None, note=lambda _m: None) -> dict:
    """Test-set figures of a ``.keras`` model, and the tutorial's figures if asked.

    Raises:
        MissingExtraError: TensorFlow is not installed.
    """

    require_tensorflow("mnist-edge eval with a .keras model")
    # The build side only for a .keras model: eval of a .tflite runs on devices without it.
    from mnist_edge.training import keras_model
    from mnist_edge.training.keras_model import load_metadata

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
        from mnist_edge.training.figures import write_plots  # matplotlib, only for --plots

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

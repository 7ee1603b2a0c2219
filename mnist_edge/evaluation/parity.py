"""How closely a model's outputs follow a reference: the one parity function.

Used by ``export`` (against the live Keras model, to gate each file) and by
``bench`` and ``eval`` (against the live model or its reference record, on
the device). numpy only.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from mnist_edge.runtime import reference


def compare(
    probs: np.ndarray, reference: np.ndarray, labels: np.ndarray, reference_top1: Optional[np.ndarray] = None
) -> dict:
    """Accuracy of ``probs``, and its agreement with ``reference`` on the same images.

    Args:
        probs: ``(n, 10)`` probabilities of the model under test.
        reference: ``(n, 10)`` probabilities of the reference (e.g. Keras).
        labels: ``(n,)`` true labels.
        reference_top1: the reference's labels, when known exactly (a
            reference record stores them beside float16 probabilities).

    Returns:
        ``n``, ``accuracy``, ``reference_accuracy``, ``accuracy_drop_pp``,
        ``agreement``, ``disagreements``, ``per_class_accuracy_diff``,
        ``max_abs_diff``, ``mean_abs_diff``.
    """
    labels = np.asarray(labels).astype(np.int64)
    pred = probs.argmax(1)
    ref = reference.argmax(1) if reference_top1 is None else np.asarray(reference_top1, np.int64)
    diff = np.abs(probs.astype(np.float64) - reference.astype(np.float64))
    accuracy, ref_accuracy = float(np.mean(pred == labels)), float(np.mean(ref == labels))
    per_class = [
        round(float(np.mean(pred[labels == c] == c) - np.mean(ref[labels == c] == c)), 6)
        if np.any(labels == c)
        else 0.0
        for c in range(10)
    ]
    return {
        "n": int(len(labels)),
        "accuracy": accuracy,
        "reference_accuracy": ref_accuracy,
        "accuracy_drop_pp": round((ref_accuracy - accuracy) * 100, 4),
        "agreement": float(np.mean(pred == ref)),
        "disagreements": int(np.sum(pred != ref)),
        "per_class_accuracy_diff": per_class,
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "mean_abs_diff": float(diff.mean()) if diff.size else 0.0,
    }


def against_keras(probs: np.ndarray, predictor, dataset, keras_probs: Optional[np.ndarray]) -> dict:
    """Accuracy, and agreement / max |dp| with the Keras model when it is known.

    Against the live Keras model (``keras_probs``) or, on a device, the
    reference record its sidecar names. Both compare with probabilities at
    float16 (what the record keeps), so they give identical figures.
    """

    labels = dataset.y_test
    if keras_probs is not None:
        figures = compare(
            probs, reference.at_float16(keras_probs), labels, reference_top1=keras_probs.argmax(1)
        )
        figures["reference"] = "keras (live)"
        return figures
    record = reference.for_model(predictor, dataset.md5.get("test_images"))
    if record is None or len(record.top1) < len(labels):
        return {
            "accuracy": float(np.mean(probs.argmax(1) == labels)),
            "n": int(len(labels)),
            "agreement": None,
            "max_abs_diff": None,
            "reference": None,
        }
    n = len(labels)  # the first n test images (bench --test-images), or all of them
    figures = compare(probs, record.probs[:n], labels, reference_top1=record.top1[:n])
    figures["reference"] = f"record {record.path.name}"
    return figures

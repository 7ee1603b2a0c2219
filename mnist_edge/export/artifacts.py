"""Step 3 of an export: the sidecar written beside each model.

The C arrays are :func:`mnist_edge.export.c_array.write_c_array`'s; the reference
record is :mod:`mnist_edge.runtime.reference`'s.
"""

from __future__ import annotations

import hashlib
import time
from typing import Optional

from mnist_edge.evaluation.reporting import library_versions
from mnist_edge.export.convert import FORMAT_NAMES
from mnist_edge.runtime.sidecar import METADATA_FORMAT


def build_sidecar(
    tflite_bytes: bytes,
    predictor,
    quantization: str,
    io_type: Optional[str],
    source: dict,
    calibration: Optional[dict],
    validation: dict,
    abstain: Optional[dict],
    reference: Optional[dict],
    recipe: Optional[dict] = None,
) -> dict:
    """The sidecar document a device reads (``<stem>.json``).

    Args:
        tflite_bytes: the model file's bytes.
        predictor: a Predictor on the file (for tensor facts).
        quantization: the format.
        io_type: int8 I/O type or None.
        source: source model facts (file name, SHA-256, dataset).
        calibration: int8 calibration facts or None.
        validation: the parity figures and the gate's verdict.
        abstain: the calibrated "not a digit" threshold from training, if any.
        reference: the reference record's file name and SHA-256, if written.
        recipe: how it was quantised (:func:`mnist_edge.export.recipes.convert_recipe`'s
            facts, and why ``--quantize auto`` chose it).

    Returns:
        The JSON-ready metadata.
    """
    info = predictor.describe()
    return {
        "format": METADATA_FORMAT,
        "labels": [str(i) for i in range(10)],
        "tflite_sha256": hashlib.sha256(tflite_bytes).hexdigest(),
        "size_bytes": len(tflite_bytes),
        "quantization": quantization,
        "format_name": FORMAT_NAMES[quantization],
        "io_type": io_type,
        "recipe": recipe,
        "input": {
            "shape": [1, 28, 28],
            "shape_signature": [-1, 28, 28],
            "layout": "white digit on black, 28x28, MNIST-centred",
            "normalization": {
                "scale": 1.0 / 255.0,
                "offset": 0.0,
                "formula": "value = pixel * scale + offset, pixel in 0..255",
            },
            "dtype": info["input_dtype"],
            "quantization": info["input_quantization"],
        },
        "output": {
            "shape": [1, 10],
            "kind": "probabilities (softmax)",
            "dtype": info["output_dtype"],
            "quantization": info["output_quantization"],
        },
        "source_model": source,
        "calibration": calibration,
        "parity": validation,
        "abstain": abstain,
        "reference": reference,
        "ops": predictor.facts.op_names,
        "exported_unix": int(time.time()),
        "versions": library_versions(),
    }

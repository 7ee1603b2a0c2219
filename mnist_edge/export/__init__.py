"""Export a Keras model to TensorFlow Lite, calibrated and gated on parity.

As in Optimum's exporters, an export is a composition of separate steps:

1. :func:`convert_model` (:mod:`.convert`): trace and convert to TFLite bytes
   (float32, float16 weights, dynamic-range int8 weights, or full int8
   calibrated on training images preprocessed exactly as at inference);
2. :func:`validate_model_outputs`: run the bytes on the full test set
   through the same :class:`~mnist_edge.runtime.Predictor` a device uses,
   compare with Keras (:mod:`mnist_edge.evaluation.parity`), and return the typed
   :class:`GateFailure` list of the parity gate;
3. :func:`write_artifacts` (:mod:`.artifacts`): the ``.tflite``, its sidecar
   and, on request, the C array; the files appear under their final names
   only when the gate passed (or ``keep_failed``).

:func:`export` composes them for every format and writes one reference
record of the Keras model (:mod:`mnist_edge.runtime.reference`) for device-side parity.
Beyond the converter's four formats, :mod:`.recipes` makes int16x8, int4 and
int8-selective; :func:`export_auto` (:mod:`.auto`) measures every recipe and
exports the smallest within an accuracy budget.
"""

from mnist_edge.export.auto import export_auto
from mnist_edge.export.config import ExportConfig
from mnist_edge.export.convert import (
    FORMAT_NAMES,
    QUANTIZATIONS,
    artifact_name,
    convert,
    representative_images,
)
from mnist_edge.export.pipeline import (
    DEFAULT_GATE,
    GateFailure,
    convert_model,
    export,
    format_table,
    gate,
    validate_model_outputs,
    write_artifacts,
)

__all__ = [
    "DEFAULT_GATE",
    "FORMAT_NAMES",
    "QUANTIZATIONS",
    "ExportConfig",
    "GateFailure",
    "artifact_name",
    "convert",
    "convert_model",
    "export",
    "export_auto",
    "format_table",
    "gate",
    "representative_images",
    "validate_model_outputs",
    "write_artifacts",
]

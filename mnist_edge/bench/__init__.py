"""Benchmark TFLite models where they run: parity, size, init, memory and µs latency.

Runs without TensorFlow (the device's install): each ``.tflite`` is measured
with numpy and the interpreter only, and compared with the original Keras
model through the reference record ``export`` wrote beside it. With a
``.keras`` model and TensorFlow present, the Keras model is timed too and
parity is measured against it live (the figures equal the record's).

Modules: :mod:`.pipeline` (:func:`run`, :func:`default_models`), :mod:`.timing`
(interleaved windows), :mod:`.tflite` (one model),
:mod:`.keras_ref` (the Keras side), :mod:`.environment`, :mod:`.report`
(table and Markdown), :mod:`.compare` (earlier runs side by side).
"""

from mnist_edge.bench.environment import environment, measure_process
from mnist_edge.bench.pipeline import default_models, run
from mnist_edge.bench.report import format_table, write_report

__all__ = ["default_models", "environment", "format_table", "measure_process", "run", "write_report"]

"""The recipes beyond the converter's four formats (build side).

* ``int16x8``: int8 weights, int16 activations (TensorFlow's "16x8" mode:
  the converter has it, ``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``),
  calibrated like int8; float input and output around the integer core.
* ``int4``: int4 weights on fully-connected layers (int8 on convolutions),
  float activations, through ai-edge-quantizer on the float32 model (the
  converter has no int4).
  ai-edge-quantizer is a library made for this and needs no TensorFlow; it
  works through the model's SignatureDef, which every export now carries.
* ``int8-selective``: full int8 except the one layer with the largest
  quantisation error (RMSE over the quantisation step, from the same
  QuantizationDebugger statistics ``export --debug`` reports), which stays
  float; float input and output.
"""

from __future__ import annotations

import csv
import io
from typing import List, Optional, Tuple

import numpy as np

from mnist_edge import constants
from mnist_edge.errors import MissingExtraError
from mnist_edge.export.convert import compact_tensor_names, convert, make_converter, one_image_batches
from mnist_edge.runtime.backends import quiet_native_stderr
from mnist_edge.training._tf import import_tf

CALIBRATED = ("int8", "int16x8", "int8-selective")  # recipes that need calibration images
SELECTIVE_FLOAT_LAYERS = 1  # layers int8-selective keeps in float (the worst first)

# What each recipe stores and computes in, and what makes it (for the sidecar's "recipe").
RECIPE_FACTS = {
    "none": {"weights": "float32", "activations": "float32", "tool": "tflite-converter"},
    "float16": {"weights": "float16", "activations": "float32", "tool": "tflite-converter"},
    "dynamic": {"weights": "int8", "activations": "float32 (int8 on the fly)", "tool": "tflite-converter"},
    "int8": {"weights": "int8", "activations": "int8", "tool": "tflite-converter"},
    "int16x8": {"weights": "int8", "activations": "int16", "tool": "tflite-converter (16x8)"},
    "int4": {
        "weights": "int4 (fully connected), int8 (others)",
        "activations": "float32",
        "tool": "ai-edge-quantizer (dynamic, channelwise)",
    },
    "int8-selective": {"weights": "int8", "activations": "int8", "tool": "tflite-converter + debugger"},
}


def convert_recipe(
    concrete, recipe: str, io_type: str = "int8", calibration: Optional[np.ndarray] = None
) -> Tuple[bytes, dict]:
    """Step 1 for any recipe: the TFLite bytes and the facts the sidecar records.

    Args:
        concrete: the frozen concrete function (:func:`~mnist_edge.export.convert.frozen_forward`).
        recipe: one of :data:`~mnist_edge.constants.RECIPES`.
        io_type: int8's input/output type (the other recipes keep float I/O).
        calibration: float32 images for the calibrated recipes.

    Returns:
        ``(content, facts)``; facts has ``name``, ``weights``, ``activations``,
        ``tool`` and, for int8-selective, ``float_layers``.
    """
    if recipe not in RECIPE_FACTS:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {', '.join(constants.RECIPES)}")
    facts = {"name": recipe, **RECIPE_FACTS[recipe]}
    if recipe in CALIBRATED and (calibration is None or len(calibration) == 0):
        raise ValueError(f"the {recipe} recipe needs calibration images")
    if recipe in constants.QUANTIZATIONS:
        int8_calibration = calibration if recipe == "int8" else None
        content = convert(make_converter(concrete, recipe, io_type, int8_calibration))
        if recipe == "int8":  # the microcontroller format: every byte of flash counts
            content = compact_tensor_names(content)
    elif recipe == "int16x8":
        content = convert_int16x8(concrete, calibration)
    elif recipe == "int4":
        content = convert_int4(convert(make_converter(concrete, "none")))
    else:  # int8-selective
        content, facts["float_layers"] = convert_selective(concrete, calibration)
    return content, facts


def convert_int16x8(concrete, calibration: np.ndarray) -> bytes:
    """int8 weights and int16 activations, calibrated on ``calibration``; float I/O."""
    tf = import_tf()
    converter = make_converter(concrete, "none")
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = one_image_batches(calibration)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    ]
    return convert(converter)


def int4_recipe():
    """int4 weights where they pay (fully-connected layers), int8 weights elsewhere; float activations.

    A convolution of a few 3x3 filters has too few weights per channel for
    sixteen levels (int4 everywhere cost the tiny CNN 4 points); dense layers
    hold most of the weights of these models and keep their accuracy.
    """
    from ai_edge_quantizer import qtyping, recipe_manager

    manager = recipe_manager.RecipeManager()
    manager.add_dynamic_config(".*", qtyping.TFLOperationName.ALL_SUPPORTED, 8)
    manager.add_dynamic_config(".*", qtyping.TFLOperationName.FULLY_CONNECTED, 4)
    return manager.get_quantization_recipe()


def convert_int4(float_model: bytes) -> bytes:
    """int4 weights on fully-connected layers, int8 on the others, by ai-edge-quantizer (float activations).

    Raises:
        MissingExtraError: ai-edge-quantizer is not installed.
    """
    try:
        from ai_edge_quantizer import quantizer
    except ImportError as exc:
        raise MissingExtraError(
            "the int4 recipe needs ai-edge-quantizer: pip install 'mnist-edge[train]'"
        ) from exc
    with quiet_native_stderr():
        result = quantizer.Quantizer(float_model, int4_recipe()).quantize(enable_progress_report=False)
    return bytes(result.quantized_model)


def layer_errors(concrete, calibration: np.ndarray) -> List[dict]:
    """Per-layer int8 error statistics from TensorFlow's QuantizationDebugger.

    Returns:
        One row per quantised tensor (``op_name``, ``tensor_name``, ``scale``,
        ``mean_squared_error`` ...) plus ``rmse`` and ``rmse_over_scale``.
    """
    tf = import_tf()
    # The debugger needs float I/O around the int8 core to compare with float.
    converter = make_converter(concrete, "int8", "float", calibration)
    with quiet_native_stderr():
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=one_image_batches(calibration)
        )
        debugger.run()
    buffer = io.StringIO()
    debugger.layer_statistics_dump(buffer)
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    for row in rows:
        scale = float(row.get("scale") or 0) or float("nan")
        rmse = float(row.get("mean_squared_error") or 0) ** 0.5
        row["rmse"] = f"{rmse:.6g}"
        row["rmse_over_scale"] = f"{rmse / scale:.6g}"
    return rows


def worst_layers(rows: List[dict], count: int = SELECTIVE_FLOAT_LAYERS) -> List[str]:
    """The tensor names of the ``count`` layers with the largest RMSE / scale (NaN last)."""

    def error(row):
        value = float(row["rmse_over_scale"])
        return value if np.isfinite(value) else -1.0

    ranked = sorted(rows, key=error, reverse=True)
    return [row["tensor_name"] for row in ranked[:count]]


def convert_selective(concrete, calibration: np.ndarray) -> Tuple[bytes, List[str]]:
    """int8 with the worst layer(s) kept in float; float I/O.

    Returns:
        The model bytes and the tensor names kept in float.
    """
    tf = import_tf()
    kept = worst_layers(layer_errors(concrete, calibration))
    converter = make_converter(concrete, "int8", "float", calibration)
    with quiet_native_stderr():
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter,
            debug_dataset=one_image_batches(calibration),
            debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=kept),
        )
        return debugger.get_nondebug_quantized_model(), kept

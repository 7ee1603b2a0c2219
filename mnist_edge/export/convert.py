"""Step 1 of an export: trace a Keras model and convert it to TFLite bytes (TensorFlow side).

The graph is traced from a function with input ``[None, 28, 28]`` whose
Flatten/Reshape layers become a plain ``reshape(-1, ...)``: the file has a
static batch-1 input (RESHAPE -> FC -> FC -> SOFTMAX for the MLP, no
SHAPE/STRIDED_SLICE/PACK) and still resizes to any batch. int8 is calibrated
on a class-balanced, seeded sample of *training* images preprocessed exactly
as at inference (float32 pixels / 255).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from mnist_edge import constants
from mnist_edge import data as data_mod
from mnist_edge.runtime.backends import quiet_native_stderr
from mnist_edge.training._tf import import_tf

QUANTIZATIONS, FORMAT_NAMES = constants.QUANTIZATIONS, constants.FORMAT_NAMES


def artifact_name(stem: str, quantization: str, io_type: str = "int8") -> str:
    """The file name for an export, e.g. ``mnist_mlp_int8.tflite``."""
    name = f"{stem}_{FORMAT_NAMES[quantization]}"
    if quantization == "int8" and io_type != "int8":
        name += f"_{io_type}io"
    return name + ".tflite"


def frozen_forward(model):
    """Traces ``model`` into a frozen concrete function with a dynamic batch.

    Flatten and Reshape layers become ``tf.reshape(x, [-1, ...])`` so the
    converter sees a static per-image shape and no shape arithmetic; Dropout
    is dropped (it is the identity at inference).

    Args:
        model: a Keras Sequential model taking (N, 28, 28).

    Returns:
        A concrete function with all variables folded into constants.
    """

    tf = import_tf()
    import keras
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]

    def forward(x):
        h = x
        for layer in layers:
            if isinstance(layer, keras.layers.Flatten):
                h = tf.reshape(h, [-1, int(np.prod(h.shape[1:]))])
            elif isinstance(layer, keras.layers.Reshape):
                h = tf.reshape(h, [-1] + [int(d) for d in layer.target_shape])
            elif isinstance(layer, keras.layers.Dropout):
                continue
            else:
                h = layer(h, training=False)
        return h

    spec = tf.TensorSpec([None, 28, 28], tf.float32, name="image")
    concrete = tf.function(forward, input_signature=[spec]).get_concrete_function()
    # Keras 3 variables stay READ_VARIABLE ops unless folded, which the
    # int8 calibrator cannot run.
    return convert_variables_to_constants_v2(concrete)


def one_image_batches(images):
    """The converter's and the debugger's representative data: one image per call, float32."""
    images = np.asarray(images, dtype=np.float32)

    def batches():
        for i in range(len(images)):
            yield [images[i : i + 1]]

    return batches


def representative_images(dataset: data_mod.Dataset, samples: int, seed: int) -> np.ndarray:
    """Calibration images: a class-balanced, seeded sample of training images.

    Preprocessed exactly as at inference: float32 pixels / 255.

    Args:
        dataset: the training data.
        samples: how many images.
        seed: the sampling seed.

    Returns:
        ``(samples, 28, 28)`` float32 in [0, 1].
    """
    idx = data_mod.balanced_sample(dataset.y_train, samples, seed)
    return data_mod.normalize(dataset.x_train[idx])


def make_converter(
    concrete, quantization: str, io_type: str = "int8", calibration: Optional[np.ndarray] = None
):
    """Configures a TFLiteConverter for one format.

    Args:
        concrete: the frozen concrete function from :func:`frozen_forward`.
        quantization: one of :data:`QUANTIZATIONS`.
        io_type: for int8, the input/output type: int8, uint8 or float.
        calibration: float32 images for the int8 representative dataset.

    Returns:
        The configured converter.
    """

    tf = import_tf()
    # With a trackable object the file carries a SignatureDef ("serving_default":
    # input "image", output "output_0"): LiteRT's signature runner and
    # ai-edge-quantizer's calibration find the model's input through it.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], tf.Module())
    if quantization == "none":
        return converter
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        if calibration is None or len(calibration) == 0:
            raise ValueError("int8 export needs calibration images")
        converter.representative_dataset = one_image_batches(calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_dtype = {"int8": tf.int8, "uint8": tf.uint8, "float": tf.float32}[io_type]
        converter.inference_input_type = io_dtype
        converter.inference_output_type = io_dtype
    return converter


def convert(converter) -> bytes:
    """Runs a converter with the C++ calibration chatter silenced."""
    with quiet_native_stderr():
        return converter.convert()


def compact_tensor_names(content: bytes) -> bytes:
    """The model with its inner tensors renamed ``t<index>``; the signature's input and output keep theirs.

    The converter names tensors after the build machine's fused op paths
    ("mnist_tiny_1/conv5_1/convolution;..."): about 1 KB of a 16 KB
    microcontroller model, and of no use on the device. TFLite Micro's own
    tooling strips all strings; this keeps the names a user or LiteRT's
    signature runner looks up.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    for graph in model.subgraphs:
        kept = set(graph.inputs) | set(graph.outputs)
        for index, tensor in enumerate(graph.tensors):
            if index not in kept:
                tensor.name = f"t{index}".encode()
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))

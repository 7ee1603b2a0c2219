"""A trainable Keras model rebuilt from an int8 ``.tflite`` (the shipped default, for fine-tuning).

The shipped model travels as int8 TFLite only. Its graph is what ``export``
writes for this project's architectures: RESHAPE, CONV_2D (+ bias, fused
ReLU; batch norm folded in), MAX_POOL_2D, FULLY_CONNECTED, SOFTMAX, with
QUANTIZE/DEQUANTIZE at the edges for uint8 or float I/O (type conversions,
nothing to rebuild). Each op
becomes the Keras layer it came from, with the dequantized weights:

- a convolution's padding is read from its shapes (same size out: ``same``);
- a fused ReLU is read from the output's quantization (an int8 tensor whose
  zero point is -128 starts at 0: nothing below 0 survives, a ReLU);
- weights are ``OHWI`` in TFLite and ``HWIO`` in Keras; a dense layer's are
  transposed.

The result is checked against the ``.tflite`` itself (:func:`check_rebuild`):
a model the rules above do not fit is refused with one line, never trained on.
"""

from __future__ import annotations

import os

import numpy as np

from mnist_edge.errors import ModelError
from mnist_edge.runtime import Predictor
from mnist_edge.training._tf import import_tf

SUPPORTED_OPS = {"RESHAPE", "CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"}
# Type conversions at the model's edges (uint8 or float I/O around the int8 core): nothing to learn.
PASS_THROUGH_OPS = {"QUANTIZE", "DEQUANTIZE"}
MIN_AGREEMENT = 0.995  # top-1 agreement of the rebuilt model with the .tflite it came from


def _dequantized(interpreter, index: int) -> np.ndarray:
    detail = interpreter.get_tensor_details()[index]
    value = interpreter.get_tensor(index).astype(np.float32)
    q = detail["quantization_parameters"]
    scales, zeros = np.asarray(q["scales"], np.float32), np.asarray(q["zero_points"], np.float32)
    if scales.size == 0:
        return value
    axis = q.get("quantized_dimension", 0)
    shape = [1] * value.ndim
    shape[axis] = -1
    return (
        (value - zeros.reshape(shape)) * scales.reshape(shape)
        if scales.size > 1
        else (value - zeros) * scales
    )


def _relu_after(interpreter, index: int) -> bool:
    detail = interpreter.get_tensor_details()[index]
    zeros = detail["quantization_parameters"]["zero_points"]
    return detail["dtype"] == np.int8 and len(zeros) == 1 and int(zeros[0]) == -128


def _layers(interpreter, keras):
    """The Keras layers (with their weights to set) of the interpreter's ops, in order."""
    details = interpreter.get_tensor_details()
    layers, weights = [], []
    for op in interpreter._get_ops_details():  # the op list LiteRT exposes; checked below by agreement
        name = op["op_name"]
        if name == "DELEGATE" or name in PASS_THROUGH_OPS:
            continue
        if name not in SUPPORTED_OPS:
            raise ModelError(
                f"cannot rebuild {name} for fine-tuning (this works on mnist-edge's own exports)"
            )
        inputs, output = list(op["inputs"]), op["outputs"][0]
        out_shape = tuple(details[output]["shape"][1:])
        if name == "RESHAPE":
            layers.append(keras.layers.Reshape(out_shape))
            weights.append(None)
        elif name == "CONV_2D":
            kernel = _dequantized(interpreter, inputs[1]).transpose(1, 2, 3, 0)  # OHWI -> HWIO
            bias = _dequantized(interpreter, inputs[2])
            in_h = details[inputs[0]]["shape"][1]
            padding = "same" if out_shape[0] == in_h else "valid"
            activation = "relu" if _relu_after(interpreter, output) else None
            layers.append(
                keras.layers.Conv2D(
                    kernel.shape[-1], kernel.shape[:2], padding=padding, activation=activation
                )
            )
            weights.append([kernel, bias])
        elif name == "MAX_POOL_2D":
            layers.append(keras.layers.MaxPooling2D())
            weights.append(None)
        elif name == "FULLY_CONNECTED":
            kernel = _dequantized(interpreter, inputs[1]).T
            bias = _dequantized(interpreter, inputs[2])
            activation = "relu" if _relu_after(interpreter, output) else None
            if len(details[inputs[0]]["shape"]) > 2:
                layers.append(keras.layers.Flatten())
                weights.append(None)
            layers.append(keras.layers.Dense(kernel.shape[1], activation=activation))
            weights.append([kernel, bias])
        else:  # SOFTMAX
            layers.append(keras.layers.Softmax())
            weights.append(None)
    return layers, weights


def keras_from_tflite(path: os.PathLike):
    """A float Keras model computing what the int8 ``.tflite`` at ``path`` computes.

    Raises:
        ModelError: not a model this rebuild understands (float, or other ops).
    """
    import_tf()
    import keras

    predictor = Predictor(path)
    if predictor.input_dtype != np.int8 and predictor.input_dtype != np.uint8:
        raise ModelError(f"{path}: fine-tuning from a .tflite needs an int8 model; give its .keras instead")
    interpreter = predictor.new_interpreter()
    interpreter.allocate_tensors()
    layers, weights = _layers(interpreter, keras)
    model = keras.Sequential([keras.Input((28, 28), name="image"), *layers], name="mnist_rebuilt")
    for layer, values in zip(layers, weights):
        if values is not None:
            layer.set_weights(values)
    return model


def check_rebuild(model, path: os.PathLike, images: np.ndarray) -> float:
    """Top-1 agreement of ``model`` with the ``.tflite`` on ``images`` (uint8, N x 28 x 28).

    Raises:
        ModelError: under :data:`MIN_AGREEMENT`: the rebuild is not that model.
    """
    reference = Predictor(path).probabilities(images).argmax(1)
    rebuilt = model.predict(images.astype(np.float32) / 255.0, batch_size=1000, verbose=0).argmax(1)
    agreement = float(np.mean(reference == rebuilt))
    if agreement < MIN_AGREEMENT:
        raise ModelError(
            f"{path}: the rebuilt model agrees with it on only {agreement:.1%} of MNIST; "
            "fine-tune from its .keras instead"
        )
    return agreement

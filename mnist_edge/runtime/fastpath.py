"""The measured single-image fast path of :class:`~mnist_edge.runtime.Predictor`.

numpy's per-call overhead (0.5-1.5 µs per ufunc or fancy index) is of the
order of invoking the whole int8 model (3-4 µs), so ``predict`` on one 28x28
uint8 array avoids numpy: pixels go into the interpreter's own input buffer
as bytes translated by a 256-byte table, the C++ ``Invoke`` runs, and the
label is the index of the largest order-preserving output byte. The result
is bit-identical to the general path (tests compare them on every fixture).

This is the one module that touches a private attribute of LiteRT /
tflite-runtime: the interpreter's C++ wrapper (``Interpreter._interpreter``),
whose ``Invoke`` runs beside persistent tensor views, which the public
``invoke()`` refuses (it guards against views outliving a reallocation; the
single-image interpreter is never resized, so the views stay valid).
``tests/runtime/test_runtime.py`` fails loudly if the attribute disappears;
without it the fast path falls back to the public set/invoke/get API.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from mnist_edge import constants

_U8 = np.dtype(np.uint8)
IMAGE_SHAPE = constants.IMAGE_SHAPE
NATIVE_METHODS = ("SetTensor", "Invoke", "GetTensor")


def native_wrapper(interpreter):
    """The interpreter's C++ wrapper when it has what the fast path needs, else None."""
    wrapper = getattr(interpreter, "_interpreter", None)
    if wrapper is None or not all(hasattr(wrapper, name) for name in NATIVE_METHODS):
        return None
    if not hasattr(interpreter, "tensor"):
        return None
    return wrapper


def interpreter_calls(interpreter):
    """(set_tensor, invoke, get_tensor(index)) for the general path.

    Once the fast path holds views of the tensors, the public ``invoke()``
    refuses to run, so the general path goes through the same C++ wrapper.
    """
    wrapper = native_wrapper(interpreter)
    if wrapper is None:
        return interpreter.set_tensor, interpreter.invoke, interpreter.get_tensor
    get = wrapper.GetTensor
    return wrapper.SetTensor, wrapper.Invoke, lambda index: get(index, 0)


def pixel_byte_table(pixel_lut: np.ndarray):
    """How pixels become input bytes.

    Args:
        pixel_lut: the 256-entry pixel -> input value table.

    Returns:
        ``None`` when the pixel byte is the input byte (uint8 input at scale
        1/255, zero point 0), a 256-byte ``bytes.translate`` table for other
        one-byte inputs, or ``False`` for float input.
    """
    if pixel_lut.dtype.itemsize != 1:
        return False
    table = pixel_lut.view(np.uint8)
    return None if np.array_equal(table, np.arange(256)) else table.tobytes()


def build_fast_predict(
    interpreter,
    in_index: int,
    out_index: int,
    pixel_lut: np.ndarray,
    out_table: Optional[list],
    out_order: Optional[bytes],
    float_scale: float,
    lock,
    make: Callable,
    general: Callable,
) -> Callable:
    """Builds a ``predict(image)`` closure for 28x28 uint8 arrays.

    Everything it needs is a closure cell (cheaper than attribute lookups);
    any other input goes to ``general``.

    Args:
        interpreter: the single-image interpreter (never resized).
        in_index: its input tensor index.
        out_index: its output tensor index.
        pixel_lut: pixel -> input value table.
        out_table: raw output byte -> probability, or None for float output.
        out_order: a translate table making int8 bytes order-preserving, or None.
        float_scale: pixel scale for float inputs.
        lock: serialises use of the interpreter.
        make: builds the result from (label, confidence, probabilities).
        general: the general ``predict`` for everything else.

    Returns:
        The predict function (``general`` itself when the interpreter has no
        native wrapper, or its input or output is dynamically shaped).
    """
    wrapper = native_wrapper(interpreter)
    if wrapper is None:
        return general
    invoke = wrapper.Invoke
    try:
        in_view = interpreter.tensor(in_index)()[0]
        out_view = interpreter.tensor(out_index)()[0]
    except ValueError:
        # A dynamically shaped tensor (a SHAPE/PACK reshape, as tf.keras exports
        # make) has no buffer until invoked, and may move when it is: no views.
        return general
    byte_table = pixel_byte_table(pixel_lut)
    in_bytes = None if byte_table is False else memoryview(in_view.view(np.uint8)).cast("B")
    lookup = out_table.__getitem__ if out_table is not None else None
    scale, multiply, ndarray, u8, shape = np.float32(float_scale), np.multiply, np.ndarray, _U8, IMAGE_SHAPE

    def predict(image):
        if image.__class__ is not ndarray or image.dtype is not u8 or image.shape != shape:
            return general(image)
        if byte_table is False:  # float input: one multiply into the buffer
            with lock:
                multiply(image, scale, out=in_view)
                invoke()
                raw = out_view.tobytes() if lookup is not None else out_view.tolist()
        else:
            data = image.tobytes() if byte_table is None else image.tobytes().translate(byte_table)
            with lock:
                in_bytes[:] = data
                invoke()
                raw = out_view.tobytes() if lookup is not None else out_view.tolist()
        if lookup is None:
            probs = tuple(raw)
            best = max(probs)
            return make(probs.index(best), best, probs)
        ordered = raw if out_order is None else raw.translate(out_order)
        label = ordered.index(max(ordered))
        return make(label, lookup(raw[label]), tuple(map(lookup, raw)))

    predict.__doc__ = general.__doc__
    return predict

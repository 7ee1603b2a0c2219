"""The on-device predictor: numpy and one TFLite interpreter, nothing else.

:class:`Predictor` loads a ``.tflite`` model and its sidecar, and does the
input quantisation and output dequantisation itself, from the tensors' own
parameters. Callers pass pixels, never quantised values:

* ``uint8`` arrays are pixels in 0..255 (MNIST form: white digit on black);
* float arrays must already be in [0, 1]; a float array outside that range
  (the classic "forgot to divide by 255") is refused, not silently mis-scaled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np

from mnist_edge.errors import InputError, RuntimeModelError
from mnist_edge.runtime import backends, fastpath, guard, modelfile, sidecar

_ACCEPTED_INPUT_SHAPES = ([1, 28, 28], [1, 784], [1, 28, 28, 1])
_PIXEL_SCALE = sidecar.PIXEL_NORMALIZATION[0]
BATCH_MEMORY = 64 << 20  # tensor bytes a batch call may use (a CNN's activations grow with N)


@dataclasses.dataclass
class Prediction:
    """One image's result.

    Attributes:
        label: the predicted class index.
        confidence: its probability.
        probabilities: the 10 class probabilities, a tuple of floats
            (dequantised from the model's output).
    """

    label: int
    confidence: float
    probabilities: Tuple[float, ...]

    def top_k(self, k: int) -> List[Tuple[int, float]]:
        """The ``k`` most likely classes as ``(label, probability)``, best first."""
        order = sorted(range(len(self.probabilities)), key=lambda i: -self.probabilities[i])
        return [(i, self.probabilities[i]) for i in order[:k]]


def _quant(detail) -> Tuple[float, int]:
    scale, zero_point = detail["quantization"]
    return float(scale), int(zero_point)


def _check_io(where: Path, inputs, outputs) -> Tuple[dict, dict, Tuple[int, ...]]:
    """The one input and one output, checked to be a 28x28 image and 10 classes."""
    if len(inputs) != 1 or len(outputs) != 1:
        raise RuntimeModelError(
            f"{where}: expected one input and one output, got {len(inputs)} and {len(outputs)}"
        )
    inp, out = inputs[0], outputs[0]
    in_shape = [int(v) for v in inp["shape"]]
    if in_shape not in _ACCEPTED_INPUT_SHAPES:
        raise RuntimeModelError(
            f"{where}: input shape {in_shape} is not a 28x28 image (expected [1, 28, 28])"
        )
    if [int(v) for v in out["shape"]] != [1, 10]:
        raise RuntimeModelError(f"{where}: output shape {list(out['shape'])} is not 10 classes")
    return inp, out, tuple(in_shape[1:])


def _quantize(values01: np.ndarray, dtype: np.dtype, quantization: Tuple[float, int]) -> np.ndarray:
    """Values in model units -> the input dtype (rounded and clipped for integers)."""
    if dtype in (np.dtype(np.int8), np.dtype(np.uint8)):
        scale, zero_point = quantization
        info = np.iinfo(dtype)
        q = np.round(values01 / scale) + zero_point
        return np.clip(q, info.min, info.max).astype(dtype)
    return np.asarray(values01, dtype=dtype)


def _output_lut(dtype: np.dtype, quantization: Tuple[float, int]) -> Optional[np.ndarray]:
    """Raw output byte (as uint8) -> probability, or None for float output."""
    if dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
        return None
    scale, zero_point = quantization
    info = np.iinfo(dtype)
    raw = np.arange(info.min, info.max + 1, dtype=np.int64)
    lut = ((raw - zero_point) * scale).astype(np.float32)
    if dtype == np.dtype(np.int8):
        lut = np.roll(lut, -128)  # position b holds value int8(b)
    return lut


def as_pixel_batch(images) -> np.ndarray:
    """Accepted image arrays as ``(N, 28, 28)``; integer pixels become uint8.

    Args:
        images: uint8 pixels or floats in [0, 1], shaped (28, 28), (784,),
            (N, 28, 28), (N, 784) or (N, 28, 28, 1).

    Returns:
        ``(N, 28, 28)``: uint8 pixels, or the floats as given.

    Raises:
        InputError: wrong shape, or integers outside 0..255.
    """
    arr = np.asarray(images)
    if arr.shape in ((28, 28), (784,)):
        arr = arr.reshape(1, 28, 28)
    elif (arr.ndim == 2 and arr.shape[1] == 784) or (arr.ndim == 4 and arr.shape[1:] == (28, 28, 1)):
        arr = arr.reshape(-1, 28, 28)
    elif not (arr.ndim == 3 and arr.shape[1:] == (28, 28)):
        raise InputError(f"expected 28x28 image(s), got an array of shape {arr.shape}")
    if arr.dtype.kind in "iu" and arr.dtype != np.uint8:
        # Integer pixels in another dtype (int64 from a list, uint16 ...):
        # unambiguous if they fit 0..255.
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise InputError(f"integer pixels must be in 0..255 (got {arr.min()}..{arr.max()})")
        arr = arr.astype(np.uint8)
    return arr


def _checked_floats(arr: np.ndarray) -> np.ndarray:
    values = arr.astype(np.float32)
    if values.size and (not np.isfinite(values).all() or values.min() < -1e-6 or values.max() > 1.0 + 1e-6):
        low, high = np.nanmin(values), np.nanmax(values)
        raise InputError(
            f"{arr.dtype} input must hold values in [0, 1] (got {low:g}..{high:g});"
            " pass uint8 pixels 0..255 or divide by 255"
        )
    return values


class Predictor:
    """Runs a 28x28 -> 10 TFLite classifier on pixel arrays.

    Thread-safe: calls on one Predictor are serialised by a lock (a TFLite
    interpreter must not be used by two threads at once).

    Args:
        model_path: the ``.tflite`` file.
        num_threads: interpreter threads (None: the interpreter's default).
        runtime: which interpreter to use (see :func:`backends.load_interpreter_class`).
        xnnpack: False disables the default XNNPACK delegate.
        untrusted: a file from the user: its first load (per SHA-256) runs
            in a child process, so an interpreter crash is an error here.

    Raises:
        RuntimeModelError: missing/corrupt/invalid model, wrong shapes, an
            interpreter crash on it, or a sidecar that is malformed or
            belongs to a different file.
    """

    def __init__(
        self,
        model_path: Union[str, os.PathLike],
        num_threads: Optional[int] = None,
        runtime: str = "auto",
        xnnpack: bool = True,
        untrusted: bool = False,
    ):
        self.model_path = Path(model_path)
        self.content, self.facts = modelfile.read_and_validate(self.model_path)
        self.interpreter_class, self.runtime, self.runtime_version = backends.load_interpreter_class(runtime)
        if untrusted:
            guard.probe(
                self.model_path, hashlib.sha256(self.content).hexdigest(), self.runtime, self.runtime_version
            )
        self.num_threads = num_threads
        self.xnnpack = xnnpack
        self._single = self.new_interpreter()
        inp, out, self._in_shape = _check_io(
            self.model_path, self._single.get_input_details(), self._single.get_output_details()
        )
        self.input_dtype = np.dtype(inp["dtype"])
        self.output_dtype = np.dtype(out["dtype"])
        signature = inp.get("shape_signature")
        self.resizable = signature is not None and len(signature) > 0 and int(signature[0]) == -1
        self.input_quantization, self.output_quantization = _quant(inp), _quant(out)
        self.sidecar = sidecar.load_sidecar(
            self.model_path, self.content, self.input_quantization, self.output_quantization
        )
        self.metadata = self.sidecar.document if self.sidecar else None
        self.labels = list(self.sidecar.labels) if self.sidecar else [str(i) for i in range(10)]
        self._in_index, self._out_index = inp["index"], out["index"]
        self._lock = threading.Lock()
        self._batch = None  # created on the first batch call
        self._setup_tables()
        self._set, self._invoke, self._get = fastpath.interpreter_calls(self._single)
        self.predict = fastpath.build_fast_predict(
            self._single,
            self._in_index,
            self._out_index,
            self._pixel_lut,
            self._out_table,
            self._out_order,
            _PIXEL_SCALE,
            self._lock,
            Prediction,
            self.predict,
        )

    def _setup_tables(self) -> None:
        """Pixel -> input and output byte -> probability tables."""
        self._pixel_lut = self._build_pixel_lut()
        self._out_lut = _output_lut(self.output_dtype, self.output_quantization)
        # A Python list for the single-image path, where numpy's per-call
        # overhead would cost more than the 10-value work itself.
        self._out_table = None if self._out_lut is None else self._out_lut.tolist()
        self._out_order = (
            bytes(np.arange(256, dtype=np.uint8) ^ 128) if self.output_dtype == np.dtype(np.int8) else None
        )
        table = self._pixel_lut.view(np.uint8) if self._pixel_lut.dtype.itemsize == 1 else None
        self._pixel_identity = table is not None and np.array_equal(table, np.arange(256))
        self._pixel_xor128 = table is not None and np.array_equal(table, np.arange(256) ^ 128)

    def new_interpreter(self):
        """A fresh allocated interpreter on this model, with this predictor's settings."""
        return backends.build_interpreter(
            self.interpreter_class,
            self.runtime,
            self.content,
            str(self.model_path),
            self.num_threads,
            self.xnnpack,
        )

    def _build_pixel_lut(self) -> np.ndarray:
        """Maps each uint8 pixel straight to the model's input value."""
        if self.input_dtype.kind == "f":
            # float32 arithmetic, exactly what the single-image path computes
            # with one np.multiply, so both paths give bit-identical inputs.
            return (np.arange(256, dtype=np.float32) * np.float32(_PIXEL_SCALE)).astype(self.input_dtype)
        values = np.arange(256, dtype=np.float64) * _PIXEL_SCALE
        return _quantize(values, self.input_dtype, self.input_quantization)

    # -- input handling -------------------------------------------------------

    def prepare(self, images) -> np.ndarray:
        """Turns pixel arrays into the model's input tensor values.

        Args:
            images: uint8 pixels (0..255) or floats in [0, 1], shaped (28, 28),
                (784,), (N, 28, 28), (N, 784) or (N, 28, 28, 1).

        Returns:
            ``(N, 28, 28)`` (or the model's own per-image shape) in the model's
            input dtype, quantised if the model is integer.

        Raises:
            InputError: wrong shape, dtype or value range.
        """
        arr = as_pixel_batch(images)
        if arr.dtype == np.uint8:
            out = self._map_pixels(arr)
        elif arr.dtype.kind in "fb":
            out = _quantize(_checked_floats(arr), self.input_dtype, self.input_quantization)
        else:
            raise InputError(f"unsupported input dtype {arr.dtype}")
        return out.reshape((-1,) + self._in_shape)

    def _map_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels -> input values, by the cheapest exact route.

        Identical to ``self._pixel_lut[pixels]``; on a 10,000-image batch the
        fancy-indexed lookup costs ~20 ms, the xor ~1.5 ms.
        """
        if self._pixel_identity:
            return pixels.view(self.input_dtype)
        if self._pixel_xor128:
            return np.bitwise_xor(pixels, 128).view(np.int8)
        return self._pixel_lut.take(pixels)

    def _dequantize(self, raw: np.ndarray) -> np.ndarray:
        if self._out_lut is not None:
            return self._out_lut[raw.view(np.uint8)]
        return raw.astype(np.float32, copy=False)

    # -- inference ------------------------------------------------------------

    def predict(self, image) -> Prediction:
        """Predicts one image.

        (Instances replace this with the closure from
        :func:`fastpath.build_fast_predict`, which takes a shortcut for 28x28
        uint8 arrays and comes back here for everything else.)

        Args:
            image: one image as accepted by :meth:`prepare`.

        Returns:
            The :class:`Prediction`.

        Raises:
            InputError: bad array, or more than one image.
        """
        x = self.prepare(image)
        if x.shape[0] != 1:
            raise InputError(f"predict takes one image, got {x.shape[0]}; use predict_batch")
        with self._lock:
            self._set(self._in_index, x)
            self._invoke()
            out = self._get(self._out_index)
        if self._out_table is None:
            probs = tuple(out.tolist()[0])
            best = max(probs)
            return Prediction(probs.index(best), best, probs)
        table, raw = self._out_table, out.tobytes()
        ordered = raw if self._out_order is None else raw.translate(self._out_order)
        label = ordered.index(max(ordered))
        return Prediction(label, table[raw[label]], tuple(map(table.__getitem__, raw)))

    def default_batch_size(self) -> int:
        """Images per batch call: as many as fit in :data:`BATCH_MEMORY` of tensors (<= 10,000)."""
        per_image = sum(t.nbytes for k, t in enumerate(self.facts.tensors) if not self.facts.constant(k))
        return int(max(1, min(10_000, BATCH_MEMORY // max(per_image, 1))))

    def probabilities(self, images, batch_size: Optional[int] = None) -> np.ndarray:
        """Class probabilities for many images, identical to one-by-one calls.

        Args:
            images: images as accepted by :meth:`prepare`.
            batch_size: images per interpreter call (a positive integer;
                default: :meth:`default_batch_size`).

        Returns:
            ``(N, 10)`` float32 probabilities.

        Raises:
            InputError: bad images or batch size.
        """
        if batch_size is None:
            batch_size = self.default_batch_size()
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer (got {batch_size!r})")
        x = self.prepare(images)
        out = np.empty((len(x), 10), dtype=np.float32)
        with self._lock:
            if not self.resizable:
                self._run_one_by_one(x, out)
            else:
                self._run_batches(x, out, int(batch_size))
        return out

    def _run_one_by_one(self, x: np.ndarray, out: np.ndarray) -> None:
        for i in range(len(x)):
            self._set(self._in_index, x[i : i + 1])
            self._invoke()
            out[i] = self._dequantize(self._get(self._out_index)[0])

    def _run_batches(self, x: np.ndarray, out: np.ndarray, batch_size: int) -> None:
        if self._batch is None:
            self._batch = self.new_interpreter()
            self._batch_size = 1
        for start in range(0, len(x), batch_size):
            chunk = x[start : start + batch_size]
            if len(chunk) != self._batch_size:
                self._batch.resize_tensor_input(self._in_index, (len(chunk),) + self._in_shape)
                self._batch.allocate_tensors()
                self._batch_size = len(chunk)
            self._batch.set_tensor(self._in_index, chunk)
            self._batch.invoke()
            out[start : start + len(chunk)] = self._dequantize(self._batch.get_tensor(self._out_index))

    def predict_batch(self, images, batch_size: Optional[int] = None) -> List[Prediction]:
        """Predicts many images; each result equals :meth:`predict` on that image."""
        probs = self.probabilities(images, batch_size)
        labels = probs.argmax(axis=1).tolist()
        return [Prediction(k, p[k], tuple(p)) for k, p in zip(labels, probs.tolist())]

    def tensor_dtypes(self) -> set:
        """The names of the dtypes of every tensor in the model (for format detection)."""
        return {np.dtype(d["dtype"]).name for d in self._single.get_tensor_details()}

    def describe(self) -> dict:
        """JSON-ready facts about the loaded model and interpreter."""
        return {
            "model": str(self.model_path),
            "runtime": self.runtime,
            "runtime_version": self.runtime_version,
            "num_threads": self.num_threads,
            "xnnpack": self.xnnpack,
            "input_dtype": self.input_dtype.name,
            "output_dtype": self.output_dtype.name,
            "input_quantization": {
                "scale": self.input_quantization[0],
                "zero_point": self.input_quantization[1],
            },
            "output_quantization": {
                "scale": self.output_quantization[0],
                "zero_point": self.output_quantization[1],
            },
            "has_metadata": self.sidecar is not None,
        }

"""The on-device predictor: numpy, Pillow and one TFLite interpreter, nothing else.

:class:`Predictor` loads a ``.tflite`` model and its sidecar metadata
(``<stem>.json``, written by ``mnist-edge export``), and does the input
quantisation and output dequantisation itself, from the tensors' own
parameters. Callers pass pixels, never quantised values:

* ``uint8`` arrays are pixels in 0..255 (MNIST form: white digit on black);
* float arrays must already be in [0, 1]; a float array outside that range
  (the classic "forgot to divide by 255") is refused, not silently mis-scaled.

Interpreters, in order of preference: ``ai_edge_litert`` (LiteRT), then
``tflite_runtime``, then ``tensorflow.lite`` (development only; heavy).

This module must never import TensorFlow unless the last fallback is needed;
``tests/test_imports.py`` checks that in a fresh process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

RUNTIMES = ("auto", "litert", "tflite-runtime", "tensorflow")
TFLITE_MAGIC = b"TFL3"
METADATA_FORMAT = "mnist-edge/tflite-metadata/1"
DEFAULT_NORMALIZATION = {"scale": 1.0 / 255.0, "offset": 0.0}


class RuntimeModelError(Exception):
    """A ``.tflite`` file is missing, corrupt, or not a 28x28 -> 10 model."""


class InputError(ValueError):
    """An input array has the wrong shape, dtype or value range."""


@contextlib.contextmanager
def quiet_native_stderr():
    """Silences C++ logging written straight to file descriptor 2.

    TFLite and LiteRT print lines such as "INFO: Created TensorFlow Lite
    XNNPACK delegate for CPU." from C++, which Python cannot intercept. The
    descriptor is pointed at /dev/null for the duration and restored after.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def load_interpreter_class(runtime: str = "auto"):
    """Finds a TFLite interpreter class.

    Args:
        runtime: ``"auto"`` (LiteRT, then tflite-runtime, then TensorFlow),
            or one of ``"litert"``, ``"tflite-runtime"``, ``"tensorflow"``.

    Returns:
        ``(Interpreter class, runtime name, version string)``.

    Raises:
        RuntimeModelError: when the requested (or any) interpreter is missing.
    """
    if runtime not in RUNTIMES:
        raise RuntimeModelError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    order = ["litert", "tflite-runtime", "tensorflow"] if runtime == "auto" else [runtime]
    failures = []
    for name in order:
        try:
            if name == "litert":
                from ai_edge_litert.interpreter import Interpreter

                version = _dist_version("ai-edge-litert")
            elif name == "tflite-runtime":
                from tflite_runtime.interpreter import Interpreter

                version = _dist_version("tflite-runtime")
            else:
                os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
                import tensorflow as tf

                Interpreter, version = tf.lite.Interpreter, tf.__version__
            return Interpreter, name, version
        except ImportError as exc:
            failures.append(f"{name}: {exc}")
    raise RuntimeModelError(
        "no TFLite interpreter found (" + "; ".join(failures) + "); "
        "install one with: pip install 'mnist-edge[runtime]'"
    )


def _dist_version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "unknown"


def _xnnpack_off_kwargs(runtime_name: str) -> dict:
    """Interpreter kwargs that disable the default XNNPACK delegate."""
    if runtime_name == "litert":
        from ai_edge_litert.interpreter import OpResolverType
    elif runtime_name == "tflite-runtime":
        from tflite_runtime.interpreter import OpResolverType
    else:
        import tensorflow as tf

        OpResolverType = tf.lite.experimental.OpResolverType
    return {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}


def read_model_bytes(path: Union[str, os.PathLike]) -> bytes:
    """Reads a ``.tflite`` file and checks it is a FlatBuffer TFLite model.

    Raises:
        RuntimeModelError: missing, unreadable, empty or not TFLite.
    """
    path = Path(path)
    if not path.is_file():
        raise RuntimeModelError(f"{path}: model file not found")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise RuntimeModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(content) < 8 or content[4:8] != TFLITE_MAGIC:
        raise RuntimeModelError(f"{path}: not a TFLite model (no TFL3 identifier)")
    return content


def metadata_path(model_path: Union[str, os.PathLike]) -> Path:
    """The sidecar metadata file of a model: same folder, same stem, ``.json``."""
    return Path(model_path).with_suffix(".json")


def _quant(detail) -> Tuple[float, int]:
    scale, zero_point = detail["quantization"]
    return float(scale), int(zero_point)


@dataclasses.dataclass
class Prediction:
    """One image's result.

    Attributes:
        label: the predicted class index.
        confidence: its probability.
        probabilities: the 10 class probabilities (float32).
    """

    label: int
    confidence: float
    probabilities: np.ndarray

    def top_k(self, k: int) -> List[Tuple[int, float]]:
        """The ``k`` most likely classes as ``(label, probability)``, best first."""
        order = np.argsort(-self.probabilities, kind="stable")[:k]
        return [(int(i), float(self.probabilities[i])) for i in order]


class Predictor:
    """Runs a 28x28 -> 10 TFLite classifier on pixel arrays.

    Thread-safe: calls on one Predictor are serialised by a lock (a TFLite
    interpreter must not be used by two threads at once).

    Args:
        model_path: the ``.tflite`` file.
        num_threads: interpreter threads (None: the interpreter's default).
        runtime: which interpreter to use (see :func:`load_interpreter_class`).
        xnnpack: False disables the default XNNPACK delegate.

    Raises:
        RuntimeModelError: missing/corrupt model, wrong shapes, or sidecar
            metadata that belongs to a different file.
    """

    def __init__(self, model_path: Union[str, os.PathLike], num_threads: Optional[int] = None,
                 runtime: str = "auto", xnnpack: bool = True):
        self.model_path = Path(model_path)
        self._content = read_model_bytes(self.model_path)
        self.interpreter_class, self.runtime, self.runtime_version = load_interpreter_class(runtime)
        self.num_threads = num_threads
        self.xnnpack = xnnpack
        self.metadata = self._read_metadata()
        self._single = self._make_interpreter()
        inp = self._single.get_input_details()
        out = self._single.get_output_details()
        if len(inp) != 1 or len(out) != 1:
            raise RuntimeModelError(
                f"{self.model_path}: expected one input and one output, got {len(inp)} and {len(out)}")
        self._in, self._out = inp[0], out[0]
        in_shape = [int(v) for v in self._in["shape"]]
        if in_shape not in ([1, 28, 28], [1, 784], [1, 28, 28, 1]):
            raise RuntimeModelError(
                f"{self.model_path}: input shape {in_shape} is not a 28x28 image (expected [1, 28, 28])")
        if [int(v) for v in self._out["shape"]] != [1, 10]:
            raise RuntimeModelError(
                f"{self.model_path}: output shape {list(self._out['shape'])} is not 10 classes")
        self.input_dtype = np.dtype(self._in["dtype"])
        self.output_dtype = np.dtype(self._out["dtype"])
        self._in_shape = tuple(in_shape[1:])
        signature = self._in.get("shape_signature")
        self.resizable = signature is not None and len(signature) and int(signature[0]) == -1
        self.input_quantization = _quant(self._in)
        self.output_quantization = _quant(self._out)
        norm = (self.metadata or {}).get("input", {}).get("normalization", DEFAULT_NORMALIZATION)
        self.normalization = (float(norm["scale"]), float(norm.get("offset", 0.0)))
        self.labels = [str(v) for v in (self.metadata or {}).get("labels", range(10))]
        self._pixel_lut = self._build_pixel_lut()
        self._out_lut = self._build_output_lut()
        self._lock = threading.Lock()
        self._batch = None  # created on the first batch call
        # Bound methods: the per-image path is a handful of calls.
        self._set = self._single.set_tensor
        self._invoke = self._single.invoke
        self._get = self._single.get_tensor
        self._in_index = self._in["index"]
        self._out_index = self._out["index"]

    # -- construction helpers -------------------------------------------------

    def _make_interpreter(self):
        kwargs = {"model_content": self._content}
        if self.num_threads is not None:
            kwargs["num_threads"] = int(self.num_threads)
        if not self.xnnpack:
            kwargs.update(_xnnpack_off_kwargs(self.runtime))
        try:
            with quiet_native_stderr():
                interpreter = self.interpreter_class(**kwargs)
                interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RuntimeModelError(f"{self.model_path}: cannot load TFLite model ({first[:200]})") from None
        return interpreter

    def _read_metadata(self) -> Optional[dict]:
        path = metadata_path(self.model_path)
        if not path.is_file():
            return None
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuntimeModelError(f"{path}: unreadable metadata ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != METADATA_FORMAT:
            return None  # some other JSON that happens to share the stem
        expected = meta.get("tflite_sha256")
        if expected and expected != hashlib.sha256(self._content).hexdigest():
            raise RuntimeModelError(
                f"{path}: metadata belongs to a different model file (sha256 mismatch); "
                "re-export or remove the stale .json")
        return meta

    def _build_pixel_lut(self) -> np.ndarray:
        """Maps each uint8 pixel straight to the model's input value."""
        scale, offset = self.normalization
        values = np.arange(256, dtype=np.float64) * scale + offset
        return self._quantize_input(values).astype(self.input_dtype)

    def _build_output_lut(self) -> Optional[np.ndarray]:
        if self.output_dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
            return None
        scale, zero_point = self.output_quantization
        info = np.iinfo(self.output_dtype)
        raw = np.arange(info.min, info.max + 1, dtype=np.int64)
        # Indexed by the raw byte value (uint8 view), so int8 is shifted.
        lut = ((raw - zero_point) * scale).astype(np.float32)
        if self.output_dtype == np.dtype(np.int8):
            lut = np.roll(lut, -128)  # position b holds value int8(b)
        return lut

    def _quantize_input(self, values01: np.ndarray) -> np.ndarray:
        if self.input_dtype in (np.dtype(np.int8), np.dtype(np.uint8)):
            scale, zero_point = self.input_quantization
            info = np.iinfo(self.input_dtype)
            q = np.round(values01 / scale) + zero_point
            return np.clip(q, info.min, info.max).astype(self.input_dtype)
        return np.asarray(values01, dtype=self.input_dtype)

    # -- input handling -------------------------------------------------------

    def prepare(self, images) -> np.ndarray:
        """Turns pixel arrays into the model's input tensor values.

        Args:
            images: uint8 pixels (0..255) or floats in [0, 1], shaped (28, 28),
                (784,), (N, 28, 28) or (N, 784).

        Returns:
            ``(N, 28, 28)`` (or the model's own per-image shape) in the model's
            input dtype, quantised if the model is integer.

        Raises:
            InputError: wrong shape, dtype or value range.
        """
        arr = np.asarray(images)
        if arr.shape in ((28, 28), (784,)):
            arr = arr.reshape(1, 28, 28)
        elif arr.ndim == 3 and arr.shape[1:] == (28, 28):
            pass
        elif arr.ndim == 2 and arr.shape[1] == 784:
            arr = arr.reshape(-1, 28, 28)
        elif arr.ndim == 4 and arr.shape[1:] == (28, 28, 1):
            arr = arr.reshape(-1, 28, 28)
        else:
            raise InputError(f"expected 28x28 image(s), got an array of shape {arr.shape}")
        if arr.dtype.kind in "iu" and arr.dtype != np.uint8:
            # Integer pixels in another dtype (int64 from a list, uint16 ...):
            # unambiguous if they fit 0..255.
            if arr.size and (arr.min() < 0 or arr.max() > 255):
                raise InputError(f"integer pixels must be in 0..255 (got {arr.min()}..{arr.max()})")
            arr = arr.astype(np.uint8)
        if arr.dtype == np.uint8:
            out = self._pixel_lut[arr]
        elif arr.dtype.kind in "fb":
            values = arr.astype(np.float32)
            if values.size and (not np.isfinite(values).all()
                                or values.min() < -1e-6 or values.max() > 1.0 + 1e-6):
                raise InputError(
                    f"{arr.dtype} input must hold values in [0, 1] (got {values.min():g}..{values.max():g});"
                    " pass uint8 pixels 0..255 or divide by 255")
            scale, offset = self.normalization
            # Normalisation is x * scale + offset on 0..255 pixels; undo the
            # 1/255 the caller already applied.
            out = self._quantize_input(values * 255.0 * scale + offset)
        else:
            raise InputError(f"unsupported input dtype {arr.dtype}")
        return out.reshape((-1,) + self._in_shape)

    def _dequantize(self, raw: np.ndarray) -> np.ndarray:
        if self._out_lut is not None:
            return self._out_lut[raw.view(np.uint8)]
        return raw.astype(np.float32, copy=False)

    # -- inference ------------------------------------------------------------

    def predict(self, image) -> Prediction:
        """Predicts one image.

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
            raw = self._get(self._out_index)
        probs = self._dequantize(raw[0])
        label = int(probs.argmax())
        return Prediction(label, float(probs[label]), probs)

    def probabilities(self, images, batch_size: int = 10000) -> np.ndarray:
        """Class probabilities for many images, identical to one-by-one calls.

        Args:
            images: images as accepted by :meth:`prepare`.
            batch_size: images per interpreter call.

        Returns:
            ``(N, 10)`` float32 probabilities.
        """
        x = self.prepare(images)
        out = np.empty((len(x), 10), dtype=np.float32)
        with self._lock:
            if not self.resizable:
                for i in range(len(x)):
                    self._set(self._in_index, x[i:i + 1])
                    self._invoke()
                    out[i] = self._dequantize(self._get(self._out_index)[0])
                return out
            if self._batch is None:
                self._batch = self._make_interpreter()
                self._batch_size = 1
            for start in range(0, len(x), batch_size):
                chunk = x[start:start + batch_size]
                if len(chunk) != self._batch_size:
                    self._batch.resize_tensor_input(self._in_index, (len(chunk),) + self._in_shape)
                    self._batch.allocate_tensors()
                    self._batch_size = len(chunk)
                self._batch.set_tensor(self._in_index, chunk)
                self._batch.invoke()
                out[start:start + len(chunk)] = self._dequantize(self._batch.get_tensor(self._out_index))
        return out

    def predict_batch(self, images, batch_size: int = 10000) -> List[Prediction]:
        """Predicts many images; each result equals :meth:`predict` on that image."""
        probs = self.probabilities(images, batch_size)
        labels = probs.argmax(axis=1)
        return [Prediction(int(l), float(p[l]), p) for l, p in zip(labels, probs)]

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
            "input_quantization": {"scale": self.input_quantization[0],
                                   "zero_point": self.input_quantization[1]},
            "output_quantization": {"scale": self.output_quantization[0],
                                    "zero_point": self.output_quantization[1]},
            "has_metadata": self.metadata is not None,
        }

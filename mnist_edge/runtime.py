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
                import ai_edge_litert
                from ai_edge_litert.interpreter import Interpreter

                version = _dist_version("ai-edge-litert", ai_edge_litert.__file__)
            elif name == "tflite-runtime":
                import tflite_runtime
                from tflite_runtime.interpreter import Interpreter

                version = _dist_version("tflite-runtime", tflite_runtime.__file__)
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


def _dist_version(dist: str, module_file: Optional[str] = None) -> str:
    """A distribution's version, read from its dist-info folder name.

    ``importlib.metadata`` costs ~25 ms at start-up (a quarter of the
    predictor's cold-start floor); the folder beside the module says the same.
    """
    if module_file:
        site = Path(module_file).resolve().parent.parent
        prefix = dist.replace("-", "_") + "-"
        for entry in os.listdir(site):
            if entry.startswith(prefix) and entry.endswith(".dist-info"):
                return entry[len(prefix):-len(".dist-info")]
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
    problem = _flatbuffer_problem(content)
    if problem:
        raise RuntimeModelError(f"{path}: corrupt or truncated TFLite model ({problem})")
    return content


def _flatbuffer_problem(buf: bytes) -> Optional[str]:
    """Checks the Model table's vectors and weight buffers lie inside the file.

    LiteRT verifies the FlatBuffer itself, but tflite-runtime 2.14 crashes
    (segfault) on a truncated file; this catches truncation and bad offsets
    for every interpreter before one is built.
    """
    import struct

    n = len(buf)

    def u32(at):
        if at < 0 or at + 4 > n:
            raise IndexError(at)
        return struct.unpack_from("<I", buf, at)[0]

    def table(at):
        """(position, field offsets) of the table at ``at``."""
        vt = at - struct.unpack_from("<i", buf, at)[0]
        if vt < 0 or vt + 4 > n:
            raise IndexError(vt)
        vt_size, obj_size = struct.unpack_from("<HH", buf, vt)
        if vt + vt_size > n or at + obj_size > n or vt_size < 4:
            raise IndexError(vt)
        fields = struct.unpack_from(f"<{(vt_size - 4) // 2}H", buf, vt + 4)
        return at, fields

    def vector(at, fields, index):
        """(start, length) of vector field ``index``, or None if absent."""
        if index >= len(fields) or fields[index] == 0:
            return None
        pos = at + fields[index]
        start = pos + u32(pos)
        length = u32(start)
        return start + 4, length

    try:
        root, fields = table(u32(0))
        for index in (1, 2, 4):  # operator_codes, subgraphs, buffers
            vec = vector(root, fields, index)
            if vec and vec[0] + 4 * vec[1] > n:
                return "a vector runs past the end of the file"
        buffers = vector(root, fields, 4)
        for i in range(buffers[1] if buffers else 0):
            slot = buffers[0] + 4 * i
            at, bfields = table(slot + u32(slot))
            data = vector(at, bfields, 0)
            if data and data[0] + data[1] > n:
                return f"weight buffer {i} runs past the end of the file"
            if len(bfields) > 2 and bfields[1] and bfields[2]:  # offset/size of large models
                offset = struct.unpack_from("<Q", buf, at + bfields[1])[0]
                size = struct.unpack_from("<Q", buf, at + bfields[2])[0]
                if offset + size > n:
                    return f"weight buffer {i} lies past the end of the file"
    except (IndexError, struct.error):
        return "an offset points outside the file"
    return None


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


_U8 = np.dtype(np.uint8)
_IMAGE_SHAPE = (28, 28)


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
        # A Python-side table for the single-image path, where numpy's per-call
        # overhead would cost more than the 10-value work itself; it is indexed
        # by the output's raw bytes, like the uint8-view LUT it copies.
        self._out_table = None if self._out_lut is None else self._out_lut.tolist()
        self._out_order = (bytes(np.arange(256, dtype=np.uint8) ^ 128)
                           if self.output_dtype == np.dtype(np.int8) else None)
        self._single_shape = (1,) + self._in_shape
        self._lock = threading.Lock()
        self._batch = None  # created on the first batch call
        self._in_index = self._in["index"]
        self._out_index = self._out["index"]
        self._setup_single_path()
        self.predict = self._fast_predict()

    def _setup_single_path(self) -> None:
        """Prepares the per-image fast path.

        A 28x28 uint8 image goes straight into the interpreter's own input
        buffer as bytes, translated pixel -> quantised value by a 256-byte
        table (for int8 at scale 1/255, zero point -128 that is the pixel with
        its top bit flipped), and the output is read from its buffer as bytes. This needs persistent numpy views of the two
        tensors, which the public ``invoke()`` refuses to run beside (it
        guards against views outliving a reallocation). The single-image
        interpreter is never resized or reallocated after construction, so
        the views stay valid and its C++ ``Invoke`` is called directly.
        Interpreters without that wrapper use set_tensor/invoke/get_tensor.
        """
        lut = self._pixel_lut
        if lut.dtype.itemsize == 1:
            # Pixel -> input byte, applied with bytes.translate (a third of a
            # numpy ufunc's call cost); None when the pixel is the value
            # (uint8 input at scale 1/255, zero point 0).
            table = lut.view(np.uint8)
            self._byte_table = None if np.array_equal(table, np.arange(256)) else table.tobytes()
            self._pixel_xor128 = bool(np.array_equal(table, np.arange(256) ^ 128))
        else:
            self._byte_table = False  # float input: one np.multiply into the buffer
            self._pixel_xor128 = False
        self._float_scale = np.float32(self.normalization[0])
        self._float_offset = np.float32(self.normalization[1])
        wrapper = getattr(self._single, "_interpreter", None)
        self._direct = (self.input_dtype in (_U8, np.dtype(np.int8), np.dtype(np.float32))
                        and self._in_shape == _IMAGE_SHAPE
                        and all(hasattr(wrapper, n) for n in ("SetTensor", "Invoke", "GetTensor"))
                        and hasattr(self._single, "tensor"))
        if self._direct:
            self._invoke = wrapper.Invoke
            self._set, self._get = wrapper.SetTensor, wrapper.GetTensor
            in_view = self._single.tensor(self._in_index)()[0]
            if self._byte_table is False:
                self._in_float = in_view
            else:
                self._in_bytes = memoryview(in_view.view(np.uint8)).cast("B")
            self._out_view = self._single.tensor(self._out_index)()[0]
        else:
            self._set = self._single.set_tensor
            self._invoke = self._single.invoke
            self._get = lambda index, _subgraph: self._single.get_tensor(index)

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
        if self.input_dtype.kind == "f":
            # float32 arithmetic, exactly what the single-image path computes
            # with one np.multiply, so both paths give bit-identical inputs.
            return (np.arange(256, dtype=np.float32) * np.float32(scale)
                    + np.float32(offset)).astype(self.input_dtype)
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
            out = self._map_pixels(arr)
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

    def _map_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels -> input values, by the cheapest exact route.

        Identical to ``self._pixel_lut[pixels]``; on a 10,000-image batch the
        fancy-indexed lookup costs ~20 ms, the xor ~1.5 ms.
        """
        if self._byte_table is None:  # the pixel is the value
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

        (Instances replace this with a closure built by :meth:`_fast_predict`
        that takes a shortcut for 28x28 uint8 arrays and comes back here for
        everything else.)

        Args:
            image: one image as accepted by :meth:`prepare`.

        Returns:
            The :class:`Prediction`.

        Raises:
            InputError: bad array, or more than one image.
        """
        table = self._out_table
        x = self.prepare(image)
        if x.shape[0] != 1:
            raise InputError(f"predict takes one image, got {x.shape[0]}; use predict_batch")
        with self._lock:
            self._set(self._in_index, x)
            self._invoke()
            out = self._get(self._out_index, 0)
        if table is None:
            probs = tuple(out.tolist()[0])
            best = max(probs)
            return Prediction(probs.index(best), best, probs)
        raw = out.tobytes()
        ordered = raw if self._out_order is None else raw.translate(self._out_order)
        label = ordered.index(max(ordered))
        return Prediction(label, table[raw[label]], tuple(map(table.__getitem__, raw)))

    def _fast_predict(self):
        """Builds the per-instance ``predict`` for 28x28 uint8 arrays.

        numpy's per-call cost is of the order of invoking this whole model,
        so the common case is a closure over everything it needs (cell
        lookups instead of attribute lookups) doing: pixels -> input bytes
        by ``bytes.translate`` straight into the interpreter's input buffer,
        invoke, output bytes -> argmax on order-preserving bytes and the
        dequantisation table. Any other input goes to :meth:`predict`.
        Results are identical to :meth:`predict` and :meth:`predict_batch`.
        """
        general = self.predict
        if not self._direct:
            return general
        ndarray, u8, shape, make = np.ndarray, _U8, _IMAGE_SHAPE, Prediction
        lock, invoke, out_view = self._lock, self._invoke, self._out_view
        byte_table, order = self._byte_table, self._out_order
        table = self._out_table
        lookup = table.__getitem__ if table is not None else None
        in_bytes = getattr(self, "_in_bytes", None)
        in_float = getattr(self, "_in_float", None)
        scale, offset = self._float_scale, self._float_offset
        multiply, add = np.multiply, np.add

        def predict(image):
            if image.__class__ is not ndarray or image.dtype is not u8 or image.shape != shape:
                return general(image)
            if byte_table is False:  # float input
                with lock:
                    multiply(image, scale, out=in_float)
                    if offset:
                        add(in_float, offset, out=in_float)
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
            ordered = raw if order is None else raw.translate(order)
            label = ordered.index(max(ordered))
            return make(label, lookup(raw[label]), tuple(map(lookup, raw)))

        predict.__doc__ = Predictor.predict.__doc__
        return predict

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
                    out[i] = self._dequantize(self._get(self._out_index, 0)[0])
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
        labels = probs.argmax(axis=1).tolist()
        return [Prediction(l, p[l], tuple(p)) for l, p in zip(labels, probs.tolist())]

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


# ----------------------------------------------------------------------------
# Images as users have them -> MNIST form (white digit on black, 28x28)
# ----------------------------------------------------------------------------

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".npy")
MAX_PIXELS = 100_000_000  # a 100-megapixel photo is fine; a decompression bomb is not
WORK_SIDE = 384  # longest side the cleaning runs at: fast, and strokes stay several px wide
MIN_STROKE_CONTRAST = 0.25  # ink must differ from paper by this fraction to count


class ImageError(Exception):
    """An input file cannot be read as an image or array of a digit."""


class NoDigitError(ImageError):
    """The image is blank or holds nothing that looks like a digit."""


def _open_pil(path: Path):
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageError(f"cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise ImageError("empty file")
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if "decompression bomb" in str(exc).lower() or "exceeds limit" in str(exc).lower():
            raise ImageError("image too large (over the decompression-bomb limit)") from None
        raise ImageError("not an image Pillow can read (unknown format or corrupt header)") from None
    except OSError as exc:
        raise ImageError(f"cannot open image ({exc})") from None
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"image too large ({width}x{height}; at most {MAX_PIXELS // 1_000_000} megapixels)")
    if width == 0 or height == 0:
        raise ImageError("image has no pixels")
    try:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)  # GIF/WebP animations: the first frame
        if img.format == "JPEG" and max(img.size) > 4 * WORK_SIDE:
            img.draft("RGB" if img.mode != "L" else "L", (2 * WORK_SIDE, 2 * WORK_SIDE))
        img.load()
        img = ImageOps.exif_transpose(img)  # phone photos: honour the EXIF rotation
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"truncated or corrupt image ({str(exc).splitlines()[0][:120]})") from None
    return img


def _pil_to_gray(img) -> np.ndarray:
    """Any Pillow mode -> float32 grey in [0, 1]; transparency over a contrasting paper."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        top = float(arr.max()) if arr.size else 1.0
        div = 65535.0 if mode.startswith("I;16") else (255.0 if top <= 255 else (65535.0 if top <= 65535 else top))
        if mode == "F" and top <= 1.0:
            div = 1.0
        return np.clip(arr / div, 0.0, 1.0)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
        gray = np.asarray(rgba.convert("L"), dtype=np.float32) / 255.0
        if alpha.min() < 0.99:
            opaque = alpha > 0.5
            # A digit drawn on a transparent canvas: put it on paper of the
            # opposite brightness, so dark ink gets white paper and vice versa.
            ink_level = float(gray[opaque].mean()) if opaque.any() else 0.0
            paper = 1.0 if ink_level < 0.5 else 0.0
            gray = gray * alpha + paper * (1.0 - alpha)
        return gray
    if mode != "L":
        img = img.convert("RGB").convert("L") if mode not in ("1",) else img.convert("L")
    return np.asarray(img, dtype=np.float32) / 255.0


def _load_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ImageError(f"not a readable .npy array ({str(exc).splitlines()[0][:120]})") from None
    arr = np.squeeze(np.asarray(arr))
    if arr.shape == (784,):
        arr = arr.reshape(28, 28)
    if arr.ndim != 2:
        raise ImageError(f".npy array has shape {arr.shape}; expected 28x28 (or another 2-D image)")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype.kind in "iu":
        if arr.min() < 0 or arr.max() > 255:
            raise ImageError(f"integer .npy values must be pixels 0..255 (got {arr.min()}..{arr.max()})")
        return arr.astype(np.float32) / 255.0
    if arr.dtype.kind in "fb":
        values = arr.astype(np.float32)
        if not np.isfinite(values).all():
            raise ImageError(".npy array holds NaN or infinity")
        if values.min() < 0 or values.max() > 1.0 + 1e-6:
            raise ImageError(f"float .npy values must be in [0, 1] (got {values.min():g}..{values.max():g});"
                             " save uint8 pixels or divide by 255")
        return values
    raise ImageError(f"unsupported .npy dtype {arr.dtype}")


def load_gray(path: Union[str, os.PathLike]) -> np.ndarray:
    """Reads an image file or ``.npy`` as float32 grey in [0, 1], shape (H, W).

    Handles PNG, JPEG (EXIF rotation honoured), BMP, GIF (first frame), WebP,
    TIFF; modes L, RGB, RGBA (transparent background), P, I;16 and others.

    Raises:
        ImageError: missing, empty, truncated, not an image, or too large.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError("no such file")
    if path.suffix.lower() == ".npy":
        return _load_npy(path)
    img = _open_pil(path)
    width, height = img.size
    if max(width, height) > 2 * WORK_SIDE:
        # Cleaning runs at WORK_SIDE anyway; shrink big photos once, cheaply.
        img = img.reduce(max(1, max(width, height) // (2 * WORK_SIDE)))
    return _pil_to_gray(img)


def _shift_stack(a: np.ndarray, pad_value: float):
    p = np.pad(a, 1, mode="constant", constant_values=pad_value)
    h, w = a.shape
    return [p[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)]


def _dilate3(a: np.ndarray) -> np.ndarray:
    return np.maximum.reduce(_shift_stack(a, 0.0))


def _erode3(a: np.ndarray) -> np.ndarray:
    return np.minimum.reduce(_shift_stack(a, a.max() if a.size else 0.0))


def _label(mask: np.ndarray) -> np.ndarray:
    """8-connected component labels (0 = background) by label propagation."""
    h, w = mask.shape
    labels = np.where(mask, np.arange(1, h * w + 1, dtype=np.int64).reshape(h, w), 0)
    for _ in range(h * w):
        grown = np.maximum.reduce(_shift_stack(labels, 0)) * mask
        if np.array_equal(grown, labels):
            break
        labels = grown
    return labels


def _otsu(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, bins=64, range=(0.0, 1.0))
    hist = hist.astype(np.float64)
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers)
    mean0 = np.divide(m0, w0, out=np.zeros_like(m0), where=w0 > 0)
    mean1 = np.divide(m0[-1] - m0, w1, out=np.zeros_like(m0), where=w1 > 0)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def _resize(arr: np.ndarray, size_wh, resample=None) -> np.ndarray:
    from PIL import Image

    resample = Image.BILINEAR if resample is None else resample
    return np.asarray(Image.fromarray(arr.astype(np.float32), mode="F").resize(size_wh, resample),
                      dtype=np.float32)


def _background(gray: np.ndarray, dark_ink: bool) -> np.ndarray:
    """Smooth paper/background estimate (strokes removed) by a coarse rank filter."""
    from PIL import Image, ImageFilter

    h, w = gray.shape
    scale = 96.0 / max(h, w)
    small_wh = (max(8, int(round(w * scale))), max(8, int(round(h * scale))))
    small = Image.fromarray(gray.astype(np.float32), mode="F").resize(small_wh, Image.BOX)
    k = 9  # ~1/10 of the image: wider than a pen stroke, narrower than a shadow
    if dark_ink:  # closing: dark strokes disappear, paper (and its shading) stays
        small = small.filter(ImageFilter.MaxFilter(k)).filter(ImageFilter.MinFilter(k))
    else:
        small = small.filter(ImageFilter.MinFilter(k)).filter(ImageFilter.MaxFilter(k))
    arr = np.asarray(small, dtype=np.float32)
    for _ in range(2):  # soften the rank filter's blocky steps
        padded = np.pad(arr, 1, mode="edge")
        arr = sum(padded[dy:dy + arr.shape[0], dx:dx + arr.shape[1]]
                  for dy in range(3) for dx in range(3)) / 9.0
    return _resize(arr, (w, h))


def _ink_is_dark(gray: np.ndarray) -> bool:
    """True when the digit is darker than its surroundings (ink on paper).

    Compares how much of the image stands out darker vs brighter than its
    local median (a coarse median filter follows paper, shading and
    shadows). Global brightness fails on shadowed paper; comparing stroke
    strength after cleaning both ways fails on chalk, where the gaps between
    bright strokes look like dark ink.
    """
    from PIL import Image, ImageFilter

    h, w = gray.shape
    scale = 96.0 / max(h, w)
    small_wh = (max(8, int(round(w * scale))), max(8, int(round(h * scale))))
    small = Image.fromarray(gray.astype(np.float32), mode="F").resize(small_wh, Image.BOX)
    local = np.asarray(small.filter(ImageFilter.MedianFilter(9)), dtype=np.float32)
    dev = np.asarray(small, dtype=np.float32) - local
    darker = float(np.clip(-dev - 0.05, 0, None).sum())
    brighter = float(np.clip(dev - 0.05, 0, None).sum())
    return darker >= brighter


def _ink_map(gray: np.ndarray, dark_ink: bool):
    """(stroke level, polarity, ink in [0, 1]) for one polarity."""
    background = _background(gray, dark_ink)
    if dark_ink:
        # Divide, not subtract: uneven light multiplies paper and ink alike.
        ink = np.clip(1.0 - gray / np.maximum(background, 1e-3), 0.0, 1.0)
        ink[background < 0.08] = 0.0  # no paper to divide by: black is not ink
    else:
        ink = np.clip(gray - background, 0.0, 1.0)
    # Stroke level: the strongest ink that survives a 3x3 erosion, so single
    # noisy pixels and 1-2 px grid lines cannot pose as strokes.
    return float(_erode3(ink).max()), dark_ink, ink


def is_mnist_form(gray: np.ndarray) -> bool:
    """True for a 28x28 image that is already white-on-black (MNIST form)."""
    if gray.shape != (28, 28):
        return False
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return _quantile(border, 0.5) < 0.25 and _quantile(gray, 0.5) < 0.5


def _quantile(values: np.ndarray, q: float) -> float:
    """The q-quantile by sorting: np.median/np.percentile cost ~18 ms of lazy
    imports on first use, more than the predictor's whole start-up budget."""
    flat = np.sort(values, axis=None)
    return float(flat[min(len(flat) - 1, int(q * len(flat)))]) if len(flat) else 0.0


def to_mnist(gray: np.ndarray) -> np.ndarray:
    """Turns a grey image of a digit into MNIST form.

    Steps: detect polarity (dark ink on light paper is inverted); divide out
    the paper (or subtract the background) estimated at low resolution, which
    removes uneven light and shadows; keep strokes well above paper texture and
    grid lines; keep the main connected ink and what lies near it; thicken
    strokes that are thin for the digit's size; scale the digit's box to 20x20
    keeping its aspect ratio; centre by centre of mass in 28x28.

    An image already in MNIST form (28x28, dark background) is returned as is.

    Args:
        gray: float32 grey in [0, 1], shape (H, W).

    Returns:
        ``(28, 28)`` uint8, white digit on black.

    Raises:
        NoDigitError: blank, near-blank, or nothing digit-like.
    """
    gray = np.asarray(gray, dtype=np.float32)
    if is_mnist_form(gray):
        if float(gray.max()) < MIN_STROKE_CONTRAST or int(np.sum(gray > 0.5)) < 4:
            raise NoDigitError("no digit found (blank image)")
        return np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8)
    h, w = gray.shape
    if max(h, w) > WORK_SIDE:
        f = WORK_SIDE / max(h, w)
        from PIL import Image

        gray = _resize(gray, (max(1, round(w * f)), max(1, round(h * f))), Image.BOX)
        h, w = gray.shape
    if min(h, w) < 8:
        raise NoDigitError(f"no digit found (image only {w}x{h} pixels)")

    # Polarity from local contrast (see _ink_is_dark), then the paper or
    # background divided out / subtracted for that polarity. Only if that
    # finds no stroke is the other polarity tried.
    first = _ink_is_dark(gray)
    stroke, dark_ink, ink = _ink_map(gray, first)
    if stroke < MIN_STROKE_CONTRAST:
        stroke, dark_ink, ink = max((stroke, dark_ink, ink), _ink_map(gray, not first),
                                    key=lambda c: c[0])
    if stroke < MIN_STROKE_CONTRAST:
        raise NoDigitError("no digit found (blank or too faint)")
    threshold = max(_otsu(ink / stroke) * stroke, 0.45 * stroke)
    mask = ink > threshold
    mask = _dilate3(_erode3(mask.astype(np.uint8))).astype(bool)  # drops 1-2 px lines and specks
    if mask.mean() > 0.5:
        raise NoDigitError("no digit found (no ink on a background)")

    # Components on a coarse grid: fast, and nearby broken strokes join.
    step = max(1, int(np.ceil(max(h, w) / 128)))
    coarse = mask[: h - h % step or h, : w - w % step or w]
    coarse = coarse.reshape(coarse.shape[0] // step, step, coarse.shape[1] // step, step).any(axis=(1, 3))
    labels = _label(coarse)
    if labels.max() == 0:
        raise NoDigitError("no digit found")
    ids, areas = np.unique(labels[labels > 0], return_counts=True)
    main = ids[np.argmax(areas)]
    ys, xs = np.nonzero(labels == main)
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    size = max(y1 - y0, x1 - x0) + 1
    margin = 0.35 * size
    keep = np.zeros_like(coarse)
    for cid, area in zip(ids, areas):
        cy, cx = np.nonzero(labels == cid)
        near = (cy.max() >= y0 - margin and cy.min() <= y1 + margin
                and cx.max() >= x0 - margin and cx.min() <= x1 + margin)
        if cid == main or (near and area >= 0.04 * areas.max()):
            keep |= labels == cid
    if keep.sum() * step * step < 0.0004 * h * w or size * step < 0.04 * max(h, w):
        raise NoDigitError("no digit found (only specks)")
    keep_full = np.repeat(np.repeat(keep, step, axis=0), step, axis=1)
    keep_full = np.pad(keep_full, ((0, h - keep_full.shape[0]), (0, w - keep_full.shape[1])))
    digit_mask = mask & _dilate3(keep_full.astype(np.uint8)).astype(bool)
    ys, xs = np.nonzero(digit_mask)
    if len(ys) == 0:
        raise NoDigitError("no digit found")
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1

    # Soft ink inside the digit's mask, full strength at the stroke level.
    soft = np.clip((ink - 0.5 * threshold) / max(stroke - 0.5 * threshold, 1e-6), 0.0, 1.0)
    soft = soft * _dilate3(digit_mask.astype(np.uint8))
    crop = soft[y0:y1, x0:x1]

    # MNIST strokes are ~1/8 of the box; a fine pen on a big digit would
    # vanish at 20 px, so thicken strokes thinner than ~1/12 of the box.
    crop_mask = digit_mask[y0:y1, x0:x1]
    area = float(crop_mask.sum())
    perimeter = float((crop_mask & ~_erode3(crop_mask.astype(np.uint8)).astype(bool)).sum())
    width = 2.0 * area / max(perimeter, 1.0)
    target = max(y1 - y0, x1 - x0) / 12.0
    if width < target:
        pad = int(np.ceil((target - width) / 2)) + 1
        crop = np.pad(crop, pad)
        for _ in range(int(np.ceil((target - width) / 2))):
            crop = _dilate3(crop)

    ch, cw = crop.shape
    f = 20.0 / max(ch, cw)
    from PIL import Image

    new_w, new_h = max(1, int(round(cw * f))), max(1, int(round(ch * f)))
    small = np.clip(_resize(crop, (new_w, new_h), Image.LANCZOS), 0.0, 1.0)
    peak = _quantile(small[small > 0.05], 0.95)
    if peak <= 0:
        raise NoDigitError("no digit found")
    small = np.clip(small / peak, 0.0, 1.0)

    canvas = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - new_h) // 2, (28 - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = small
    total = canvas.sum()
    yy, xx = np.mgrid[0:28, 0:28]
    cy, cx = (yy * canvas).sum() / total, (xx * canvas).sum() / total
    dy, dx = int(round(13.5 - cy)), int(round(13.5 - cx))
    # Shift by the centre of mass, but never push ink off the canvas.
    dy = int(np.clip(dy, -top, 28 - (top + new_h)))
    dx = int(np.clip(dx, -left, 28 - (left + new_w)))
    canvas = np.roll(np.roll(canvas, dy, axis=0), dx, axis=1)
    return np.round(canvas * 255).astype(np.uint8)


def preprocess_file(path: Union[str, os.PathLike]) -> np.ndarray:
    """Reads an image file (or ``.npy``) and returns it in MNIST form.

    Args:
        path: PNG, JPEG, BMP, GIF, WebP, TIFF or ``.npy``.

    Returns:
        ``(28, 28)`` uint8, white digit on black, ready for :meth:`Predictor.predict`.

    Raises:
        ImageError: unreadable input; NoDigitError when there is no digit.
    """
    return to_mnist(load_gray(path))


def iter_image_paths(inputs: Sequence[Union[str, os.PathLike]]):
    """Expands files and folders into ``(path, error or None)`` pairs.

    Folders contribute their image files (by suffix, sorted, not recursive);
    a folder with none yields one error entry.
    """
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                yield path, f"no images in folder (looked for {', '.join(IMAGE_SUFFIXES)})"
            for p in found:
                yield p, None
        elif not path.exists():
            yield path, "no such file"
        else:
            yield path, None


DEFAULT_MODEL_NAME = "mnist_mlp_int8.tflite"


def default_model_path() -> Path:
    """The int8 model shipped with the package (trained with seed 0).

    Installed as package data (``mnist_edge/default_model/``); in a source
    checkout it is ``models/default/``.

    Raises:
        RuntimeModelError: when neither location has it.
    """
    here = Path(__file__).resolve().parent
    candidates = (here / "default_model" / DEFAULT_MODEL_NAME,
                  here.parent / "models" / "default" / DEFAULT_MODEL_NAME)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise RuntimeModelError(f"the default model {DEFAULT_MODEL_NAME} is not installed; pass --model")

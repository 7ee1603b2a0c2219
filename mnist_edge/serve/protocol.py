"""Request and response shapes of the serving protocols, as pure functions (no web stack).

* Open Inference Protocol v2 (KServe, Triton): ``inputs[0]`` is a
  ``[N, 28, 28]`` (or ``[N, 784]``) tensor, ``UINT8`` pixels or ``FP32`` in
  [0, 1], its ``data`` flat (row-major) or nested; the response carries
  ``probabilities`` (``FP32 [N, 10]``) and ``label`` (``INT64 [N]``).
* TF-Serving REST: ``{"instances": [...]}`` of 28x28 images (integers 0..255
  or floats in [0, 1]); the response is ``{"predictions": [[10 floats], ...]}``.

Every problem a client can cause is a :class:`ProtocolError` with its HTTP
status and a one-line reason.
"""

from __future__ import annotations

import json
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

from mnist_edge.constants import FLAT_SHAPE, IMAGE_SHAPE

MAX_BATCH = 1024
IMAGE_SHAPES = (IMAGE_SHAPE, FLAT_SHAPE)


class ProtocolError(Exception):
    """A request the service refuses: an HTTP status and one line."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def parse_json(body: bytes) -> dict:
    """The JSON object in a request body.

    Raises:
        ProtocolError: 400 for anything but a JSON object.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(400, f"malformed JSON ({str(exc)[:80]})") from None
    if not isinstance(document, dict):
        raise ProtocolError(400, "the body must be a JSON object")
    return document


def _nested(data, dims: Tuple[int, ...]) -> Optional[list]:
    """Row-major values when ``data`` nests exactly as ``dims`` (no ragged rows), else None."""
    level = [data]
    for size in dims:
        if not all(isinstance(item, list) and len(item) == size for item in level):
            return None
        level = [v for item in level for v in item]
    return None if any(isinstance(v, list) for v in level) else level


def _flatten(data, shape: Tuple[int, ...]) -> list:
    """Row-major values of a flat array, or of one nested exactly as the shape (or as [N, 784]).

    Raises:
        ProtocolError: 400 for anything else: a wrong count, ragged rows, mixed nesting.
    """
    if not isinstance(data, list):
        raise ProtocolError(400, "data must be a JSON array")
    expected = math.prod(shape)
    if not any(isinstance(v, list) for v in data):
        if len(data) != expected:
            raise ProtocolError(400, f"data holds {len(data)} values; the shape needs {expected}")
        return data
    for dims in (shape, (shape[0], expected // shape[0])):
        flat = _nested(data, dims)
        if flat is not None:
            return flat
    raise ProtocolError(400, f"nested data does not have the shape {list(shape)} (ragged or mixed rows)")


def to_pixels(values: list, datatype: str, shape: Tuple[int, ...]) -> np.ndarray:
    """Checked ``(N, 28, 28)`` pixels (uint8) or values in [0, 1] (float32).

    Raises:
        ProtocolError: 400 for wrong types, NaN, or values out of range.
    """
    if datatype == "UINT8":
        # Range-checked in Python first: 10**20 would overflow numpy's int64 (a 500 once).
        if not all(type(v) is int and 0 <= v <= 255 for v in values):
            raise ProtocolError(400, "UINT8 data must be integers 0..255")
        return np.asarray(values, dtype=np.uint8).reshape(shape)
    if datatype == "FP32":
        if not all(type(v) is float or (type(v) is int and 0 <= v <= 1) for v in values):
            raise ProtocolError(400, "FP32 data must be numbers in [0, 1]")
        arr = np.asarray(values, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ProtocolError(400, "FP32 data holds NaN or infinity")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ProtocolError(400, "FP32 data must be in [0, 1] (divide pixels by 255, or send UINT8)")
        return arr.astype(np.float32).reshape(shape)
    raise ProtocolError(400, f"datatype {datatype!r} is not supported (use UINT8 or FP32)")


def _is_text(value) -> bool:
    """A string that can be encoded back (JSON allows lone surrogates such as \\udfff)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _image_batch_shape(shape) -> Tuple[int, ...]:
    if not isinstance(shape, list) or not all(type(d) is int for d in shape):
        raise ProtocolError(400, "shape must be a list of integers")
    if len(shape) < 2 or tuple(shape[1:]) not in IMAGE_SHAPES:
        raise ProtocolError(400, f"shape {shape} is not [N, 28, 28] (or [N, 784])")
    if not 1 <= shape[0] <= MAX_BATCH:
        raise ProtocolError(400, f"batch size {shape[0]} is not in 1..{MAX_BATCH}")
    return (shape[0], 28, 28)


def parse_v2_infer(document: dict) -> Tuple[np.ndarray, Optional[str], Optional[List[str]]]:
    """An Open Inference Protocol v2 inference request.

    Returns:
        ``(pixels (N, 28, 28), request id, requested output names or None)``.

    Raises:
        ProtocolError: 400 for anything but one well-formed image tensor.
    """
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise ProtocolError(400, "inputs must be a list of one tensor")
    tensor = inputs[0]
    shape = _image_batch_shape(tensor.get("shape"))
    values = _flatten(tensor.get("data"), shape)
    pixels = to_pixels(values, tensor.get("datatype"), shape)
    request_id = document.get("id")
    if request_id is not None and not _is_text(request_id):
        raise ProtocolError(400, "id must be a string of valid Unicode (it is echoed back)")
    outputs = document.get("outputs")
    names = None
    if outputs is not None:
        if not isinstance(outputs, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
        ):
            raise ProtocolError(400, 'outputs must be a list of {"name": ...}')
        names = [o["name"] for o in outputs]
        unknown = sorted(set(names) - {"probabilities", "label"})
        if unknown:
            raise ProtocolError(400, f"unknown output {unknown[0]!r} (the model has probabilities, label)")
    return pixels, request_id, names


def v2_response(
    model_name: str, probs: np.ndarray, request_id: Optional[str], names: Optional[Sequence[str]]
) -> dict:
    """The v2 inference response for ``probs`` (N, 10)."""
    outputs = []
    if names is None or "probabilities" in names:
        outputs.append(
            {
                "name": "probabilities",
                "shape": [len(probs), 10],
                "datatype": "FP32",
                "data": [round(float(p), 6) for p in probs.ravel()],
            }
        )
    if names is None or "label" in names:
        outputs.append(
            {
                "name": "label",
                "shape": [len(probs)],
                "datatype": "INT64",
                "data": [int(v) for v in probs.argmax(axis=1)],
            }
        )
    response = {"model_name": model_name, "model_version": "1", "outputs": outputs}
    if request_id is not None:
        response["id"] = request_id
    return response


def parse_tfserving(document: dict) -> np.ndarray:
    """A TF-Serving REST predict request (``instances``, or columnar ``inputs``).

    Returns:
        ``(N, 28, 28)`` uint8 pixels or float32 values in [0, 1].

    Raises:
        ProtocolError: 400 for anything but a list of 28x28 images of one kind.
    """
    instances = document.get("instances", document.get("inputs"))
    if not isinstance(instances, list) or not 1 <= len(instances) <= MAX_BATCH:
        raise ProtocolError(400, f"instances must be a list of 1..{MAX_BATCH} images")
    if all(isinstance(i, dict) for i in instances):  # [{"image": ...}, ...]
        instances = [next(iter(i.values()), None) for i in instances]
    shape = (len(instances), 28, 28)
    values = _flatten(instances, shape)
    datatype = "UINT8" if all(type(v) is int for v in values) else "FP32"
    if datatype == "UINT8" and values and all(0 <= v <= 1 for v in values):
        datatype = "FP32"  # all zeros and ones: read as values in [0, 1] either way
    return to_pixels(values, datatype, shape)


def model_metadata(name: str, labels: Sequence[str], input_dtype: str, platform: str) -> dict:
    """The v2 model metadata document."""
    return {
        "name": name,
        "versions": ["1"],
        "platform": platform,
        "inputs": [
            {
                "name": "image",
                "datatype": "UINT8",
                "shape": [-1, 28, 28],
                "parameters": {
                    "also_accepts": "FP32 in [0, 1]; [-1, 784]",
                    "layout": "white digit on black, MNIST-centred",
                    "model_input_dtype": input_dtype,
                },
            }
        ],
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
            {"name": "label", "datatype": "INT64", "shape": [-1]},
        ],
        "parameters": {"labels": list(labels)},
    }

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

MAX_BATCH = 1024
IMAGE_SHAPES = ((28, 28), (784,))


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


def _flatten(data, expected: int) -> list:
    """Row-major values of flat or nested JSON arrays, checked against the count."""
    if not isinstance(data, list):
        raise ProtocolError(400, "data must be a JSON array")
    flat = data
    while flat and isinstance(flat[0], list):
        flat = [v for row in flat for v in (row if isinstance(row, list) else [row])]
    if len(flat) != expected:
        raise ProtocolError(400, f"data holds {len(flat)} values; the shape needs {expected}")
    return flat


def to_pixels(values: list, datatype: str, shape: Tuple[int, ...]) -> np.ndarray:
    """Checked ``(N, 28, 28)`` pixels (uint8) or values in [0, 1] (float32).

    Raises:
        ProtocolError: 400 for wrong types, NaN, or values out of range.
    """
    if datatype == "UINT8":
        if not all(type(v) is int for v in values):
            raise ProtocolError(400, "UINT8 data must be integers 0..255")
        arr = np.asarray(values, dtype=np.int64)
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ProtocolError(400, "UINT8 data must be integers 0..255")
        return arr.astype(np.uint8).reshape(shape)
    if datatype == "FP32":
        if not all(type(v) in (int, float) for v in values):
            raise ProtocolError(400, "FP32 data must be numbers in [0, 1]")
        arr = np.asarray(values, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ProtocolError(400, "FP32 data holds NaN or infinity")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ProtocolError(400, "FP32 data must be in [0, 1] (divide pixels by 255, or send UINT8)")
        return arr.astype(np.float32).reshape(shape)
    raise ProtocolError(400, f"datatype {datatype!r} is not supported (use UINT8 or FP32)")


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
    values = _flatten(tensor.get("data"), math.prod(shape))
    pixels = to_pixels(values, tensor.get("datatype"), shape)
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise ProtocolError(400, "id must be a string")
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
    values = _flatten(instances, math.prod(shape))
    datatype = "UINT8" if all(type(v) is int for v in values) else "FP32"
    if datatype == "UINT8" and values and max(values) <= 1 and min(values) >= 0:
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

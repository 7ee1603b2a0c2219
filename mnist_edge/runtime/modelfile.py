"""A ``.tflite`` file on disk: reading it safely, and where its sidecar and the default live."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from mnist_edge.errors import RuntimeModelError
from mnist_edge.runtime.validate import validate

TFLITE_MAGIC = b"TFL3"
MAX_MODEL_BYTES = 64 << 20  # the tutorial's float32 MLP is 0.4 MB
DEFAULT_MODEL_NAME = "mnist_cnn_m_int8.tflite"


def read_model_bytes(path: Union[str, os.PathLike]) -> bytes:
    """Reads a ``.tflite`` file after checking its size and identifier, then validates it.

    Args:
        path: the model file.

    Returns:
        The file's bytes.

    Raises:
        RuntimeModelError: missing, unreadable, too large, not TFLite, corrupt or invalid.
    """
    return read_and_validate(path)[0]


def _not_tflite_message(path: Path) -> str:
    """The one line for a file that is not TFLite; a Keras model is told how to become one."""
    if path.suffix.lower() in (".keras", ".h5"):
        return (
            f"{path}: a Keras model, not a TFLite one; export it first: "
            f"mnist-edge export --model {path} --quantize int8"
        )
    return f"{path}: not a TFLite model (no TFL3 identifier)"


def read_and_validate(path: Union[str, os.PathLike]):
    """Reads and validates a model; returns ``(bytes, ModelFacts)``.

    The 8-byte header is read first: a 2 GB file that is not a model is
    refused without reading it. The content is then validated
    (:func:`mnist_edge.runtime.validate.validate`) before any interpreter sees it.

    Raises:
        RuntimeModelError: missing, unreadable, too large, not TFLite, corrupt or invalid.
    """

    path = Path(path)
    if not path.is_file():
        raise RuntimeModelError(f"{path}: model file not found")
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8 or head[4:8] != TFLITE_MAGIC:
                raise RuntimeModelError(_not_tflite_message(path))
            if size > MAX_MODEL_BYTES:
                raise RuntimeModelError(
                    f"{path}: {size >> 20} MB is too large for a 28x28 digit "
                    f"model (at most {MAX_MODEL_BYTES >> 20} MB)"
                )
            content = head + handle.read(MAX_MODEL_BYTES)
    except OSError as exc:
        raise RuntimeModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return content, validate(content, str(path))


def default_model_path() -> Path:
    """The model shipped with the package.

    Installed as package data (``mnist_edge/default_model/``); in a source
    checkout it is ``models/default/``.

    Returns:
        The path of the default ``.tflite``.

    Raises:
        RuntimeModelError: when neither location has it.
    """
    package = Path(__file__).resolve().parent.parent
    candidates = (
        package / "default_model" / DEFAULT_MODEL_NAME,
        package.parent / "models" / "default" / DEFAULT_MODEL_NAME,
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise RuntimeModelError(f"the default model {DEFAULT_MODEL_NAME} is not installed; pass --model")

"""A ``.tflite`` file on disk: reading it safely, and where its sidecar and the default live."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Optional, Union

from mnist_edge.errors import RuntimeModelError

TFLITE_MAGIC = b"TFL3"
DEFAULT_MODEL_NAME = "mnist_mlp_int8.tflite"


def read_model_bytes(path: Union[str, os.PathLike]) -> bytes:
    """Reads a ``.tflite`` file and checks it is a FlatBuffer TFLite model.

    Args:
        path: the model file.

    Returns:
        The file's bytes.

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
    problem = flatbuffer_problem(content)
    if problem:
        raise RuntimeModelError(f"{path}: corrupt or truncated TFLite model ({problem})")
    return content


def flatbuffer_problem(buf: bytes) -> Optional[str]:
    """Checks the Model table's vectors and weight buffers lie inside the file.

    LiteRT verifies the FlatBuffer itself, but tflite-runtime 2.14 crashes
    (segfault) on a truncated file; this catches truncation and bad offsets
    for every interpreter before one is built.

    Args:
        buf: the file's bytes.

    Returns:
        None when the layout is sound, else what is wrong.
    """
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

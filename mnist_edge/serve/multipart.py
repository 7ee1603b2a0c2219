"""The image part (and small flag fields) of a ``multipart/form-data`` upload, parsed in memory.

Starlette's ``request.form()`` spools parts over 1 MB to ``$TMPDIR``; the
service promises to write nothing, and its body is already bounded by
``--max-body``, so the body is parsed here, in memory, with python-multipart's
streaming parser (the library Starlette itself uses).
"""

from __future__ import annotations

import logging
from typing import Dict, List, Tuple

from python_multipart.multipart import MultipartParser, parse_options_header

from mnist_edge.serve.protocol import ProtocolError

MAX_PARTS = 4
MAX_FIELD = 64  # bytes: a form field beside the image is a flag ("number=1"), never data
# python-multipart logs a malformed body before raising; our one-line 400 says it.
logging.getLogger("python_multipart").addHandler(logging.NullHandler())


def image_part(content_type: str, body: bytes) -> Tuple[str, bytes]:
    """``(file name, bytes)`` of the part named ``file``.

    Raises:
        ProtocolError: 400 for a malformed body, too many parts, or no ``file`` part.
    """
    name, data, _fields = image_and_fields(content_type, body)
    return name, data


def image_and_fields(content_type: str, body: bytes) -> Tuple[str, bytes, Dict[str, str]]:
    """``(file name, bytes)`` of the part named ``file``, and the other parts as short text fields.

    Raises:
        ProtocolError: 400 for a malformed body, too many parts, or no ``file`` part.
    """
    image, fields = None, {}
    for headers, data in _parts(content_type, body):
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == "file" and image is None:
            filename = options.get(b"filename", b"upload").decode("utf-8", "replace") or "upload"
            image = (filename, data)
        elif name and len(data) <= MAX_FIELD:
            fields[name] = data.decode("utf-8", "replace").strip()
    if image is None:
        raise ProtocolError(400, "multipart body has no 'file' part")
    return image[0], image[1], fields


def _parts(content_type: str, body: bytes) -> List[Tuple[dict, bytes]]:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ProtocolError(400, "malformed multipart body (no boundary)")
    parts = []
    state = {"header": b"", "headers": {}, "data": []}

    def on_header_field(data, start, end):
        state["header"] += data[start:end]

    def on_header_value(data, start, end):
        key = state["header"].lower()
        state["headers"][key] = state["headers"].get(key, b"") + data[start:end]

    def on_header_end():
        state["header"] = b""

    def on_part_data(data, start, end):
        state["data"].append(data[start:end])

    def on_part_end():
        parts.append((state["headers"], b"".join(state["data"])))
        state["headers"], state["data"] = {}, []
        if len(parts) > MAX_PARTS:
            raise ProtocolError(400, f"multipart body has more than {MAX_PARTS} parts")

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except ProtocolError:
        raise
    except Exception as exc:  # python-multipart's errors for a malformed body
        raise ProtocolError(400, f"malformed multipart body ({str(exc)[:80]})") from None
    return parts

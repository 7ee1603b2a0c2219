"""The one image part of a ``multipart/form-data`` upload, parsed in memory.

Starlette's ``request.form()`` spools parts over 1 MB to ``$TMPDIR``; the
service promises to write nothing, and its body is already bounded by
``--max-body``, so the body is parsed here, in memory, with python-multipart's
streaming parser (the library Starlette itself uses).
"""

from __future__ import annotations

import logging
from typing import Tuple

from python_multipart.multipart import MultipartParser, parse_options_header

from mnist_edge.serve.protocol import ProtocolError

MAX_PARTS = 4
# python-multipart logs a malformed body before raising; our one-line 400 says it.
logging.getLogger("python_multipart").addHandler(logging.NullHandler())


def image_part(content_type: str, body: bytes) -> Tuple[str, bytes]:
    """``(file name, bytes)`` of the part named ``file``.

    Raises:
        ProtocolError: 400 for a malformed body, too many parts, or no ``file`` part.
    """
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
    for headers, data in parts:
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        if options.get(b"name") == b"file":
            filename = options.get(b"filename", b"upload").decode("utf-8", "replace") or "upload"
            return filename, data
    raise ProtocolError(400, "multipart body has no 'file' part")

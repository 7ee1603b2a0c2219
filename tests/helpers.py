"""Small builders shared by several test modules."""

import struct
import zlib


def fake_png_bytes(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` greyscale pixels (a decompression bomb)."""

    def chunk(kind, payload):
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + chunk(b"IEND", b"")
    )

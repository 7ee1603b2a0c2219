"""Small builders shared by several test modules."""

import json
import struct
import subprocess
import sys
import zlib

import pytest

HEAVY = ("tensorflow", "keras", "matplotlib", "jax", "torch")


def require_extra(module: str, extra: str):
    """``pytest.importorskip`` with the reason tests/skipguard.py understands."""
    return pytest.importorskip(module, reason=f"needs the {extra} extra ({module} is not installed)")


def modules_after(code: str) -> set:
    """The modules a fresh interpreter has loaded after running ``code``."""
    probe = code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def heavy(modules) -> list:
    """The modules of TensorFlow and other heavy frameworks among ``modules``."""
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def third_party(modules) -> set:
    """The top-level third-party packages among ``modules`` (no stdlib, no private)."""
    top = {m.split(".")[0] for m in modules}
    return {m for m in top if m not in sys.stdlib_module_names and not m.startswith("_")}


# PNG (bit depth, colour type) for the Pillow modes a header can claim.
PNG_MODES = {"L": (8, 0), "I;16": (16, 0), "RGB": (8, 2), "RGBA": (8, 6)}


def fake_png_bytes(width: int, height: int, mode: str = "L") -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels of ``mode`` (a decompression bomb)."""

    def chunk(kind, payload):
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    depth, colour = PNG_MODES[mode]
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + chunk(b"IEND", b"")
    )

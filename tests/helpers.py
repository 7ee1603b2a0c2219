"""Small builders shared by several test modules."""

import json
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"  # tiny committed .tflite models and inputs: device tests need no TensorFlow
FUZZ = TESTS / "fuzz"
FUZZ_IMAGES = FUZZ / "regressions" / "image"

HEAVY = ("tensorflow", "keras", "matplotlib", "jax", "torch", "ray", "optuna")


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(*args):
    """A real `mnist-edge serve` on a free loopback port: (process, url, port)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnist_edge", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(url + "/v2/health/ready", timeout=1)
            return proc, url, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("serve did not start: " + proc.stderr.read())


def read_response(sock, timeout=10.0) -> bytes:
    """One whole HTTP response (head and a Content-Length body); TCP may split it anywhere."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(4096)
        if not part:
            return data
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        part = sock.recv(4096)
        if not part:
            break
        body += part
    return head + b"\r\n\r\n" + body


def number_png(items, gap=0.25, lines=None, shapes=None) -> bytes:
    """A PNG of a number written with a pen on white paper, from stroke forms (synthesis/glyphs.py).

    Args:
        items: characters left to right: digits (their first form) or keys of ``shapes``.
        gap: space between them, in digit heights (negative: they touch).
        lines: several rows of items instead of ``items``, top first.
        shapes: extra stroke lists by name (a dot, a minus sign, a broken digit ...).
    """
    import io

    from PIL import Image, ImageDraw

    from mnist_edge.synthesis.glyphs import FORMS

    height, pen = 100, 9
    rows = lines or [items]
    width = int(height * (0.3 + max(len(r) for r in rows) * (0.75 + gap))) + height
    image = Image.new("L", (width, int(height * 1.6 * len(rows)) + 40), 250)
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(rows):
        x = height * 0.3
        for item in row:
            w = 0.35 if item == "." else 0.75
            for stroke in (shapes or {}).get(item) or FORMS[item][0]:
                points = [(x + px * height * w, 20 + r * height * 1.6 + py * height) for px, py in stroke]
                draw.line(points, fill=20, width=pen, joint="curve")
            x += height * (w + gap)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()

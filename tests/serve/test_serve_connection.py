"""`serve` against slow, silent and oversized clients, over real sockets to a real server.

Each case is bounded in time: the server runs with --client-timeout 1, and a
test allows generous upper bounds (never a lower bound: the host is shared).
"""

import json
import signal
import socket
import struct
import time
import urllib.error
import urllib.request

import pytest
from helpers import read_response, start_serve

from mnist_edge.serve.connection import GuardedHttpProtocol, HttpToolsProtocol

HEAD = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n"
INFER = json.dumps(
    {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", "data": [0] * 784}]}
).encode()


@pytest.fixture(scope="module")
def server():
    proc, url, port = start_serve("--client-timeout", "1", "--max-body", "64KB", "--token", "s3cret")
    yield url, port
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def closed_within(sock, seconds: float) -> bool:
    """True when the server closes ``sock`` within ``seconds`` (whatever it sent first)."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not sock.recv(4096):
                return True
    except ConnectionResetError:
        return True
    except OSError:
        return False
    return False


def answered(url: str, path: str, data=None, token=True) -> int:
    headers = {"Authorization": "Bearer s3cret"} if token else {}
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        with urllib.request.urlopen(urllib.request.Request(url + path, data, headers), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_protocol_overrides_what_the_installed_uvicorn_calls():
    """The subclass hooks uvicorn's own method names; a uvicorn that renamed them fails here."""
    for name in ("connection_made", "data_received", "on_message_begin", "on_url", "on_header",
                 "on_headers_complete", "on_body", "on_message_complete", "send_400_response"):  # fmt: skip
        assert callable(getattr(HttpToolsProtocol, name, None)), name
        assert name in GuardedHttpProtocol.__dict__, name


def test_silent_sockets_leave_health_and_real_clients_answered_and_are_closed(server):
    url, port = server
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
    try:
        assert answered(url, "/v2/health/live", token=False) == 200
        assert answered(url, "/v2/models/mnist/infer", INFER) == 200
        assert all(closed_within(sock, 15) for sock in silent)
    finally:
        for sock in silent:
            sock.close()


def test_a_stalled_body_does_not_hold_work_and_is_closed(server):
    url, port = server
    stalled = []
    for _ in range(70):  # more than --max-inflight (64)
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            b"POST /v2/models/mnist/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
            b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"
        )
        stalled.append(sock)
    try:
        assert answered(url, "/v2/models/mnist/infer", INFER) == 200
        assert all(closed_within(sock, 15) for sock in stalled)
    finally:
        for sock in stalled:
            sock.close()


def test_headers_sent_too_slowly_get_408_and_close(server):
    _, port = server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        answer = read_response(sock, timeout=15)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "request headers too slow"


@pytest.mark.parametrize(
    "payload",
    [
        HEAD + b"X-Big: " + b"a" * (1 << 20) + b"\r\n\r\n",
        HEAD + b"".join(b"X-%d: 1\r\n" % i for i in range(10000)) + b"\r\n",
        HEAD + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n",
    ],
    ids=["1 MB header", "10,000 headers", "20 KB header"],
)
def test_oversized_headers_are_431_with_the_json_error(server, payload):
    _, port = server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        try:
            sock.sendall(payload)
        except OSError:
            pass  # the server may close before all of it is sent; the answer is already there
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:80]
    assert "request headers too large" in json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]


def test_a_malformed_request_is_400_with_the_json_error(server):
    _, port = server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GARBAGE\x00\x01 / HTTP/9\r\n\r\n")
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"error": "malformed HTTP request"}


@pytest.mark.parametrize("kind", ["image/png", "multipart/form-data; boundary=XX"])
def test_a_chunked_body_past_the_limit_is_413_and_the_rest_is_not_read(server, kind):
    _, port = server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
            + f"Content-Type: {kind}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"%x\r\n" % 16384 + b"\0" * 16384 + b"\r\n"
        try:
            for _ in range(64):  # 1 MB offered against a 64 KB limit
                sock.sendall(chunk)
        except OSError:
            pass
        answer = read_response(sock)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
        assert b"connection: close" in answer.lower()
        assert closed_within(sock, 15)  # the server stopped reading


def tiff_chain(count: int) -> bytes:
    """A TIFF of ``count`` one-pixel images, each directory pointing at the next."""
    entries, ifd = 8, 2 + 12 * 8 + 4
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    pixel = 8 + count * ifd
    for i in range(count):
        nxt = 8 + (i + 1) * ifd if i + 1 < count else 0
        out += struct.pack("<H", entries)
        for tag, kind, value in ((256, 3, 1), (257, 3, 1), (258, 3, 8), (259, 3, 1), (262, 3, 1),
                                 (273, 4, pixel), (278, 3, 1), (279, 4, 1)):  # fmt: skip
            out += struct.pack("<HHII", tag, kind, 1, value)
        out += struct.pack("<I", nxt)
    return bytes(out + b"\x80")


def test_decoding_never_walks_a_tiffs_chain_of_directories(monkeypatch):
    """n_frames walks every directory (quadratic in Pillow: 39,000 took 20 s); decode never asks it."""
    from PIL import TiffImagePlugin

    from mnist_edge.preprocess.load import open_image_bytes

    def walked(self):
        raise AssertionError("n_frames was asked")

    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "n_frames", property(walked))
    assert open_image_bytes(tiff_chain(2000)).size == (1, 1)


def test_a_request_cut_off_by_the_grace_gets_503_and_the_log_no_traceback():
    proc, _, port = start_serve("--grace", "1", "--client-timeout", "30")
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\nab"
        )
        time.sleep(0.5)  # the request is in flight, waiting for the rest of its body
        proc.send_signal(signal.SIGTERM)
        answer = read_response(sock, timeout=20)
    assert proc.wait(timeout=30) == 0
    stderr = proc.stderr.read()
    assert answer.startswith(b"HTTP/1.1 503"), answer[:80]
    assert "Traceback" not in stderr and "CancelledError" not in stderr, stderr

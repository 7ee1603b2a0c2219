"""`mnist-edge serve` attacked as an attacker would on loopback: DoS, memory and bad-input probes.

Starts the service itself (1 worker, then 2), runs each probe against it and
prints one table per run:

- 300 silent sockets, then 64 stalled uploads: health and a real client
  answered (and how fast), how long until the server closed the sockets;
- a 1 MB header and 10,000 headers: the status (431 expected);
- pixels as huge integers, a lone-surrogate id, ragged rows: the status (400);
- ten maximum-size v2 requests ([1024, 28, 28], 4 MB of JSON): RSS after;
- 16 concurrent large images just under the memory budget, and 64 concurrent
  2 MB photo uploads: RSS peak, and RSS a while after (goal: under the
  shipped unit's MemoryMax=512M, back within 100 MB of the baseline);
- a TIFF with a chain of 39,000 one-pixel directories: seconds to answer;
- 20,000 garbage requests: how many answered 500 (goal 0);
- stop with SIGTERM: exit code and files left in $TMPDIR (goal none).

Loopback only, every loop bounded in count and time. Needs nothing beyond the
serve extra. Run: python benchmarks/serve_abuse.py [--workers 1 2] [--settle 60]
Exit code 1 if a goal is missed.
"""

import argparse
import concurrent.futures
import io
import json
import os
import random
import socket
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import Service

MEMORY_MAX_MB = 512  # scripts/mnist-edge.service
CLIENT_TIMEOUT = 10  # the serve default


def status_of(url, data=None, headers=None, timeout=10):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, time.perf_counter() - started
    except urllib.error.HTTPError as exc:
        return exc.code, time.perf_counter() - started
    except OSError:
        return None, time.perf_counter() - started


def raw_status(port, payload: bytes, timeout=10) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
        except OSError:
            pass
        try:
            head = sock.recv(200)
        except OSError:
            return "closed"
    return head.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"


def seconds_until_closed(socks, limit=60.0) -> float:
    started = time.monotonic()
    for sock in socks:
        sock.settimeout(max(0.1, limit - (time.monotonic() - started)))
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
        sock.close()
    return time.monotonic() - started


def clients_answered(svc) -> str:
    live, t_live = status_of(svc.url + "/v2/health/live")
    body = json.dumps(
        {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", "data": [0] * 784}]}
    )
    work, t_work = status_of(
        svc.url + "/v2/models/mnist/infer", body.encode(), {"Content-Type": "application/json"}
    )
    ok = live == 200 and work == 200 and max(t_live, t_work) < 1.0
    return f"health {live} in {t_live * 1000:.0f} ms, infer {work} in {t_work * 1000:.0f} ms", ok


def probe_silent(svc):
    socks = [socket.create_connection(("127.0.0.1", svc.port)) for _ in range(300)]
    answered, ok = clients_answered(svc)
    closed = seconds_until_closed(socks)
    return "300 silent sockets", f"{answered}; closed after {closed:.1f} s", ok and closed <= 30


STALLED_HEAD = (
    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n"
)
HEAD = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n"


def probe_stalled(svc):
    socks = []
    for _ in range(64):
        sock = socket.create_connection(("127.0.0.1", svc.port))
        sock.sendall(STALLED_HEAD + b"ab")
        socks.append(sock)
    time.sleep(0.5)
    answered, ok = clients_answered(svc)
    closed = seconds_until_closed(socks)
    return "64 stalled uploads", f"{answered}; closed after {closed:.1f} s", ok and closed <= 30


def probe_headers(svc):
    big = raw_status(svc.port, HEAD + b"X-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(10000))
    count = raw_status(svc.port, HEAD + many + b"\r\n")
    ok = all(s.split(" ")[1:2] in (["431"], ["400"]) for s in (big, count))
    return "1 MB header / 10,000 headers", f"{big} / {count}", ok


def probe_bad_bodies(svc):
    zeros = ", ".join(["0"] * 783)
    tensor = '{"name": "image", "shape": [1, 28, 28], "datatype": "%s", "data": %s}'
    ragged = json.dumps([[[0] * (27 if i % 2 else 29) for i in range(28)]])
    bodies = {
        "10**20": '{"inputs": [%s]}' % (tensor % ("UINT8", f"[{10**20}, {zeros}]")),
        "surrogate id": '{"id": "\\udfff", "inputs": [%s]}' % (tensor % ("UINT8", f"[0, {zeros}]")),
        "ragged": '{"inputs": [%s]}' % (tensor % ("UINT8", ragged)),
    }
    statuses = {
        name: status_of(
            svc.url + "/v2/models/mnist/infer", body.encode(), {"Content-Type": "application/json"}
        )[0]
        for name, body in bodies.items()
    }
    return (
        "bad bodies",
        ", ".join(f"{k} {v}" for k, v in statuses.items()),
        all(v == 400 for v in statuses.values()),
    )


def png_bytes(width, height, mode="RGBA") -> bytes:
    img = np.full((height, width, len(mode)), 255, np.uint8)
    img[height // 3 : height // 2, width // 3 : width // 2] = 0
    buffer = io.BytesIO()
    Image.fromarray(img, mode).save(buffer, "PNG")
    return buffer.getvalue()


def photo_bytes() -> bytes:
    """A 3200x2400 JPEG of noisy paper with a stroke: about 2 MB."""
    rng = np.random.default_rng(0)
    img = (rng.random((2400, 3200, 3)) * 40 + 180).astype(np.uint8)  # noisy paper: a big JPEG
    img[900:1500, 1400:1500] = 30
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def burst(svc, body: bytes, clients: int, rounds: int, settle: float):
    baseline = svc.rss_mb()
    peak = baseline
    statuses = {}

    def post(_):
        return status_of(svc.url + "/predict", body, {"Content-Type": "image/png"}, timeout=60)[0]

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(post, i) for i in range(clients * rounds)]
        while not all(f.done() for f in futures):
            peak = max(peak, svc.rss_mb())
            time.sleep(0.05)
        for f in futures:
            statuses[f.result()] = statuses.get(f.result(), 0) + 1
    time.sleep(settle)
    after = svc.rss_mb()
    ok = peak < MEMORY_MAX_MB and after - baseline <= 100 and 500 not in statuses
    figures = (
        f"RSS {baseline:.0f} -> peak {peak:.0f} -> {after:.0f} MB after {settle:.0f} s; statuses {statuses}"
    )
    return figures, ok


def probe_max_v2(svc, settle):
    """Ten maximum-size v2 requests ([1024, 28, 28] as 4 MB of JSON), one after another."""
    rng = np.random.default_rng(0)
    tensor = {"name": "image", "shape": [1024, 28, 28], "datatype": "UINT8"}
    tensor["data"] = rng.integers(0, 256, 1024 * 784).tolist()
    body = json.dumps({"inputs": [tensor]}).encode()
    baseline = svc.rss_mb()
    statuses = [
        status_of(svc.url + "/v2/models/mnist/infer", body, {"Content-Type": "application/json"}, 60)[0]
        for _ in range(10)
    ]
    time.sleep(min(settle, 5))
    after = svc.rss_mb()
    figures = f"{len(body) >> 20} MB each, statuses {set(statuses)}; RSS {baseline:.0f} -> {after:.0f} MB"
    return "10 maximum-size v2 requests", figures, set(statuses) == {200} and after - baseline <= 20


def probe_big_images(svc, settle):
    # 3200x3200 RGBA: 91 MB to read (decode_cost), just under the default budget's 96 MB decoding pool.
    figures, ok = burst(svc, png_bytes(3200, 3200), 16, 1, settle)
    return "16 large PNGs at once", figures, ok


def probe_photos(svc, settle):
    figures, ok = burst(svc, photo_bytes(), 64, 2, settle)
    return "64 x 2 MB photos at once", figures, ok


def tiff_chain(count=39000) -> bytes:
    """A little-endian TIFF of ``count`` one-pixel images, each directory pointing at the next."""
    entries = 8
    ifd_size = 2 + 12 * entries + 4
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    pixel_at = 8 + count * ifd_size
    for i in range(count):
        start = 8 + i * ifd_size
        nxt = start + ifd_size if i + 1 < count else 0
        tags = [(256, 3, 1, 1), (257, 3, 1, 1), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
                (273, 4, 1, pixel_at), (278, 3, 1, 1), (279, 4, 1, 1)]  # fmt: skip
        out += struct.pack("<H", entries)
        for tag, kind, n, value in tags:
            out += struct.pack("<HHII", tag, kind, n, value)
        out += struct.pack("<I", nxt)
    return bytes(out + b"\x80")


def probe_tiff(svc):
    status, seconds = status_of(
        svc.url + "/predict", tiff_chain(), {"Content-Type": "image/tiff"}, timeout=60
    )
    return "TIFF with 39,000 directories", f"{status} in {seconds:.2f} s", status is not None and seconds < 2


def probe_garbage(svc, n=20000):
    rng = random.Random(0)
    paths = ["/predict", "/v2/models/mnist/infer", "/v1/models/mnist:predict", "/v2", "/metrics", "/x"]
    statuses = {}

    def one(i):
        path = rng.choice(paths)
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
        kind = rng.choice(["application/json", "image/png", "multipart/form-data; boundary=x", "text/plain"])
        return status_of(svc.url + path, body, {"Content-Type": kind}, timeout=10)[0]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for status in pool.map(one, range(n)):
            statuses[status] = statuses.get(status, 0) + 1
    return f"{n} garbage requests", f"statuses {dict(sorted(statuses.items(), key=str))}", 500 not in statuses


def run(workers, settle, garbage):
    # The service gets a TMPDIR of its own: what it leaves there is its own.
    tmp = Path(tempfile.mkdtemp(prefix="serve-abuse-tmp-"))
    svc = Service(workers, env=dict(os.environ, TMPDIR=str(tmp)))
    rows = []
    try:
        for probe in (probe_silent, probe_stalled, probe_headers, probe_bad_bodies, probe_tiff):
            rows.append(probe(svc))
        rows.append(probe_max_v2(svc, settle))
        rows.append(probe_big_images(svc, settle))
        rows.append(probe_photos(svc, settle))
        rows.append(probe_garbage(svc, garbage))
    finally:
        code = svc.stop()
    time.sleep(0.5)
    left = sorted(p.name for p in tmp.iterdir())
    if not left:
        tmp.rmdir()
    rows.append(("SIGTERM", f"exit {code}; files left in TMPDIR: {left or 'none'}", code == 0 and not left))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to wait before RSS 'after'")
    parser.add_argument("--garbage", type=int, default=20000)
    args = parser.parse_args()
    failed = False
    for workers in args.workers:
        print(f"\nmnist-edge serve, {workers} worker(s)")
        for name, figures, ok in run(workers, args.settle, args.garbage):
            print(f"  {name:<30} {'PASS' if ok else 'FAIL'}  {figures}")
            failed |= not ok
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

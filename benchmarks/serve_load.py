"""`mnist-edge serve` under load, on loopback only; it starts and stops the service itself.

Shows, side by side in one run:

1. v2 infer, one 28x28 UINT8 image per request, 16 concurrent keep-alive
   clients (ApacheBench, `ab`): requests/s and p50/p99 latency, for 1 worker
   and for one worker per core. Goal: >= 2,000 requests/s with p99 <= 20 ms.
2. /predict with photo-like JPEGs (16 concurrent clients) against the same
   front-end and model called in-process on the same files, both on all
   cores (a worker per core; a process per core). Goal: >= 0.7x.
3. Memory: the service's RSS after 1,000 and after --requests more requests
   (goal: within 10 MB).

Needs `ab` (Debian's apache2-utils). Bounded: every phase has a request count.
Run: MNIST_EDGE_DATA=../shared/data/mnist python benchmarks/serve_load.py [--requests 100000]
Exit code 1 if a goal is missed.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from mnist_edge import data
from mnist_edge.synthesis import synth


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """`mnist-edge serve` in a child process, stopped with SIGTERM."""

    def __init__(self, workers: int, extra=(), env=None):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mnist_edge",
                "serve",
                "-q",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/v2/health/ready", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the service did not start: " + self.proc.stderr.read().decode()[-500:])

    def rss_mb(self) -> float:
        """Resident memory of the service and its workers, MB."""
        pids = [self.proc.pid] + [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True
            ).stdout.split()
        ]
        total = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def ab(url: str, requests: int, concurrency: int, body: Path, content_type: str) -> dict:
    """ApacheBench with keep-alive: requests/s, p50, p99 (ms), failures."""
    out = subprocess.run(
        [
            "ab",
            "-q",
            "-k",
            "-n",
            str(requests),
            "-c",
            str(concurrency),
            "-p",
            str(body),
            "-T",
            content_type,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))
    p50 = float(re.search(r"\s50%\s+(\d+)", out).group(1))
    p99 = float(re.search(r"\s99%\s+(\d+)", out).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "failed": failed + (int(non2xx.group(1)) if non2xx else 0),
    }


def infer_body(folder: Path, image: np.ndarray) -> Path:
    path = folder / "infer.json"
    path.write_text(
        json.dumps(
            {
                "inputs": [
                    {
                        "name": "image",
                        "shape": [1, 28, 28],
                        "datatype": "UINT8",
                        "data": image.ravel().tolist(),
                    }
                ]
            }
        )
    )
    return path


def post_photos(port: int, photos, concurrency: int):
    """POSTs every photo to /predict from ``concurrency`` keep-alive clients; returns the labels."""
    import http.client
    import threading

    local = threading.local()

    def post(path):
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        local.conn.request("POST", "/predict", body=path.read_bytes(), headers={"Content-Type": "image/jpeg"})
        response = local.conn.getresponse()
        document = json.loads(response.read())
        return document.get("label", "?") if response.status == 200 else None

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(post, photos))


def _read_files(paths):
    from mnist_edge import runtime
    from mnist_edge.runtime import reading

    reader = reading.Reader(runtime.Predictor(runtime.default_model_path(), num_threads=1))
    return [reader.read_file(p).label for p in paths]


def in_process_rate(paths, cores: int) -> float:
    """Images/s of the front-end and model called in-process, one process per core."""
    chunks = [paths[k::cores] for k in range(cores)]
    with concurrent.futures.ProcessPoolExecutor(cores) as pool:
        list(pool.map(_read_files, [c[:2] for c in chunks]))  # warm the workers
        t0 = time.perf_counter()
        list(pool.map(_read_files, chunks))
        return len(paths) / (time.perf_counter() - t0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="memory phase request count")
    parser.add_argument("--infer-requests", type=int, default=20_000)
    parser.add_argument("--photos", type=int, default=200)
    args = parser.parse_args()
    if not shutil.which("ab"):
        sys.exit("needs ab (apt-get install apache2-utils)")
    cores = os.cpu_count() or 1
    dataset = data.load()
    tmp = Path(tempfile.mkdtemp())
    body = infer_body(tmp, dataset.x_test[0])
    rng = np.random.default_rng(1)
    photos = []
    for k in range(args.photos):
        path = tmp / f"photo_{k}.jpg"
        path.write_bytes(synth.render_photo(dataset.x_test[k], rng))
        photos.append(path)
    failed = []
    print(f"{cores} cores; v2 infer: one 28x28 UINT8 image per request, 16 concurrent clients (ab -k)")
    for workers in sorted({1, cores}):
        service = Service(workers)
        try:
            ab(service.url + "/v2/models/mnist/infer", 2000, 16, body, "application/json")  # warm-up
            r = ab(service.url + "/v2/models/mnist/infer", args.infer_requests, 16, body, "application/json")
        finally:
            service.stop()
        ok = r["rps"] >= 2000 and r["p99_ms"] <= 20 and r["failed"] == 0
        if workers == cores:
            failed += [] if ok else ["v2 infer"]
        print(
            f"  {workers} worker(s): {r['rps']:8.0f} requests/s  p50 {r['p50_ms']:.0f} ms  "
            f"p99 {r['p99_ms']:.0f} ms  failed {r['failed']}"
            + (f"   goal >= 2000/s, p99 <= 20 ms: {'PASS' if ok else 'FAIL'}" if workers == cores else "")
        )

    service = Service(cores)
    try:
        post_photos(service.port, photos[:16], 16)  # warm-up
        t0 = time.perf_counter()
        answers = post_photos(service.port, photos, 16)
        served = len(photos) / (time.perf_counter() - t0)
    finally:
        service.stop()
    if sum(a is None for a in answers):
        failed.append("/predict errors")
    direct = in_process_rate(photos * 1, cores)
    ratio = served / direct
    failed += [] if ratio >= 0.7 else ["/predict"]
    print(
        f"/predict photo-like JPEGs, {cores} workers, 16 concurrent: {served:.1f} images/s; "
        f"in-process on {cores} cores: {direct:.1f} images/s; ratio {ratio:.2f} "
        f"(goal >= 0.7): {'PASS' if ratio >= 0.7 else 'FAIL'}"
    )

    service = Service(1)
    try:
        ab(service.url + "/v2/models/mnist/infer", 1000, 16, body, "application/json")
        after_1k = service.rss_mb()
        ab(service.url + "/v2/models/mnist/infer", args.requests, 16, body, "application/json")
        after_more = service.rss_mb()
        code = service.stop()
    finally:
        if service.proc.poll() is None:
            service.stop()
    grew = after_more - after_1k
    failed += [] if grew <= 10 else ["memory"]
    print(
        f"memory: RSS {after_1k:.1f} MB after 1,000 requests, {after_more:.1f} MB after "
        f"{args.requests:,} more ({grew:+.1f} MB, goal <= 10): {'PASS' if grew <= 10 else 'FAIL'}; "
        f"SIGTERM exit code {code}"
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

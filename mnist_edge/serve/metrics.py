"""Prometheus metrics for ``serve``, with prometheus_client.

Requests by endpoint (the route, never the raw path: bounded labels) and
status, a latency histogram per endpoint, answers by kind (a digit, "not a
digit"), and the model's identity as an info metric. With several worker
processes, prometheus_client's multiprocess mode (a shared folder named by
``PROMETHEUS_MULTIPROC_DIR``, set up by :mod:`mnist_edge.serve.server`)
makes ``/metrics`` report all of them, whichever worker answers.
"""

from __future__ import annotations

import glob
import os
from typing import List

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The service's metrics in their own registry."""

    def __init__(self, model_info: dict):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mnist_edge_requests",
            "HTTP requests by endpoint and status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mnist_edge_request_seconds",
            "Request latency by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "mnist_edge_answers",
            "Images answered, by kind (digit, not_a_digit, number, not_a_number)",
            ["kind"],
            registry=self.registry,
        )
        info = Gauge(
            "mnist_edge_model_info",
            "The served model (value 1)",
            sorted(model_info),
            registry=self.registry,
            multiprocess_mode="max",
        )
        info.labels(**model_info).set(1)

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        """Counts one request and its latency."""
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def exposition(self) -> bytes:
        """The Prometheus text format (all workers' metrics in multiprocess mode)."""
        from prometheus_client import CollectorRegistry, generate_latest

        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if folder:
            registry = CollectorRegistry()
            _all_workers_collector(registry, folder)
            return generate_latest(registry)
        return generate_latest(self.registry)


def _all_workers_collector(registry, folder: str):
    """prometheus_client's multiprocess collector, reading only the files workers have written.

    A worker creates its metrics file and only then sizes it; a scrape in
    between read the empty file, raised, and answered 500 for every worker's
    metrics (prometheus/client_python#1199, open; seen here as a 500 on
    ``/metrics`` right after ``serve --workers 2`` started).
    """
    from prometheus_client import multiprocess

    class AllWorkersCollector(multiprocess.MultiProcessCollector):
        def collect(self):
            return self.merge(written_files(folder), accumulate=True)

    return AllWorkersCollector(registry, path=folder)


def written_files(folder: str) -> List[str]:
    """The workers' metrics files in ``folder``, less empty ones (a worker still creating its file).

    A file removed between listing and reading (a worker that stopped) is
    left out too.
    """
    files = []
    for path in sorted(glob.glob(os.path.join(folder, "*.db"))):
        try:
            if os.path.getsize(path) > 0:
                files.append(path)
        except OSError:
            continue
    return files


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

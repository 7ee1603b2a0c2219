"""Prometheus metrics for ``serve``, with prometheus_client.

Requests by endpoint (the route, never the raw path: bounded labels) and
status, a latency histogram per endpoint, answers by kind (a digit, "not a
digit"), and the model's identity as an info metric. With several worker
processes, prometheus_client's multiprocess mode (a shared folder named by
``PROMETHEUS_MULTIPROC_DIR``, set up by :mod:`mnist_edge.serve.server`)
makes ``/metrics`` report all of them, whichever worker answers.
"""

from __future__ import annotations

import os

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
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

"""Running ``serve``: the model checked once, then uvicorn with N worker processes.

Workers are separate processes (uvicorn's own supervisor), each with its own
Predictor: an interpreter is single-threaded work, so processes are how the
service uses every core. Their settings travel in one environment variable
(``MNIST_EDGE_SERVE``, JSON) to :func:`app_from_env`, the factory uvicorn
imports in each worker. SIGTERM is uvicorn's graceful shutdown: no new
connections, the requests in flight finish, then exit 0.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import tempfile
import threading
from typing import Callable, Optional

from mnist_edge.runtime import Predictor
from mnist_edge.serve.app import create_app
from mnist_edge.serve.connection import LIMITS_ENV, ConnectionLimits, GuardedHttpProtocol
from mnist_edge.serve.memory import tune_allocator

CONFIG_ENV = "MNIST_EDGE_SERVE"


@dataclasses.dataclass
class ServeConfig:
    """What a worker needs to build the app."""

    model: str
    token: Optional[str] = None
    max_body: int = 4 << 20
    max_inflight: int = 64
    min_confidence: Optional[float] = None
    threads: Optional[int] = 1
    runtime: str = "auto"
    memory_budget: int = 128 << 20


def app_from_env():
    """uvicorn's factory in each worker: the app for the config in ``MNIST_EDGE_SERVE``."""

    tune_allocator()  # large buffers back to the system after a burst (see serve.memory)
    config = ServeConfig(**json.loads(os.environ[CONFIG_ENV]))
    predictor = Predictor(config.model, num_threads=config.threads, runtime=config.runtime)
    return create_app(
        predictor,
        config.min_confidence,
        config.token,
        config.max_body,
        config.max_inflight,
        config.memory_budget,
    )


def _already_handled(signum, frame) -> None:
    """SIGTERM after uvicorn's graceful shutdown: nothing left to do."""


def serve(
    config: ServeConfig,
    host: str,
    port: int,
    workers: int,
    log_level: str = "warning",
    untrusted: bool = True,
    announce: Callable[[], None] = lambda: None,
    limits: Optional[ConnectionLimits] = None,
    grace_s: float = 15.0,
) -> None:
    """Checks the model once, then runs uvicorn until SIGTERM / Ctrl-C.

    ``announce`` is called once the model loaded, so "serving ..." is never
    said of a model that cannot be served.

    Raises:
        RuntimeModelError: the model cannot be served.
    """
    import uvicorn

    # Validate (and, for a user's file, probe in a child) before any worker starts.
    Predictor(config.model, num_threads=config.threads, runtime=config.runtime, untrusted=untrusted)
    announce()
    os.environ[CONFIG_ENV] = json.dumps(dataclasses.asdict(config))
    os.environ[LIMITS_ENV] = json.dumps(dataclasses.asdict(limits or ConnectionLimits()))
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="mnist-edge-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # uvicorn re-raises the SIGTERM it handled once it has shut down; by then the
    # shutdown was graceful, so the re-raised signal must not turn into exit 143.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _already_handled)
    try:
        uvicorn.run(
            "mnist_edge.serve.server:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            access_log=False,
            server_header=False,
            # Connection limits live in the protocol (timeouts, header limits, a connection
            # cap); work limits in the app. uvicorn's limit_concurrency would count silent
            # sockets and refuse health and real clients alike, so it is off.
            http=GuardedHttpProtocol,
            limit_concurrency=None,
            timeout_graceful_shutdown=grace_s,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)  # the workers' metric files

"""``mnist-edge serve``."""

from __future__ import annotations

import os
import re

import click

from mnist_edge.cli.common import MIN_CONFIDENCE_OPTION, RUNTIME_OPTION, logger


class ByteSize(click.ParamType):
    """A size such as ``4MB``, ``512KB`` or ``1000000``."""

    name = "size"
    UNITS = {"": 1, "B": 1, "KB": 1024, "K": 1024, "MB": 1024**2, "M": 1024**2, "GB": 1024**3}

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B?)\s*", str(value).upper())
        if not match or match.group(2) not in self.UNITS:
            self.fail(f"{value!r} is not a size like 4MB, 512KB or 1000000", param, ctx)
        size = int(float(match.group(1)) * self.UNITS[match.group(2)])
        if size < 1024:
            self.fail("a size must be at least 1KB", param, ctx)
        return size


@click.command(name="serve")
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, readable=False, path_type=str),
    default=None,
    help="The .tflite model (default: the shipped model).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; use 0.0.0.0 to serve the network (say so on purpose).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (one per core uses every core).",
)
@click.option(
    "--token",
    default=None,
    envvar="MNIST_EDGE_TOKEN",
    show_envvar=True,
    help="Require 'Authorization: Bearer TOKEN' on every endpoint but health and the page.",
)
@click.option(
    "--max-body",
    type=ByteSize(),
    default="4MB",
    show_default=True,
    help="Largest request body (413 beyond it, without reading it all).",
)
@click.option(
    "--max-inflight",
    type=click.IntRange(1, 100_000),
    default=64,
    show_default=True,
    help="Requests handled at once per worker before answering 503.",
)
@click.option(
    "--memory-budget",
    type=ByteSize(),
    default="128MB",
    show_default=True,
    help="Bytes the requests in flight may hold per worker (bodies, decoded images); "
    "past it a request waits up to 5 s, then 503; one that could never fit gets 413.",
)
@click.option(
    "--client-timeout",
    type=click.FloatRange(0.1, 3600),
    default=10.0,
    show_default=True,
    help="Seconds a client may take to send its request headers, and may pause while sending a "
    "body; a slower or silent connection is closed.",
)
@click.option(
    "--grace",
    type=click.FloatRange(0, 3600),
    default=15.0,
    show_default=True,
    help="On SIGTERM, seconds the requests in flight get to finish before they are dropped.",
)
@MIN_CONFIDENCE_OPTION
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Interpreter threads per worker.",
)
@RUNTIME_OPTION
@click.option("--quiet", "-q", is_flag=True, help="Only errors on stderr.")
def command(
    model_path,
    host,
    port,
    workers,
    token,
    max_body,
    max_inflight,
    memory_budget,
    client_timeout,
    grace,
    min_confidence,
    threads,
    runtime_name,
    quiet,
):
    """Serve the model on the network: KServe v2, TF-Serving REST, image upload, a web page.

    Endpoints: GET /v2/health/live|ready, GET /v2/models/NAME, POST
    /v2/models/NAME/infer (a [N,28,28] UINT8 or FP32 tensor), POST
    /v1/models/NAME:predict (TF-Serving instances), POST /predict (an image:
    the same answer as `mnist-edge predict --json`), GET /metrics
    (Prometheus), GET / (draw or photograph a digit). NAME is the model
    file's stem, or `mnist`. SIGTERM finishes the requests in flight (for
    --grace seconds), then exits 0. Limits: --max-body, --max-inflight,
    --memory-budget per worker; --client-timeout for slow or silent clients;
    request headers at most 16 KB and 64 fields (431).
    """
    from mnist_edge.errors import require_serve_extra
    from mnist_edge.runtime import default_model_path

    require_serve_extra()
    from mnist_edge.serve.connection import ConnectionLimits
    from mnist_edge.serve.server import ServeConfig, serve

    if memory_budget < 4 * max_body:
        raise click.UsageError("--memory-budget must be at least four times --max-body")
    model = model_path or str(default_model_path())
    config = ServeConfig(
        model=model,
        token=token or None,
        max_body=max_body,
        max_inflight=max_inflight,
        min_confidence=min_confidence,
        threads=threads,
        runtime=runtime_name,
        memory_budget=memory_budget,
    )
    limits = ConnectionLimits(header_timeout=client_timeout, body_timeout=client_timeout)
    log = logger(quiet)
    where = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"

    def announce():
        log(
            f"serving {model} on {where} with {workers} worker(s)"
            f"{', token required' if token else ''}; Ctrl-C or SIGTERM stops it"
        )
        if (
            host not in ("127.0.0.1", "localhost", "::1")
            and not token
            and not os.environ.get("MNIST_EDGE_TOKEN")
        ):
            log("note: listening beyond this machine without --token: anyone on the network can use it")

    serve(
        config,
        host,
        port,
        workers,
        log_level="error" if quiet else "warning",
        untrusted=model_path is not None,
        announce=announce,
        limits=limits,
        grace_s=grace,
    )

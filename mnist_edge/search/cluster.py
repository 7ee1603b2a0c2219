"""Ray for a search: started here or joined at an address, quietly, and stopped gracefully.

:func:`connect` starts a Ray instance on this machine (``address="local"``:
never silently a ``ray start`` cluster the machine happens to run) or joins
the cluster at ``--ray-address`` after :func:`check_address` has made sure
something answers there, sending the cluster's token when one is at hand
(:func:`use_cluster_token`). :func:`graceful_stop` turns Ctrl-C and SIGTERM
into Ray Tune's own graceful stop, which saves the experiment's state.

Ray is imported inside :func:`connect` (the ``search`` extra).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Callable

from mnist_edge.errors import InputError, RayClusterError
from mnist_edge.search.config import SearchConfig

TOKEN_FILE = (
    Path.home() / ".ray" / "auth_token"
)  # where `ray start` keeps the cluster's token  # a third of the trials at each rung go on


# Ray Tune's own console output (a box per run, TensorBoard hints, snapshot warnings): the
# search prints its own progress lines.
QUIET_RAY_ENV = {
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    "RAY_DEDUP_LOGS": "0",
}


def quiet_ray() -> None:
    """Before Ray is imported: no console output but the search's own, and Optuna's warnings only."""
    for name, value in QUIET_RAY_ENV.items():
        os.environ.setdefault(name, value)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def check_address(address: str, timeout: float = 5.0) -> None:
    """Fails in one line when nothing listens at ``HOST:PORT`` (Ray's own wait is long and loud).

    Raises:
        InputError: not ``HOST:PORT``; RayClusterError: nothing answers.
    """
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray-address {address!r}: expected HOST:PORT, e.g. 192.168.1.10:6379")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise RayClusterError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
            f"`ray start --head --port {port}` on that machine, or leave out --ray-address"
        ) from None


def use_cluster_token() -> None:
    """Sends the cluster's token when one is at hand (``ray start`` enables token authentication).

    Ray's driver sends none unless ``RAY_AUTH_MODE=token``; the token is read from
    ``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token`` (copied from the
    head node on another machine).
    """
    has_token = (
        any(os.environ.get(v) for v in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")) or TOKEN_FILE.exists()
    )
    if has_token and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"


def _auth_hint(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    text = str(cause).strip().splitlines()[0][:160] if str(cause).strip() else type(cause).__name__
    if "auth" in type(cause).__name__.lower() or "token" in str(cause).lower():
        return (
            f"it asks for its authentication token; copy {TOKEN_FILE} from the head node here "
            "(or set RAY_AUTH_TOKEN)"
        )
    return text


@contextlib.contextmanager
def connect(config: SearchConfig, log: Callable[[str], None]):
    """Ray for the search's duration: a cluster at ``config.ray_address``, else started here."""
    if config.ray_address:
        check_address(config.ray_address)
        use_cluster_token()
    import ray

    try:
        ray.init(
            # "local": a new instance here, never a `ray start` cluster this machine happens to run
            address=config.ray_address or "local",
            num_cpus=None if config.ray_address else os.cpu_count(),
            include_dashboard=False,
            log_to_driver=False,  # TensorFlow's start-up chatter in every worker
            logging_level=logging.WARNING,
            configure_logging=True,
        )
    except (ConnectionError, ray.exceptions.RayError) as exc:
        raise RayClusterError(
            f"cannot join the Ray cluster at {config.ray_address}: {_auth_hint(exc)}"
        ) from None
    cpus = int(ray.cluster_resources().get("CPU", 0))
    log(
        f"ray {ray.__version__}: {len(ray.nodes())} node(s), {cpus} CPUs"
        + (f" at {config.ray_address}" if config.ray_address else " (started here)")
    )
    try:
        yield {
            "version": ray.__version__,
            "address": config.ray_address or "local",
            "nodes": len(ray.nodes()),
            "cpus": cpus,
        }
    finally:
        ray.shutdown()


@contextlib.contextmanager
def graceful_stop():
    """Ctrl-C and SIGTERM ask Tune to stop and save its state (Tune's SIGUSR1); a second one stops at once."""
    state = {"signal": None}

    def handler(signum, frame):
        if state["signal"] is not None:
            raise KeyboardInterrupt
        state["signal"] = signum
        os.kill(os.getpid(), signal.SIGUSR1)

    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"  # ours, for SIGTERM too
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield state
    finally:
        for s, h in previous.items():
            signal.signal(s, h)

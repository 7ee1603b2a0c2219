"""The first load of an untrusted model runs in a child process.

The validator (:mod:`mnist_edge.runtime.validate`) refuses every corruption
we know of, but an interpreter's C++ may still crash on a file that passes
(a kernel that trusts a parameter we do not check). A crash must not take
the user's process down with it, so a ``--model`` the user names is first
built, allocated and invoked once in a child; a signal there becomes one
line here. The verdict is remembered by the file's SHA-256 (and the
interpreter's name and version), so the cost (~0.2 s) is paid once per model.
The packaged default model is trusted and never probed.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from mnist_edge.constants import cache_root
from mnist_edge.errors import RuntimeModelError

PROBE_TIMEOUT = 60.0
_PROBE = r"""
import sys
import numpy as np
from mnist_edge.errors import MnistEdgeError
from mnist_edge.runtime import backends
path, runtime_name = sys.argv[1], sys.argv[2]
try:
    cls, name, _ = backends.load_interpreter_class(runtime_name)
    it = backends.build_interpreter(cls, name, open(path, "rb").read(), path)
    detail = it.get_input_details()[0]
    it.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=detail["dtype"]))
    it.invoke()
    it.get_tensor(it.get_output_details()[0]["index"])
except MnistEdgeError as exc:
    sys.exit(str(exc))
except Exception as exc:  # whatever the interpreter raises: one line for the parent
    sys.exit(f"{path}: cannot run TFLite model ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})")
print("ok")
"""


def python_command() -> list:
    """How to start a child Python: ``$MNIST_EDGE_PYTHON`` (split like a shell) or this interpreter.

    The override is for interpreters that cannot start themselves: an arm64
    Python under qemu-user without binfmt support (the Pi check) names a
    wrapper that runs qemu.
    """
    override = os.environ.get("MNIST_EDGE_PYTHON")
    return shlex.split(override) if override else [sys.executable]


def verdict_dir() -> Path:
    """Where probe verdicts are kept ($MNIST_EDGE_CACHE or ~/.cache/mnist-edge)."""
    return cache_root() / "verified-models"


def _describe_crash(returncode: int) -> str:
    try:
        return f"signal {signal.Signals(-returncode).name}"
    except ValueError:
        return f"signal {-returncode}"


def probe(path: Path, sha256: str, runtime_name: str, runtime_version: str) -> None:
    """Loads and invokes a model once in a child process, unless it passed before.

    Args:
        path: the model file (already validated).
        sha256: its SHA-256 (the verdict's key).
        runtime_name: the interpreter to probe with.
        runtime_version: its version (part of the key).

    Raises:
        RuntimeModelError: the child crashed, failed or hung.
    """
    marker = verdict_dir() / f"{sha256}-{runtime_name}-{runtime_version}"
    if marker.exists():
        return
    try:
        result = subprocess.run(
            python_command() + ["-c", _PROBE, str(path), runtime_name],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        )
    except subprocess.TimeoutExpired:
        raise RuntimeModelError(
            f"{path}: loading the model did not finish in {PROBE_TIMEOUT:.0f} s; refusing it"
        ) from None
    if result.returncode < 0:
        raise RuntimeModelError(
            f"{path}: the {runtime_name} interpreter crashed on this model "
            f"({_describe_crash(result.returncode)}); it cannot be used"
        )
    if result.returncode != 0 or "ok" not in result.stdout:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise RuntimeModelError(
            lines[-1][:300] if lines else f"{path}: cannot load TFLite model (exit code {result.returncode})"
        )
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # no cache: the probe simply runs again next time

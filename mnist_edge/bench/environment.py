"""What the numbers depend on (CPU, OS, Python, numpy, interpreter), and measuring a fresh process."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from typing import Optional, Sequence

import numpy as np

from mnist_edge.runtime.guard import python_command

# Measures one fresh process: wall time and its own peak RSS. Run through
# this small launcher because ru_maxrss of a child forked from a big process
# counts pages it inherited before exec.
_LAUNCHER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)\n"
    "w = time.perf_counter() - t\n"
    "import json\n"
    "print(json.dumps({'rc': r.returncode, 'wall': w, 'stdout': r.stdout, 'stderr': r.stderr[-2000:],\n"
    "    'maxrss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))\n"
)


def measure_process(cmd: Sequence[str], env: Optional[dict] = None) -> dict:
    """Runs ``cmd`` in a fresh process; returns rc, wall seconds, peak RSS bytes, output.

    Args:
        cmd: the command line.
        env: environment for the child (default: inherited).

    Returns:
        ``{"rc", "wall", "maxrss", "stdout", "stderr"}``.
    """

    out = subprocess.run(
        python_command() + ["-c", _LAUNCHER] + list(cmd), capture_output=True, text=True, check=True, env=env
    ).stdout
    return json.loads(out)


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (or what platform knows)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def environment(interpreter: str, interpreter_version: str, threads: Sequence[int]) -> dict:
    """CPU, OS, Python, numpy, interpreter, threads: what the numbers depend on."""
    env = {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "interpreter": interpreter,
        "interpreter_version": interpreter_version,
        "threads": list(threads),
        "delegate": "XNNPACK (default) and none (builtin kernels), both measured",
        "timer": "time.perf_counter_ns around the measured call only; interleaved windows spread "
        "over >= 2 s; p50 = the least-disturbed window's p50 (median of windows and all-sample "
        "p50 beside it)",
        "emulated": _emulated(),
    }
    for name in ("tensorflow", "keras"):
        if name in sys.modules:
            env[name] = getattr(sys.modules[name], "__version__", "unknown")
    return env


def _emulated() -> Optional[str]:
    """The CPU qemu emulates, when running under qemu-user (its timings are not the device's)."""
    cpu = os.environ.get("QEMU_CPU")
    if cpu:
        return f"qemu {cpu}"
    try:
        with open("/proc/self/maps") as handle:
            if "qemu" in handle.read():
                return "qemu"
    except OSError:
        pass
    return None

"""Timing that holds still: interleaved windows spread over time, least-disturbed window.

LiteRT's ``benchmark_model`` reports init time, the first inference, the
warm-up mean and steady-state statistics; MLPerf Tiny runs at least ten
inferences for at least ten seconds and reports a median. This module does
the same from Python, for several configurations at once:

* every configuration is warmed up (and its first call timed) before any
  measuring starts;
* measuring runs in windows, round-robin over the configurations, and the
  rounds are spread over at least :data:`SPREAD_SECONDS`, so a burst of load
  from elsewhere lands on all configurations alike;
* the headline p50 is the p50 of the least-disturbed window. On the shared
  2-core VM this project is built on, the host alternates the same process
  between two speeds (3.8 µs and 5.5-6.5 µs for one int8 call) for stretches
  of 0.1-1 s, whoever is measuring: the median of windows then depends on
  which stretch a run lands in (3.8-6.3 µs from run to run), the fastest
  window's p50 does not (3.71-3.82 µs). The median of the windows' p50s and
  the p50 of all samples are reported beside it, and p90/p99/mean/std/min
  come from all samples, so the interference stays visible;
* the cyclic garbage collector is paused inside a window (the timed calls
  create no reference cycles, and a collection would be charged to one
  arbitrary call).

numpy only; ``time.perf_counter_ns`` around the measured call only.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from typing import Callable, Dict, List, Sequence

import numpy as np

SPREAD_SECONDS = 2.0  # one measurement's rounds span at least this long, all configurations together
WINDOWS = 20


def percentile(sorted_ns: np.ndarray, q: float) -> float:
    """Linear-interpolation percentile of sorted values (``q`` in [0, 100]).

    Written out because ``np.percentile`` costs ~18 ms of lazy imports on
    first use, which would land inside the first measurement.
    """
    if len(sorted_ns) == 0:
        return 0.0
    pos = (len(sorted_ns) - 1) * q / 100.0
    lo = int(np.floor(pos))
    hi = min(lo + 1, len(sorted_ns) - 1)
    return float(sorted_ns[lo] + (sorted_ns[hi] - sorted_ns[lo]) * (pos - lo))


def summarize(samples_ns: Sequence[int], window_p50_us: Sequence[float] = ()) -> dict:
    """Latency statistics in µs.

    ``p50`` is the least-disturbed window's p50 when windows are given (else
    the p50 of all samples); ``p50_median_of_windows`` and ``p50_all`` are
    beside it; p90, p99, mean, std and min come from all samples.
    """
    arr = np.sort(np.asarray(samples_ns, dtype=np.float64)) / 1000.0
    p50_all = percentile(arr, 50)
    windows = np.sort(np.asarray(window_p50_us, dtype=np.float64))
    return {
        "p50": round(float(windows[0]) if len(windows) else p50_all, 3),
        "p50_median_of_windows": round(float(windows[len(windows) // 2]) if len(windows) else p50_all, 3),
        "p50_all": round(p50_all, 3),
        "p90": round(percentile(arr, 90), 3),
        "p99": round(percentile(arr, 99), 3),
        "mean": round(float(arr.mean()), 3) if len(arr) else 0.0,
        "std": round(float(arr.std()), 3) if len(arr) else 0.0,
        "min": round(float(arr[0]), 3) if len(arr) else 0.0,
        "runs": int(len(arr)),
        "windows": int(len(windows)),
    }


def timed_calls(call: Callable[[], object], runs: int) -> List[int]:
    """Nanoseconds of ``runs`` calls of ``call``."""
    ns = time.perf_counter_ns
    samples = [0] * runs
    for k in range(runs):
        t0 = ns()
        call()
        samples[k] = ns() - t0
    return samples


@dataclasses.dataclass
class Measured:
    """What one configuration's timing produced."""

    first_us: float
    warmup_mean_us: float
    samples: List[int] = dataclasses.field(default_factory=list)
    window_p50_us: List[float] = dataclasses.field(default_factory=list)

    def figures(self) -> dict:
        """``first_inference_us``, ``warmup_mean_us`` and ``latency_us``."""
        return {
            "first_inference_us": round(self.first_us, 3),
            "warmup_mean_us": round(self.warmup_mean_us, 3),
            "latency_us": summarize(self.samples, self.window_p50_us),
        }


def interleaved(
    calls: Dict[str, Callable[[], object]],
    runs: int,
    warmup: int,
    windows: int = WINDOWS,
    min_seconds: float = 0.0,
    spread_seconds: float = SPREAD_SECONDS,
) -> Dict[str, Measured]:
    """Times several configurations side by side.

    Args:
        calls: configuration name -> the call to time.
        runs: timed calls per configuration (at least; see ``min_seconds``).
        warmup: untimed calls per configuration before measuring.
        windows: how many round-robin windows the runs are split into.
        min_seconds: run each configuration at least this long in total
            (at least 10 runs), as MLPerf Tiny does.
        spread_seconds: all configurations' windows together span at least
            this long, so that the least-disturbed window is found.

    Returns:
        name -> :class:`Measured`.
    """
    measured = {}
    for name, call in calls.items():
        t0 = time.perf_counter_ns()
        call()
        first = (time.perf_counter_ns() - t0) / 1000.0
        warm = timed_calls(call, max(1, warmup))
        measured[name] = Measured(first, float(np.mean(warm)) / 1000.0)
    per_call_s = {n: max(m.warmup_mean_us, 0.01) / 1e6 for n, m in measured.items()}
    windows = max(1, windows)
    seconds = max(min_seconds, spread_seconds / max(1, len(calls)))
    per_window = {n: max(1, -(-max(runs, 10, int(seconds / per_call_s[n])) // windows)) for n in calls}
    for _ in range(windows):
        for name, call in calls.items():
            enabled = gc.isenabled()
            gc.disable()
            try:
                samples = timed_calls(call, per_window[name])
            finally:
                if enabled:
                    gc.enable()
            measured[name].samples.extend(samples)
            measured[name].window_p50_us.append(
                percentile(np.sort(np.asarray(samples, np.float64)), 50) / 1000.0
            )
    return measured

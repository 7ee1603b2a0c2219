"""bench's timing: the statistics, the interleaving and the spread over time (no speed goals)."""

import time

import pytest

from mnist_edge.bench import timing


@pytest.mark.parametrize(
    "values,q,expected",
    [([1, 2, 3, 4, 5], 50, 3), ([1, 2, 3, 4], 50, 2.5), ([10], 99, 10), ([1, 3], 0, 1), ([1, 3], 100, 3)],
)
def test_percentile_interpolates_linearly(values, q, expected):
    import numpy as np

    assert timing.percentile(np.asarray(values, float), q) == pytest.approx(expected)


def test_headline_p50_is_the_least_disturbed_window():
    samples = [3800] * 50 + [6000] * 50  # ns: half of the run on a disturbed host
    figures = timing.summarize(samples, window_p50_us=[6.0, 3.8, 6.1, 3.9, 6.2])
    assert figures["p50"] == 3.8
    assert figures["p50_median_of_windows"] == 6.0
    assert figures["p50_all"] == pytest.approx(4.9)
    assert (
        figures["min"] == 3.8 and figures["p99"] == 6.0 and figures["windows"] == 5 and figures["runs"] == 100
    )


def test_without_windows_p50_is_over_all_samples():
    figures = timing.summarize([1000, 2000, 3000])
    assert figures["p50"] == figures["p50_all"] == figures["p50_median_of_windows"] == 2.0
    assert figures["windows"] == 0


def test_configurations_are_measured_round_robin():
    order = []
    calls = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    timing.interleaved(calls, runs=40, warmup=2, windows=4, spread_seconds=0)
    measured = order[2 * (1 + 2) :]  # after each one's first call and warm-up
    assert measured == (["a"] * 10 + ["b"] * 10) * 4


def test_every_configuration_gets_its_windows_and_runs():
    result = timing.interleaved({"x": lambda: None}, runs=100, warmup=5, windows=10, spread_seconds=0)
    assert len(result["x"].window_p50_us) == 10 and len(result["x"].samples) == 100


def test_the_windows_are_spread_over_the_spread_time(monkeypatch):
    """On a fake clock where each call costs 2 us: the plan, not the host's speed, is checked.

    (It read the real clock once, with a lower bound, and failed on a busy host.)
    """
    clock = {"ns": 0}
    monkeypatch.setattr(time, "perf_counter_ns", lambda: clock["ns"])

    def call():
        clock["ns"] += 2000

    timing.interleaved({"x": call, "y": call}, runs=10, warmup=1, spread_seconds=0.3)
    assert 0.3 <= clock["ns"] / 1e9 <= 0.4

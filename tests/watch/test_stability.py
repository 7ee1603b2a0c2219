"""When a reading is published (watch/stability.py)."""

import pytest

from mnist_edge.watch.stability import StableReading

CASES = [
    # (case, stable, readings frame by frame, published)
    ("a steady scene publishes once", 3, "7777777", ["7"]),
    ("a flicker is not news", 3, "77737777", ["7"]),
    ("a change publishes once steady", 2, "7733", ["7", "3"]),
    ("every change at once with 1", 1, "7373", ["7", "3", "7", "3"]),
    ("never steady long enough", 3, "737373", []),
    ("back to a value published before", 2, "77337777", ["7", "3", "7"]),
]


@pytest.mark.parametrize("name,stable,readings,published", CASES, ids=[c[0] for c in CASES])
def test_stability(name, stable, readings, published):
    tracker = StableReading(stable)
    assert [r for r in readings if tracker.update(r)] == published


def test_nothing_and_not_a_digit_are_readings_too():
    tracker = StableReading(1)
    assert [tracker.update(r) for r in ("7", "nothing", "not a digit")] == [True, True, True]

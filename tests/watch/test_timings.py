"""The loop's per-stage times: bounded however long the watch runs, newest kept, in order."""

import numpy as np
import pytest

from mnist_edge.watch.loop import STAGES
from mnist_edge.watch.timings import StageTimes


def filled(capacity: int, frames: int) -> StageTimes:
    times = StageTimes(STAGES, capacity)
    for i in range(frames):
        times.add({stage: i + column / 10 for column, stage in enumerate(STAGES)})
    return times


@pytest.mark.parametrize(
    "capacity, frames, kept",
    [(5, 0, []), (5, 3, [0, 1, 2]), (5, 5, [0, 1, 2, 3, 4]), (5, 12, [7, 8, 9, 10, 11]), (1, 4, [3])],
)
def test_the_newest_frames_are_kept_oldest_first(capacity, frames, kept):
    times = filled(capacity, frames)
    assert len(times) == len(kept)
    np.testing.assert_allclose(times["capture"], kept)
    np.testing.assert_allclose(times["front_end"], np.asarray(kept) + 0.1, rtol=1e-6)


def test_memory_does_not_grow_with_the_frames():
    times = filled(100, 100)
    ring = times._ring
    for _ in range(10_000):
        times.add({"model": 1.0})
    assert times._ring is ring and ring.shape == (100, len(STAGES))
    assert times.added == 10_100


def test_a_stage_a_frame_skipped_counts_zero():
    times = StageTimes(STAGES, 4)
    times.add({"capture": 0.5, "front_end": 0.01})
    assert times["model"].tolist() == [0.0]
    assert times["capture"].tolist() == [0.5]

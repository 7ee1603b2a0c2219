"""Per-stage times of the frames the loop read, in bounded memory.

A watch runs for months: keeping every frame's times would grow without end
(five Python floats a frame is ~160 bytes: 16 MB per 100,000 frames). The
times live in one preallocated float32 ring of the last ``capacity`` frames,
enough for ``watch --bench N`` (capacity N) and for recent percentiles.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

RECENT_FRAMES = 10_000  # frames whose times are kept when not benchmarking


class StageTimes:
    """The last ``capacity`` frames' times, per stage, in seconds.

    Args:
        stages: the stage names, in order.
        capacity: frames kept (older ones are overwritten).
    """

    def __init__(self, stages: Sequence[str], capacity: int = RECENT_FRAMES):
        self.stages = tuple(stages)
        self._column = {stage: i for i, stage in enumerate(self.stages)}
        self._ring = np.zeros((max(1, int(capacity)), len(self.stages)), np.float32)
        self.added = 0

    def add(self, times: Dict[str, float]) -> None:
        """Records one frame (a stage it did not pass through counts 0)."""
        row = self._ring[self.added % len(self._ring)]
        for stage, column in self._column.items():
            row[column] = times.get(stage, 0.0)
        self.added += 1

    def __len__(self) -> int:
        return min(self.added, len(self._ring))

    def __getitem__(self, stage: str) -> np.ndarray:
        """The kept frames' times of one stage, oldest first (a copy)."""
        column = self._ring[:, self._column[stage]]
        if self.added <= len(self._ring):
            return column[: self.added].copy()
        start = self.added % len(self._ring)
        return np.concatenate([column[start:], column[:start]])

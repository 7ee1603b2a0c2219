"""When a reading is published: once it has held for N frames and differs from the last one published.

A hand moving in front of the camera, a frame caught mid-stroke, a shadow
passing: single frames disagree. A reading is published when the same value
has been read in ``stable`` consecutive frames and it is not the value
published last, so a steady scene publishes once, and a change publishes as
soon as it is steady. "not a digit" and "nothing" (no ink in view) are
readings too: a sheet taken away is news.
"""

from __future__ import annotations

from typing import Optional


class StableReading:
    """Tracks the run of equal readings.

    Args:
        stable: frames a value must hold before it is published (1: every change at once).
    """

    def __init__(self, stable: int):
        self.stable = max(1, int(stable))
        self.published: Optional[str] = None
        self._value: Optional[str] = None
        self._run = 0

    def update(self, value: str) -> bool:
        """Counts one frame's reading; True when it should be published now."""
        if value == self._value:
            self._run += 1
        else:
            self._value, self._run = value, 1
        if self._run >= self.stable and value != self.published:
            self.published = value
            return True
        return False

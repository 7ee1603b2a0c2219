"""The newest frame wins: capture runs in its own thread and keeps only the latest frame.

A camera delivers frames at its own pace; when reading one takes longer than
the camera's frame interval, a queue would grow and the readings would fall
further and further behind what is in front of the camera. Here the capture
thread overwrites the one slot, and every frame overwritten before the loop
took it is counted as dropped.
"""

from __future__ import annotations

import threading
from typing import Optional

from mnist_edge.watch.sources import Frame


class SourceEnded(Exception):
    """The source has no more frames (a file played to its end)."""


class LatestFrame:
    """Reads ``source.frames()`` in a daemon thread; :meth:`take` returns the newest frame.

    An exception the source raises (:class:`~mnist_edge.watch.sources.SourceLost`)
    is raised again by the next :meth:`take`.
    """

    def __init__(self, source):
        self.source = source
        self.read = 0
        self.dropped = 0
        self._frame: Optional[Frame] = None
        self._error: Optional[BaseException] = None
        self._ended = False
        self._stop = threading.Event()
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._capture, name="capture", daemon=True)
        self._thread.start()

    def _capture(self) -> None:
        try:
            for frame in self.source.frames():
                with self._ready:
                    if self._frame is not None:
                        self.dropped += 1
                    self._frame = frame
                    self.read += 1
                    self._ready.notify()
                if self._stop.is_set():
                    return
        except BaseException as exc:  # handed to the loop, which decides (retry, or stop)
            with self._ready:
                self._error = exc
                self._ready.notify()
            return
        with self._ready:
            self._ended = True
            self._ready.notify()

    def take(self, timeout: float = 1.0) -> Optional[Frame]:
        """The newest frame not yet taken; None if none came within ``timeout`` seconds.

        Raises:
            SourceEnded: the source has ended and every frame was taken.
            SourceLost: (or whatever the source raised) the source failed.
        """
        with self._ready:
            if self._frame is None and self._error is None and not self._ended:
                self._ready.wait(timeout)
            if self._frame is not None:
                frame, self._frame = self._frame, None
                return frame
            if self._error is not None:
                raise self._error
            if self._ended:
                raise SourceEnded()
            return None

    def close(self) -> None:
        """Asks the capture thread to stop and releases the source."""
        self._stop.set()
        try:
            self.source.close()
        except Exception:  # closing a source that already failed: nothing more to release
            pass
        self._thread.join(timeout=2.0)

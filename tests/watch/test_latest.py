"""The newest frame wins (watch/latest.py): a slow reader drops frames, never queues them."""

import threading
import time

import numpy as np
import pytest

from mnist_edge.watch.latest import LatestFrame, SourceEnded
from mnist_edge.watch.sources import Frame, SourceLost


class Fake:
    def __init__(self, count, every=0.0, fail=None):
        self.count, self.every, self.fail = count, every, fail
        self.closed = threading.Event()

    def frames(self):
        for k in range(self.count):
            time.sleep(self.every)
            yield Frame(np.full((4, 4), k, np.uint8), time.time())
        if self.fail:
            raise self.fail

    def close(self):
        self.closed.set()


def test_a_slow_reader_gets_the_newest_frame_and_the_rest_are_counted_dropped():
    latest = LatestFrame(Fake(50, every=0.002))
    taken = []
    try:
        while True:
            frame = latest.take(timeout=2)
            if frame is not None:
                taken.append(int(frame.image[0, 0]))
                time.sleep(0.02)  # a model ten times slower than the camera
    except SourceEnded:
        pass
    assert taken == sorted(taken) and taken[-1] == 49
    assert len(taken) < 25 and latest.dropped == 50 - len(taken) and latest.read == 50


def test_a_lost_source_is_raised_to_the_reader():
    latest = LatestFrame(Fake(2, fail=SourceLost("cable pulled")))
    with pytest.raises(SourceLost, match="cable pulled"):
        for _ in range(10):
            latest.take(timeout=1)


def test_close_releases_the_source():
    source = Fake(1000, every=0.001)
    latest = LatestFrame(source)
    latest.take(timeout=1)
    latest.close()
    assert source.closed.is_set()

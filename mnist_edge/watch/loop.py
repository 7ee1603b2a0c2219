"""The watch loop: take the newest frame, read it, publish when the reading is steady; stop cleanly.

Per frame, in small named steps (as TensorFlow's Raspberry Pi example does):

1. :func:`take_frame`: the newest frame (:mod:`.latest`); a corrupt frame is
   counted and skipped;
2. :func:`crop`: the region of interest (``--roi x,y,w,h``), if any;
3. :func:`read_frame`: the front-end and the model (a digit, or a number);
4. :class:`~mnist_edge.watch.stability.StableReading`: publish or not;
5. :func:`publish`: JSON lines, MQTT, and the frame kept (``--save-dir``).

A lost source (unplugged, cut, not answering) is one warning line, the
reading goes "unavailable" (MQTT availability ``offline``), and the source is
opened again after 1, 2, 4 ... up to 30 s. SIGTERM and Ctrl-C stop the loop
at the next frame: the source is released, MQTT says ``offline``, exit 0.
"""

from __future__ import annotations

import dataclasses
import io
import signal
import threading
import time
from typing import Callable, Dict, Optional

import numpy as np

from mnist_edge import fsutil
from mnist_edge.errors import NoDigitError
from mnist_edge.preprocess import to_mnist_candidates
from mnist_edge.runtime.number import NumberReader
from mnist_edge.runtime.reading import Reader, pick_reading
from mnist_edge.watch.config import WatchConfig
from mnist_edge.watch.latest import LatestFrame, SourceEnded
from mnist_edge.watch.sources import Frame, SourceLost, open_source
from mnist_edge.watch.stability import StableReading
from mnist_edge.watch.timings import RECENT_FRAMES, StageTimes

NOTHING = "nothing"  # no ink in view
NOT_A_DIGIT = "not a digit"
BACKOFF = (1.0, 30.0)  # seconds: first retry after a lost source, longest wait
STAGES = ("capture", "front_end", "model", "publish", "loop")  # loop: the loop's own work on a frame


@dataclasses.dataclass
class Seen:
    """What one frame was read as."""

    reading: str  # a digit, a number, "not a digit" or "nothing"
    confidence: Optional[float]
    times: Dict[str, float]
    detail: Optional[dict] = None


@dataclasses.dataclass
class Counts:
    """What the loop has done."""

    frames: int = 0
    corrupt: int = 0
    published: int = 0
    lost: int = 0
    times: StageTimes = dataclasses.field(default_factory=lambda: StageTimes(STAGES))


def crop(image: np.ndarray, roi) -> np.ndarray:
    """The region of interest ``(x, y, w, h)`` of the frame (clipped to it), or the whole frame."""
    if roi is None:
        return image
    x, y, w, h = roi
    return image[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)]


def read_frame(reader: Reader, numbers: Optional[NumberReader], image: np.ndarray) -> Seen:
    """The front-end and the model on one frame, timed apart."""
    gray = image.astype(np.float32) / 255.0
    if numbers is not None:
        t0 = time.perf_counter()
        result = numbers.read_gray("frame", gray)
        spent = time.perf_counter() - t0
        reading = result.number if result.number is not None else NOTHING
        detail = None
        if result.digits:  # each digit, and whether the number is worth a second look
            detail = {"digits": [d.to_json() for d in result.digits], "unsure": result.unsure}
        return Seen(reading, result.confidence, {"front_end": spent, "model": 0.0}, detail)
    t0 = time.perf_counter()
    try:
        candidates = to_mnist_candidates(gray)
    except NoDigitError:
        return Seen(NOTHING, None, {"front_end": time.perf_counter() - t0, "model": 0.0})
    t1 = time.perf_counter()
    result = pick_reading([reader.read_mnist_form("frame", seen) for seen in candidates])
    if result.label is None:
        result = reader.read_again("frame", gray, result)  # as predict does: a narrow hand, read wider
    t2 = time.perf_counter()
    reading = result.label if result.label is not None else NOT_A_DIGIT
    return Seen(reading, result.confidence, {"front_end": t1 - t0, "model": t2 - t1})


def document(seen: Seen, frame: Frame, counts: Counts, dropped: int) -> dict:
    """The JSON published for a reading."""
    doc = {
        "time": round(frame.at, 3),
        "reading": seen.reading,
        "confidence": None if seen.confidence is None else round(seen.confidence, 4),
        "frame": counts.frames,
        "dropped": dropped,
        "ms": {k: round(v * 1e3, 2) for k, v in seen.times.items()},
    }
    if seen.detail:
        doc.update(seen.detail)
    if frame.name:
        doc["file"] = frame.name
    return doc


class FrameKeeper:
    """Keeps the frame behind each published reading, at most ``keep`` of them (oldest removed)."""

    def __init__(self, folder: Optional[str], keep: int):
        self.folder = fsutil.ensure_writable_dir(folder) if folder else None
        self.keep = max(1, keep)

    def save(self, image: np.ndarray, reading: str, at: float) -> Optional[str]:
        if self.folder is None:
            return None
        from PIL import Image

        safe = "".join(c if c.isalnum() or c in "-?" else "_" for c in reading)[:32]
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(at)) + f"-{int(at * 1000) % 1000:03d}"
        path = self.folder / f"{stamp}-{safe}.png"
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        fsutil.write_bytes_atomic(path, buffer.getvalue())
        saved = sorted(self.folder.glob("*.png"))
        for old in saved[: max(0, len(saved) - self.keep)]:
            old.unlink(missing_ok=True)
        return str(path)


class Watcher:
    """Runs the loop for one :class:`WatchConfig` (see the module docstring).

    Args:
        config: what to watch and how.
        reader: the model and "not a digit" threshold.
        sinks: where readings go (:mod:`.publish`).
        warn: one line per event worth a human's attention (stderr).
        source_factory: opens the source (tests put a fake here).
    """

    def __init__(
        self,
        config: WatchConfig,
        reader: Reader,
        sinks: list,
        warn: Callable[[str], None],
        source_factory=None,
    ):
        self.config = config
        self.reader = reader
        self.numbers = NumberReader(reader) if config.number else None
        self.sinks = sinks
        self.warn = warn
        self.open = source_factory or (
            lambda: open_source(config.source, config.interval, paced=not config.bench)
        )
        self.stop = threading.Event()
        self.counts = Counts(times=StageTimes(STAGES, config.bench or RECENT_FRAMES))
        self.keeper = FrameKeeper(config.save_dir, config.keep)
        self.stability = StableReading(config.stable)
        self.dropped = 0
        self.read = 0

    def run(self) -> Counts:
        """Watches until the source ends (a file), ``max_frames``/``bench`` frames, or a stop."""
        delay = BACKOFF[0]
        limit = self.config.bench or self.config.max_frames
        while not self.stop.is_set():
            latest = None
            try:
                latest = LatestFrame(self.open())
                self._frames(latest, limit)
                return self.counts  # the source ended, or enough frames
            except SourceLost as exc:
                self.counts.lost += 1
                self.warn(f"{exc}; the reading is unavailable; retrying in {delay:.0f} s")
                for sink in self.sinks:
                    sink.availability(False)
                self.stop.wait(delay)
                delay = min(delay * 2, BACKOFF[1])
            finally:
                if latest is not None:
                    self.read += latest.read
                    self.dropped += latest.dropped
                    latest.close()
        return self.counts

    def _frames(self, latest: LatestFrame, limit: int) -> None:
        back = False
        while not self.stop.is_set() and not (limit and self.counts.frames >= limit):
            try:
                frame = latest.take(timeout=0.5)
            except SourceEnded:
                return
            if frame is None:
                continue
            if not back:
                for sink in self.sinks:
                    sink.availability(True)
                back = True
            self._one(frame, latest.dropped + self.dropped)

    def _one(self, frame: Frame, dropped: int) -> None:
        if frame.image is None:
            self.counts.corrupt += 1
            self.warn(f"frame skipped: {frame.error}")
            return
        started = time.perf_counter()
        self.counts.frames += 1
        seen = read_frame(self.reader, self.numbers, crop(frame.image, self.config.roi))
        seen.times = {"capture": frame.decode_seconds, **seen.times}
        t0 = time.perf_counter()
        if self.stability.update(seen.reading):
            doc = document(seen, frame, self.counts, dropped)
            saved = self.keeper.save(frame.image, seen.reading, frame.at)
            if saved:
                doc["saved"] = saved
            for sink in self.sinks:
                sink.publish(doc)
            self.counts.published += 1
        seen.times["publish"] = time.perf_counter() - t0
        work = seen.times["front_end"] + seen.times["model"] + seen.times["publish"]
        seen.times["loop"] = max(0.0, time.perf_counter() - started - work)
        self.counts.times.add(seen.times)

    def install_signal_handlers(self) -> None:
        """SIGTERM and Ctrl-C stop the loop at the next frame (exit 0)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())


def bench_report(counts: Counts, read: int, dropped: int, seconds: float) -> str:
    """Per-stage p50/p99, frames read and dropped, fps: what ``watch --bench N`` prints."""
    lines = [f"{'stage':<12}{'p50 ms':>9}{'p99 ms':>9}"]
    for stage in STAGES:
        values = np.asarray(counts.times[stage]) * 1e3
        if len(values):
            lines.append(f"{stage:<12}{np.percentile(values, 50):9.2f}{np.percentile(values, 99):9.2f}")
    total = np.sum([counts.times[s] for s in STAGES[1:]], axis=0) * 1e3 if len(counts.times) else np.zeros(1)
    p50, p99 = np.percentile(total, 50), np.percentile(total, 99)
    lines.append(f"{'per frame':<12}{p50:9.2f}{p99:9.2f}  (capture runs in its own thread)")
    lines.append(
        f"frames read {read}, processed {counts.frames}, dropped {dropped}, corrupt {counts.corrupt}; "
        f"{counts.frames / max(seconds, 1e-9):.1f} frames/s processed over {seconds:.1f} s"
    )
    return "\n".join(lines)

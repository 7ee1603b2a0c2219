"""Where frames come from: FFmpeg through PyAV, an HTTP snapshot URL, a folder, picamera2.

Every source yields :class:`Frame` objects (a grey uint8 image, or the reason
a frame could not be decoded) and raises :class:`SourceLost` when the camera
is unplugged, the stream cut or the snapshot URL stops answering: the loop
then says so in one line and opens the source again with back-off.

* :class:`VideoSource`: ``/dev/videoN`` (V4L2: USB webcams, the Pi camera's
  V4L2 interface), a video file (played at its own pace, like a camera, or as
  fast as it decodes), an ``rtsp://`` / ``http://`` stream. PyAV (FFmpeg's
  libraries in its wheel) rather than OpenCV: a fifth of the size on a Pi,
  and FFmpeg reads every camera and stream kind.
* :class:`SnapshotSource`: an HTTP URL that answers one image per request
  (ESP32-CAM's ``/capture``, IP cameras), polled every ``interval`` seconds.
* :class:`FolderSource`: the new image files a camera app writes into a
  folder, in order of arrival.
* :class:`PicameraSource`: picamera2 on Raspberry Pi OS (the system's
  ``python3-picamera2``); a thin adapter over its public API, not exercised
  here (it needs libcamera and a Pi camera).
"""

from __future__ import annotations

import dataclasses
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from mnist_edge.errors import DataError, ImageError, MissingExtraError
from mnist_edge.preprocess.load import IMAGE_SUFFIXES, load_gray, open_image_bytes, pil_to_gray

SNAPSHOT_TIMEOUT = 5.0  # seconds a snapshot URL may take to answer
SNAPSHOT_PREFIX = "snapshot:"


class SourceLost(Exception):
    """The source stopped giving frames (unplugged, cut, not answering); it may come back."""


@dataclasses.dataclass
class Frame:
    """One frame: a grey uint8 image, or why it could not be decoded.

    Attributes:
        image: ``(H, W)`` uint8, or None for a corrupt frame.
        at: when it was captured (``time.time()``).
        decode_seconds: what decoding it cost.
        error: why it could not be decoded.
        name: a file name, when the source has one.
    """

    image: Optional[np.ndarray]
    at: float
    decode_seconds: float = 0.0
    error: Optional[str] = None
    name: str = ""


class VideoSource:
    """Frames from FFmpeg (PyAV): a V4L2 device, a video file, or a stream.

    Args:
        spec: ``/dev/videoN``, a file path, or a stream URL.
        paced: play a file at its own frame rate (as a camera delivers);
            False decodes as fast as it can (``--bench``).
    """

    def __init__(self, spec: str, paced: bool = True):
        self.spec = spec
        self.paced = paced
        self.is_file = Path(spec).is_file()
        self._container = None

    def _open(self):
        av = _import_av()
        options = {"rw_timeout": "5000000"} if "://" in self.spec else {}  # microseconds
        fmt = "v4l2" if self.spec.startswith("/dev/video") else None
        try:
            return av.open(self.spec, format=fmt, options=options, timeout=10.0)
        except (av.error.FFmpegError, OSError) as exc:
            if self.is_file:  # a file will not come back: one line, no retries
                raise DataError(f"{self.spec}: not a video FFmpeg can read ({_first_line(exc)})") from None
            raise SourceLost(f"{self.spec}: cannot open ({_first_line(exc)})") from None

    def frames(self) -> Iterator[Frame]:
        av = _import_av()
        self._container = self._open()
        started, first_pts = time.monotonic(), None
        try:
            stream = self._container.streams.video[0]
            packets = self._container.demux(stream)
            while True:
                t0 = time.perf_counter()
                try:
                    packet = next(packets)
                except StopIteration:
                    break
                except (av.error.FFmpegError, OSError) as exc:
                    raise SourceLost(f"{self.spec}: stream lost ({_first_line(exc)})") from None
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as exc:
                    yield Frame(
                        None, time.time(), time.perf_counter() - t0, f"corrupt frame ({_first_line(exc)})"
                    )
                    continue
                for frame in decoded:
                    image = frame.to_ndarray(format="gray")
                    spent = time.perf_counter() - t0
                    if self.paced and self.is_file and frame.time is not None:
                        first_pts = frame.time if first_pts is None else first_pts
                        delay = (frame.time - first_pts) - (time.monotonic() - started)
                        if delay > 0:
                            time.sleep(delay)
                    yield Frame(image, time.time(), spent)
                    t0 = time.perf_counter()
        finally:
            self.close()
        if not self.is_file:
            raise SourceLost(f"{self.spec}: stream ended")

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


class SnapshotSource:
    """One image per HTTP request, polled every ``interval`` seconds."""

    def __init__(self, url: str, interval: float):
        self.url = url.removeprefix(SNAPSHOT_PREFIX)
        self.interval = max(0.0, interval)

    def frames(self) -> Iterator[Frame]:
        while True:
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=SNAPSHOT_TIMEOUT) as response:
                    data = response.read()
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise SourceLost(
                    f"{self.url}: no snapshot ({_first_line(getattr(exc, 'reason', exc))})"
                ) from None
            try:
                image = _to_u8(pil_to_gray(open_image_bytes(data)))
                yield Frame(image, time.time(), time.perf_counter() - t0)
            except ImageError as exc:
                yield Frame(None, time.time(), time.perf_counter() - t0, f"corrupt snapshot ({exc})")
            time.sleep(max(0.0, self.interval - (time.perf_counter() - t0)))

    def close(self) -> None:
        pass


class FolderSource:
    """New image files in a folder, oldest first; the folder is scanned every ``interval`` seconds.

    Files there when watching starts are not read: only what arrives after.
    A file is read once its size has stopped changing (a camera app may
    still be writing it).
    """

    def __init__(self, folder: str, interval: float, include_existing: bool = False):
        self.folder = Path(folder)
        self.interval = max(0.05, interval)
        self._seen = set() if include_existing else {p.name for p in self._images()}
        self._sizes = {}

    def _images(self):
        try:
            return [p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
        except OSError as exc:
            raise SourceLost(f"{self.folder}: cannot list ({exc.strerror or exc})") from None

    def _ready(self):
        ready = []
        for path in self._images():
            if path.name in self._seen:
                continue
            try:
                stat = path.stat()
            except OSError:
                continue
            if self._sizes.get(path.name) == stat.st_size:
                ready.append((stat.st_mtime, path.name, path))
            self._sizes[path.name] = stat.st_size
        return [p for _, _, p in sorted(ready)]

    def frames(self) -> Iterator[Frame]:
        while True:
            for path in self._ready():
                self._seen.add(path.name)
                self._sizes.pop(path.name, None)
                t0 = time.perf_counter()
                try:
                    image = _to_u8(load_gray(path))
                    yield Frame(image, time.time(), time.perf_counter() - t0, name=path.name)
                except (ImageError, MemoryError) as exc:
                    yield Frame(
                        None, time.time(), time.perf_counter() - t0, f"corrupt file ({exc})", path.name
                    )
            time.sleep(self.interval)

    def close(self) -> None:
        pass


class PicameraSource:  # pragma: no cover - needs Raspberry Pi OS, libcamera and a camera
    """picamera2 on Raspberry Pi OS: ``Picamera2().capture_array()`` in a loop.

    Not exercised in CI (libcamera exists only on Raspberry Pi OS); the README
    says how to set it up (a venv made with ``--system-site-packages``).
    """

    def __init__(self, size=(640, 480)):
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise MissingExtraError(
                "picamera2 is Raspberry Pi OS's own package: sudo apt install python3-picamera2, "
                "and make the venv with --system-site-packages"
            ) from None
        self._camera = Picamera2()
        self._camera.configure(
            self._camera.create_video_configuration(main={"size": size, "format": "RGB888"})
        )

    def frames(self) -> Iterator[Frame]:
        self._camera.start()
        try:
            while True:
                t0 = time.perf_counter()
                try:
                    rgb = self._camera.capture_array()
                except RuntimeError as exc:
                    raise SourceLost(f"picamera2: {_first_line(exc)}") from None
                image = np.asarray(rgb[..., :3].mean(axis=2), np.uint8)
                yield Frame(image, time.time(), time.perf_counter() - t0)
        finally:
            self._camera.stop()

    def close(self) -> None:
        self._camera.close()


def open_source(spec: str, interval: float, paced: bool = True):
    """The source a ``watch SOURCE`` argument names."""
    if spec == "picamera2":
        return PicameraSource()
    if spec.startswith(SNAPSHOT_PREFIX):
        return SnapshotSource(spec, interval)
    if Path(spec).is_dir():
        return FolderSource(spec, interval)
    return VideoSource(spec, paced)


def _import_av():
    try:
        import av
    except ImportError:
        raise MissingExtraError('watch needs PyAV: pip install "mnist-edge[watch]"') from None
    return av


def _to_u8(gray: np.ndarray) -> np.ndarray:
    return (np.clip(gray, 0.0, 1.0) * 255).round().astype(np.uint8)


def _first_line(exc) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]

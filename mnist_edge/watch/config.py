"""What ``watch`` is asked to do, as one object (the CLI builds it; the loop takes it)."""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple


@dataclasses.dataclass(frozen=True)
class WatchConfig:
    """How to watch.

    Attributes:
        source: a video device (``/dev/video0``), a video file, an ``rtsp://``
            or ``http(s)://`` stream, an HTTP snapshot URL (``snapshot:`` in
            front of it, or ``--interval``), a folder, or ``picamera2``.
        interval: seconds between snapshots / folder scans (and the pace of
            frames read from a file; 0 reads a file as fast as it decodes).
        roi: ``(x, y, w, h)`` of the frame to read, or None for all of it.
        number: read a number, not one digit.
        stable: a reading is published once it has been the same for this many frames.
        mqtt: ``mqtt://[user:pass@]host[:port]/topic`` (``mqtts://`` for TLS), or None.
        ha_discovery: announce a Home Assistant sensor over MQTT.
        save_dir: keep the frame behind each published reading here.
        keep: at most this many saved frames (the oldest go first).
        bench: stop after this many frames and print per-stage timings.
        max_frames: stop after this many frames (0: never).
        min_confidence: the "not a digit" threshold (None: the model's).
        model: a ``.tflite`` (None: the shipped model).
        name: the sensor's name (MQTT client id, Home Assistant entity).
    """

    source: str
    interval: float = 1.0
    roi: Optional[Tuple[int, int, int, int]] = None
    number: bool = False
    stable: int = 3
    mqtt: Optional[str] = None
    ha_discovery: bool = False
    save_dir: Optional[str] = None
    keep: int = 100
    bench: int = 0
    max_frames: int = 0
    min_confidence: Optional[float] = None
    model: Optional[str] = None
    name: str = "mnist-edge"

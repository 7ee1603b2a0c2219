"""``mnist-edge watch``: a camera (or stream, snapshot URL, folder) read continuously, readings published.

Stages, each its own module: :mod:`.sources` (frames from FFmpeg through
PyAV, an HTTP snapshot URL, a folder, picamera2), :mod:`.latest` (the newest
frame wins; a slow model never builds a queue), :mod:`.stability` (publish a
reading once it has held for N frames, or on change), :mod:`.publish` (JSON
lines, MQTT with Home Assistant discovery), :mod:`.loop` (the loop, its
timings, clean stops). Device side: numpy, Pillow, the interpreter, and the
``watch`` extra (PyAV, paho-mqtt); never TensorFlow.
"""

from mnist_edge.watch.config import WatchConfig

__all__ = ["WatchConfig"]

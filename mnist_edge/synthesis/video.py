"""Videos of handwritten digits on paper, for ``watch``'s tests and benchmarks (PyAV: the watch extra).

A video is a list of scenes, each a digit (or a number: several digits side
by side, or nothing: an empty sheet) held in front of the camera for some
seconds: dark ink on light paper, 640x480, with a little sensor noise and a
slow drift of the light from frame to frame, encoded with MPEG-4 Part 2 (in
every FFmpeg build). Deterministic for a seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

Scene = Tuple[Optional[Sequence[np.ndarray]], float]  # (digits in MNIST form, or None; seconds)


def page(digits: Optional[Sequence[np.ndarray]], size=(640, 480), height: int = 200) -> np.ndarray:
    """The still image of one scene: the digits written side by side in the middle of a light page."""
    w, h = size
    canvas = np.full((h, w), 225.0, np.float32)
    if digits:
        glyphs = [Image.fromarray(255 - d).resize((int(height * 0.8), height), Image.BICUBIC) for d in digits]
        total = sum(g.width for g in glyphs)
        x, y = (w - total) // 2, (h - height) // 2
        for g in glyphs:
            ink = np.asarray(g, np.float32)
            region = canvas[y : y + height, x : x + g.width]
            np.minimum(region, ink * (225.0 / 255.0), out=region)
            x += g.width
    return canvas


def frames(scenes: Sequence[Scene], fps: int, seed: int = 0, size=(640, 480)) -> List[np.ndarray]:
    """Every frame of the scenes, uint8 grey, with noise and drifting light."""
    rng = np.random.default_rng(seed)
    out = []
    for digits, seconds in scenes:
        still = page(digits, size)
        for _ in range(max(1, int(round(seconds * fps)))):
            light = rng.uniform(0.92, 1.05)
            noisy = still * light + rng.normal(0, 3.0, still.shape)
            out.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return out


def write(path, scenes: Sequence[Scene], fps: int = 10, seed: int = 0, size=(640, 480)) -> Path:
    """Encodes the scenes as a video file (MPEG-4 in ``.mp4``/``.avi``/``.mkv``)."""
    import av

    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 2_000_000
        for image in frames(scenes, fps, seed, size):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="gray")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path

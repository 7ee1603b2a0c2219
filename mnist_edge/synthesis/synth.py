"""Photo-like renderings of MNIST digits, for testing the predictor's preprocessing.

Each MNIST digit becomes a phone-photo-like picture: dark ink on squared
paper, drawn large and off-centre, under uneven light with a soft shadow,
with sensor noise and JPEG compression. Deterministic for a given seed.

Used by the tests and ``benchmarks/photo_accuracy.py``; also handy to make a
folder of test photos: ``python -m mnist_edge.synthesis.synth OUT_DIR --count 50``.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Optional

import numpy as np

from mnist_edge import data


def render_photo(digit: np.ndarray, rng: np.random.Generator, jpeg: bool = True, grid: bool = True) -> bytes:
    """Renders one 28x28 MNIST digit as a photo of ink on squared paper.

    Args:
        digit: ``(28, 28)`` uint8, white digit on black (MNIST form).
        rng: the random generator (controls every variation).
        jpeg: encode as JPEG (else PNG).
        grid: draw squared-paper lines.

    Returns:
        The encoded image bytes.
    """
    from PIL import Image

    canvas, tint = _paper(rng, grid)
    height, width = canvas.shape
    size = int(rng.integers(int(0.25 * min(width, height)), int(0.7 * min(width, height))))
    glyph = Image.fromarray(digit).resize((size, size), Image.BICUBIC)
    alpha = np.clip(np.asarray(glyph, dtype=np.float32) / 255.0 * 1.15, 0, 1)
    y = int(rng.integers(0, height - size))
    x = int(rng.integers(0, width - size))
    _ink_onto(canvas, alpha, y, x, rng)
    return _finish(_lighting(canvas, rng), tint, rng, jpeg)


def photo_of_ink(ink: np.ndarray, rng: np.random.Generator, jpeg: bool = True, grid: bool = True) -> bytes:
    """Any ink (float in [0, 1], e.g. a written number) photographed on squared paper (see render_photo).

    The ink is scaled to fill a random 40-90 % of the photo's width (or
    75 % of its height at most) and placed at random.
    """
    from PIL import Image

    canvas, tint = _paper(rng, grid)
    height, width = canvas.shape
    h, w = ink.shape
    f = min(rng.uniform(0.4, 0.9) * width / w, 0.75 * height / h)
    new_w, new_h = max(1, round(w * f)), max(1, round(h * f))
    alpha = Image.fromarray((np.clip(ink, 0, 1) * 255).astype(np.uint8)).resize((new_w, new_h), Image.BICUBIC)
    alpha = np.clip(np.asarray(alpha, np.float32) / 255.0 * 1.15, 0, 1)
    y = int(rng.integers(0, height - new_h + 1))
    x = int(rng.integers(0, width - new_w + 1))
    _ink_onto(canvas, alpha, y, x, rng)
    return _finish(_lighting(canvas, rng), tint, rng, jpeg)


def _paper(rng: np.random.Generator, grid: bool):
    """Squared paper with texture, 640x480 either way round; and the colour tint to apply later."""
    from PIL import Image, ImageFilter

    width, height = (640, 480) if rng.random() < 0.5 else (480, 640)
    paper = rng.uniform(0.78, 0.95)
    tint = rng.uniform(-0.03, 0.03, size=3)
    canvas = np.full((height, width), paper, dtype=np.float32)
    if grid:
        pitch = int(rng.integers(18, 34))
        line = rng.uniform(0.12, 0.25)
        offset_x, offset_y = int(rng.integers(0, pitch)), int(rng.integers(0, pitch))
        canvas[offset_y::pitch, :] -= line
        canvas[:, offset_x::pitch] -= line
    # Paper texture: low-amplitude, blurred noise.
    texture = Image.fromarray(
        (rng.normal(0, 1, (height, width)) * 40 + 128).clip(0, 255).astype(np.uint8)
    ).filter(ImageFilter.GaussianBlur(1.5))
    canvas += (np.asarray(texture, dtype=np.float32) - 128) / 255 * 0.08
    return canvas, tint


def _ink_onto(canvas: np.ndarray, alpha: np.ndarray, y: int, x: int, rng: np.random.Generator) -> None:
    ink = rng.uniform(0.05, 0.25)
    region = canvas[y : y + alpha.shape[0], x : x + alpha.shape[1]]
    canvas[y : y + alpha.shape[0], x : x + alpha.shape[1]] = region * (1 - alpha) + ink * alpha


def _lighting(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uneven light: a linear gradient in a random direction and a soft shadow."""
    height, width = canvas.shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx / width + np.sin(angle) * yy / height
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    light = 1.0 - rng.uniform(0.15, 0.4) * ramp
    shadow_angle = rng.uniform(0, 2 * np.pi)
    edge = np.cos(shadow_angle) * (xx - width * rng.uniform(0.2, 0.8)) + np.sin(shadow_angle) * (
        yy - height * rng.uniform(0.2, 0.8)
    )
    shadow = 1.0 - rng.uniform(0.15, 0.35) / (1.0 + np.exp(-edge / 25.0))
    return canvas * light * shadow


def _finish(canvas: np.ndarray, tint: np.ndarray, rng: np.random.Generator, jpeg: bool) -> bytes:
    """Colour tint, sensor noise, and the encoded file."""
    from PIL import Image

    rgb = np.stack([canvas * (1 + t) for t in tint], axis=-1)
    rgb += rng.normal(0, rng.uniform(0.01, 0.04), rgb.shape)
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8), mode="RGB")
    buffer = io.BytesIO()
    if jpeg:
        img.save(buffer, format="JPEG", quality=int(rng.integers(40, 85)))
    else:
        img.save(buffer, format="PNG")
    return buffer.getvalue()


def render_blank(rng: np.random.Generator, grid: bool = True) -> bytes:
    """A photo of empty squared paper (no digit), same conditions as above."""
    empty = np.zeros((28, 28), dtype=np.uint8)
    return render_photo(empty, rng, jpeg=True, grid=grid)


def main(argv: Optional[list] = None) -> int:
    """Writes ``--count`` photo-like test images (and labels.csv) to a folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)

    dataset = data.load(args.data_dir)
    rng = np.random.default_rng(args.seed)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    idx = rng.choice(len(dataset.y_test), size=args.count, replace=False)
    lines = ["file,label,test_index"]
    for i in idx:
        name = f"photo_{int(i):05d}.jpg"
        (out / name).write_bytes(render_photo(dataset.x_test[i], rng))
        lines.append(f"{name},{int(dataset.y_test[i])},{int(i)}")
    (out / "labels.csv").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.count} images and labels.csv to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What ``predict --number --debug-dir`` saves: the image with each digit's box, and each 28x28 the model saw.

One PNG per input (``<input name>.seen.png``, never replacing a file, never
read back as an input): the image scaled to a readable height with every
digit's box and reading drawn on it, and below it each digit's MNIST form
enlarged, with its label and confidence (``?`` for a doubtful digit).

Pillow only.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np

from mnist_edge import fsutil
from mnist_edge.errors import ImageError, OutputError
from mnist_edge.preprocess import iter_image_paths, load_gray
from mnist_edge.runtime.number import DOUBT, NumberReader, NumberReading
from mnist_edge.runtime.reading import debug_image_path, is_debug_image

SHEET_HEIGHT = 240  # the image is drawn this tall
CELL = 56  # each 28x28 drawn twice as large
OK_COLOUR, DOUBT_COLOUR = (0, 170, 0), (220, 120, 0)


def sheet(gray: np.ndarray, reading: NumberReading) -> bytes:
    """The debug sheet of one reading as PNG bytes."""
    from PIL import Image, ImageDraw

    h, w = gray.shape
    f = SHEET_HEIGHT / h
    width = max(1, round(w * f))
    picture = (
        Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8))
        .resize((width, SHEET_HEIGHT))
        .convert("RGB")
    )
    cells = max(1, len(reading.digits))
    canvas = Image.new("RGB", (max(width, cells * (CELL + 8)), SHEET_HEIGHT + CELL + 24), (255, 255, 255))
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for k, digit in enumerate(reading.digits):
        colour = OK_COLOUR if digit.label is not None else DOUBT_COLOUR
        x, y, bw, bh = (v * f for v in digit.box)
        draw.rectangle([x, y, x + bw, y + bh], outline=colour, width=2)
        text = f"{digit.label or DOUBT} {digit.confidence:.2f}"
        draw.text((x + 2, max(0, y - 12)), text, fill=colour)
        if digit.seen is not None:
            cell = Image.fromarray(digit.seen).resize((CELL, CELL), Image.NEAREST).convert("RGB")
            canvas.paste(cell, (k * (CELL + 8), SHEET_HEIGHT + 4))
        draw.text((k * (CELL + 8), SHEET_HEIGHT + CELL + 8), text, fill=colour)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def read_number_inputs(
    reader: NumberReader, inputs: Sequence[Union[str, os.PathLike]], debug_dir: Optional[Path] = None
) -> List[NumberReading]:
    """Reads the number in every image named or found in the folders named, in order.

    Args:
        reader: the :class:`NumberReader`.
        inputs: files and folders.
        debug_dir: where to save each input's debug sheet.

    Returns:
        One :class:`NumberReading` per input file (or per problem with a name).
    """
    readings = []
    for path, problem in iter_image_paths(inputs, skip=is_debug_image):
        if problem:
            readings.append(NumberReading(str(path), error=problem))
            continue
        try:
            gray = load_gray(path)
        except ImageError as exc:
            readings.append(NumberReading(str(path), error=str(exc)))
            continue
        except MemoryError:
            readings.append(NumberReading(str(path), error="image too large to decode in memory"))
            continue
        reading = reader.read_gray(str(path), gray)
        if debug_dir is not None:
            try:
                reading.debug_image = str(
                    fsutil.write_bytes_new(debug_image_path(debug_dir, path), sheet(gray, reading))
                )
            except OutputError as exc:
                reading.error = f"debug image not saved: {exc}"
        readings.append(reading)
    return readings

"""What a device would see of one trial's model: converted, gated on parity, sized, timed, arena measured.

The same steps as ``export`` (:func:`mnist_edge.export.recipes.convert_recipe`,
the parity gate of :func:`mnist_edge.export.gate`), on the search's validation
split instead of the test set, which only the winner meets.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import List, Optional

import numpy as np

from mnist_edge import constants, fsutil
from mnist_edge.errors import MissingExtraError
from mnist_edge.evaluation import micro, parity
from mnist_edge.export.auto import single_image_p50_us
from mnist_edge.export.convert import frozen_forward
from mnist_edge.export.pipeline import gate
from mnist_edge.export.recipes import convert_recipe
from mnist_edge.runtime import Predictor

LATENCY_IMAGES = 200  # validation images the one-image calls cycle through


@dataclasses.dataclass
class DeviceFacts:
    """A converted model as a device sees it.

    Attributes:
        path: the ``.tflite`` written.
        size_bytes: the file's size (what flash holds).
        p50_us: median one-image call on this machine's interpreter, one thread.
        arena_bytes: TFLM's tensor arena, or None when TFLM cannot run the model.
        arena_error: why TFLM could not, if it could not.
        predictor: the model loaded once (one thread), for the checks that follow.
    """

    path: Path
    size_bytes: int
    p50_us: float
    arena_bytes: Optional[int]
    arena_error: Optional[str] = None
    predictor: Optional[Predictor] = None


def convert_member(model, recipe: str, calibration: np.ndarray) -> bytes:
    """The model's bytes in ``recipe`` (int8 I/O for int8, float for int16x8, as ``export`` makes them)."""
    return convert_recipe(frozen_forward(model), recipe, constants.DEFAULT_IO_TYPE, calibration)[0]


def device_facts(content: bytes, path: Path, sample: np.ndarray) -> DeviceFacts:
    """Writes ``content`` to ``path`` and measures size, one-image p50 and the TFLM arena.

    Args:
        content: the model bytes.
        path: where the ``.tflite`` goes.
        sample: uint8 images to time on (the first also records the arena).
    """
    fsutil.write_bytes_atomic(path, content)
    predictor = Predictor(path, num_threads=1)
    p50 = single_image_p50_us(predictor, sample[:LATENCY_IMAGES], constants.SEARCH_LATENCY_RUNS)
    arena, error = None, None
    try:
        arena = micro.measure_arena(content, predictor.prepare(sample[:1]), path.name)
    except (micro.MicroError, MissingExtraError) as exc:  # no arena: infeasible only under an arena limit
        error = str(exc)
    return DeviceFacts(path, len(content), round(p50, 2), arena, error, predictor)


def parity_on(predictor, x: np.ndarray, y: np.ndarray, keras_probs: np.ndarray, recipe: str):
    """The converted model against Keras on ``x``: ``(stats, gate failure messages)``."""
    probs = predictor.probabilities(x)
    stats = parity.compare(probs, keras_probs, y)
    failures: List[str] = [
        str(f) for f in gate(recipe, stats, constants.DEFAULT_MAX_DROP_PP, constants.DEFAULT_MIN_AGREEMENT)
    ]
    return stats, failures

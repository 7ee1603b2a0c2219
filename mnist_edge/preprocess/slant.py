"""A line's slant: how far its writing leans, and the ink sheared upright.

MNIST's writers lean their digits by up to about 20 degrees; some people
write at 30 or more. A line leaning that far has digits whose columns
overlap (the top of one over the foot of the next), so they group and part
badly, and each digit looks unlike MNIST's. :func:`line_slant` measures the
lean as the shear that makes the ink's column profile sharpest (upright
strokes stack into few columns, the standard projection-profile method);
:func:`deslant` shears the ink map upright and returns the :class:`Frame`
that maps boxes back to the input image.

numpy and Pillow only.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Tuple

import numpy as np
from PIL import Image

from mnist_edge.preprocess.components import Components, label

DESLANT_FROM = 25.0  # degrees: a line leaning less is read as it is (MNIST's writers lean up to ~20)
SLANT_RANGE = 45.0  # degrees either way that are tried...
SLANT_STEP = 3.0  # ... this far apart
MIN_LEAN_PIXELS = 20  # a component smaller than this (a dot, a speck) has no lean worth counting
MAX_LEAN_ASPECT = 1.0  # ... nor one wider than tall (touching digits)
MIN_LEAN_PIECES = 2  # one piece's lean is that digit's (a slanted 1), not the writer's


@dataclasses.dataclass(frozen=True)
class Frame:
    """Where working pixels come from: the input scaled, and perhaps sheared upright.

    A working pixel (x, y) was input pixel ``((x - pad + shear * (centre - y)) / scale, y / scale)``.

    Attributes:
        scale: working size over the input's.
        shear: the lean removed, as dx per pixel up (0: none).
        centre: the row about which the shear was done (working px).
        pad: columns added on the left to hold the sheared ink.
    """

    scale: float
    shear: float = 0.0
    centre: float = 0.0
    pad: int = 0

    def to_input(self, box: Tuple[int, int, int, int]) -> Tuple[int, int, int, int]:
        """A working box (top, bottom, left, right; inclusive) as ``(x, y, w, h)`` in the input's pixels.

        A sheared box is the bounding box of its parallelogram in the input.
        """
        top, bottom, left, right = box
        shifts = [self.shear * (self.centre - row) - self.pad for row in (top, bottom)]
        x0, x1 = left + min(shifts), right + max(shifts)
        return (
            int(round(x0 / self.scale)),
            int(round(top / self.scale)),
            max(1, int(round((x1 - x0 + 1) / self.scale))),
            max(1, int(round((bottom - top + 1) / self.scale))),
        )


def line_slant(mask: np.ndarray, comps: Optional[Components] = None) -> float:
    """The lean of the ink in degrees (positive: leaning right, tops to the right of feet); 0 when unsure.

    Two measures must agree: each digit-shaped piece's lean from its second
    moments (how far x moves per row up, the MNIST deskewing measure; the
    median over the line's pieces, by ink, so one 7's diagonal does not
    decide), and the shear that makes the whole line's column profile
    sharpest (upright strokes stack into few columns). Round shapes side by
    side have no moment lean; a single slanted stroke has no profile to
    sharpen beyond itself. When both lean past :data:`DESLANT_FROM` the
    same way, their mean is the line's lean.

    Args:
        mask: the line's ink.
        comps: its components, when the caller has labelled it already.
    """
    comps = comps if comps is not None else label(mask)
    if comps.count == 0:
        return 0.0
    by_moments = _moment_lean(comps)
    if abs(by_moments) < DESLANT_FROM:
        return 0.0
    ys, xs = np.nonzero(mask)
    up = (ys.mean() - ys).astype(np.float64)  # rows above the middle count positive
    by_profile, best = 0.0, _sharpness(xs, up, 0.0)
    for angle in np.arange(-SLANT_RANGE, SLANT_RANGE + 1e-9, SLANT_STEP):
        score = _sharpness(xs, up, math.tan(math.radians(angle)))
        if score > best:
            by_profile, best = float(angle), score
    if abs(by_profile) < DESLANT_FROM or by_profile * by_moments < 0:
        return 0.0
    return (by_moments + by_profile) / 2.0


def _moment_lean(comps: Components) -> float:
    """The ink-weighted median of the digit-shaped components' leans (degrees), from their second moments.

    0 when fewer than :data:`MIN_LEAN_PIECES` pieces can vote.
    """
    ys, xs = np.nonzero(comps.labels)
    k = comps.labels[ys, xs]
    n = comps.area.astype(np.float64)
    # Only digit-shaped pieces: a group of touching digits leans with its
    # baseline's drift, whatever its strokes do.
    height = comps.bottom - comps.top + 1
    width = comps.right - comps.left + 1
    big = (n >= max(MIN_LEAN_PIXELS, 0.05 * n.max())) & (width <= MAX_LEAN_ASPECT * height)
    big[0] = False
    if big.sum() < MIN_LEAN_PIECES:
        return 0.0
    safe = np.maximum(n, 1.0)
    mx, my = np.bincount(k, xs, comps.count + 1) / safe, np.bincount(k, ys, comps.count + 1) / safe
    dx, dy = xs - mx[k], ys - my[k]
    cov = np.bincount(k, dx * dy, comps.count + 1) / safe
    var = np.bincount(k, dy * dy, comps.count + 1) / safe
    # x moves right by -cov/var per row up (rows grow downwards).
    lean = np.degrees(np.arctan(-cov[big] / np.maximum(var[big], 1e-9)))
    order = np.argsort(lean)
    weights = np.cumsum(n[big][order])
    return float(lean[order][np.searchsorted(weights, weights[-1] / 2.0)])


def _sharpness(xs: np.ndarray, up: np.ndarray, shear: float) -> float:
    columns = np.round(xs - shear * up).astype(np.int64)
    counts = np.bincount(columns - columns.min())
    return float(np.dot(counts, counts))


def deslant(ink: np.ndarray, angle: float, frame: Frame) -> Tuple[np.ndarray, Frame]:
    """The ink map (0 = no ink) sheared upright by ``angle`` degrees, and the frame of its pixels.

    Args:
        ink: float ink map, working size.
        angle: the lean (:func:`line_slant`).
        frame: the frame of ``ink``'s pixels (unsheared).

    Returns:
        ``(sheared ink, its frame)``; the image grows by the shear's reach.
    """
    shear = math.tan(math.radians(angle))
    h, w = ink.shape
    centre = (h - 1) / 2.0
    pad = int(math.ceil(abs(shear) * centre)) + 1
    # PIL maps each output pixel to its source: x_in = x_out - pad + shear * (centre - y_out),
    # so a stroke leaning right (x_in growing upwards) comes out upright.
    coeffs = (1.0, -shear, shear * centre - pad, 0.0, 1.0, 0.0)
    image = Image.fromarray(ink.astype(np.float32), mode="F")
    sheared = image.transform((w + 2 * pad, h), Image.AFFINE, coeffs, resample=Image.BILINEAR, fillcolor=0.0)
    return np.asarray(sheared, np.float32), Frame(frame.scale, shear, centre, pad)

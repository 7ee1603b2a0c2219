"""Small array helpers for the front-end: resizing, rank filters, quantiles, Otsu.

numpy and Pillow only.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def resize(arr: np.ndarray, size_wh: Tuple[int, int], resample: str = "bilinear") -> np.ndarray:
    """Resizes a float image with Pillow.

    Args:
        arr: ``(H, W)`` float array.
        size_wh: the new (width, height).
        resample: ``"box"`` (area average, for shrinking), ``"bilinear"``,
            ``"bicubic"`` or ``"lanczos"``.

    Returns:
        The resized float32 array.
    """
    from PIL import Image

    mode = {
        "box": Image.BOX,
        "bilinear": Image.BILINEAR,
        "bicubic": Image.BICUBIC,
        "lanczos": Image.LANCZOS,
        "nearest": Image.NEAREST,
    }[resample]
    img = Image.fromarray(np.ascontiguousarray(arr, dtype=np.float32), mode="F")
    return np.asarray(img.resize(size_wh, mode), dtype=np.float32)


def rank_filter(arr: np.ndarray, size: int, kind: str) -> np.ndarray:
    """Square max or min filter of odd ``size`` (edges replicate the border).

    Separable (a square max is a row max of column maxes), each pass a
    vectorised reduction over a sliding window.

    Args:
        arr: ``(H, W)`` float array.
        size: window side (made odd, at least 3).
        kind: ``"max"`` or ``"min"``.

    Returns:
        The filtered float32 array.
    """
    size = max(3, int(size) | 1)
    pad = size // 2
    reduce = np.max if kind == "max" else np.min
    out = np.asarray(arr, dtype=np.float32)
    for axis in (0, 1):
        widths = [(0, 0), (0, 0)]
        widths[axis] = (pad, pad)
        padded = np.pad(out, widths, mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=axis)
        out = reduce(windows, axis=-1)
    return np.ascontiguousarray(out, dtype=np.float32)


def coarse_median(arr: np.ndarray, size: int, step: int) -> np.ndarray:
    """Median over ``size`` x ``size`` windows (edges replicate), every ``step`` pixels, interpolated.

    For a local background that varies slowly at the window's scale: on a
    96 x 72 image a 9 x 9 median this way costs 0.4 ms where Pillow's
    ``MedianFilter`` on float images costs 7 ms.

    Args:
        arr: ``(H, W)`` float array.
        size: odd window side.
        step: the grid of window centres (pixels ``0, step, 2 step, ...``).

    Returns:
        The ``(H, W)`` float32 local median.
    """
    arr = np.asarray(arr, dtype=np.float32)
    h, w = arr.shape
    padded = np.pad(arr, size // 2, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size))[::step, ::step]
    gh, gw = windows.shape[:2]
    middle = size * size // 2
    grid = np.partition(windows.reshape(gh, gw, -1), middle, axis=-1)[..., middle]
    y0, y1, fy = _interpolation(h, step, gh)
    x0, x1, fx = _interpolation(w, step, gw)
    rows = grid[y0] * (1 - fy[:, None]) + grid[y1] * fy[:, None]
    return (rows[:, x0] * (1 - fx) + rows[:, x1] * fx).astype(np.float32)


def _interpolation(n: int, step: int, grid: int):
    """For pixels ``0..n-1``: the grid points either side and the weight of the second."""
    at = np.arange(n) / step
    first = np.minimum(at.astype(np.int64), grid - 1)
    return first, np.minimum(first + 1, grid - 1), (at - first).astype(np.float32)


def closing(arr: np.ndarray, size: int) -> np.ndarray:
    """Grey closing (max then min): dark features narrower than ``size`` vanish."""
    return rank_filter(rank_filter(arr, size, "max"), size, "min")


def opening(arr: np.ndarray, size: int) -> np.ndarray:
    """Grey opening (min then max): bright features narrower than ``size`` vanish."""
    return rank_filter(rank_filter(arr, size, "min"), size, "max")


def box_blur(arr: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window via a summed-area table (edges replicate)."""
    if radius <= 0:
        return np.asarray(arr, dtype=np.float32)
    padded = np.pad(np.asarray(arr, dtype=np.float64), radius + 1, mode="edge")
    sat = padded.cumsum(0).cumsum(1)
    k = 2 * radius + 1
    h, w = arr.shape
    total = sat[k : k + h, k : k + w] - sat[:h, k : k + w] - sat[k : k + h, :w] + sat[:h, :w]
    return (total / (k * k)).astype(np.float32)


def dilate3(mask: np.ndarray) -> np.ndarray:
    """Binary (or grey) 3x3 dilation."""
    return _shift_reduce(mask, np.maximum, 0)


def erode3(mask: np.ndarray) -> np.ndarray:
    """Binary (or grey) 3x3 erosion; outside the image counts as foreground."""
    fill = mask.max() if mask.size else 0
    return _shift_reduce(mask, np.minimum, fill)


def _shift_reduce(a: np.ndarray, op, pad_value):
    p = np.pad(a, 1, mode="constant", constant_values=pad_value)
    h, w = a.shape
    out = p[1 : 1 + h, 1 : 1 + w].copy()
    for dy in range(3):
        for dx in range(3):
            if dy != 1 or dx != 1:
                op(out, p[dy : dy + h, dx : dx + w], out=out)
    return out


# Arrays at least this large take the histogram path in :func:`quantiles`.
HISTOGRAM_QUANTILE_MIN = 4096
QUANTILE_BINS = 4096


def quantiles(values: np.ndarray, qs) -> tuple:
    """Several q-quantiles of the same values: the element of rank ``int(q * n)``, exactly.

    ``np.partition`` alone degrades badly on heavy ties (a clean video
    frame's second differences are 60 % zeros: 8 ms instead of 0.7 ms on
    110,000 values), so large arrays are first counted into a histogram
    and only the one bin holding each rank is partitioned; a bin of equal
    values needs no partition at all. The answer is the same element.
    """
    flat = np.asarray(values, dtype=np.float32).ravel()
    if flat.size == 0:
        return tuple(0.0 for _ in qs)
    ks = [min(flat.size - 1, max(0, int(q * flat.size))) for q in qs]
    if flat.size >= HISTOGRAM_QUANTILE_MIN:
        found = _ranked_by_histogram(flat, ks)
        if found is not None:
            return found
    part = np.partition(flat, sorted(set(ks)))
    return tuple(float(part[k]) for k in ks)


def _ranked_by_histogram(flat: np.ndarray, ks) -> Optional[tuple]:
    """The elements of ranks ``ks`` via histograms; None when the values are not all finite."""
    lo, hi = float(flat.min()), float(flat.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    if hi == lo:
        return tuple(lo for _ in ks)
    index, below = _histogram(flat, lo, hi)
    return tuple(_rank_in_bin(flat, index, below, k) for k in ks)


def _histogram(flat: np.ndarray, lo: float, hi: float):
    """Each value's bin over [lo, hi], and the running count of values up to each bin."""
    # float64: float32 values spanning more than float32's range overflow when subtracted
    scaled = (flat.astype(np.float64) - lo) * (QUANTILE_BINS / (hi - lo))
    index = np.clip(scaled, 0, QUANTILE_BINS - 1).astype(np.int32)
    return index, np.cumsum(np.bincount(index, minlength=QUANTILE_BINS))


def _rank_in_bin(flat: np.ndarray, index: np.ndarray, below: np.ndarray, k: int) -> float:
    """The element of rank ``k``: narrowed to its bin, again and again while the bin is large.

    A bin of near-ties (zeros and rounding dust) is split again over its own
    range until it is small or all one value.
    """
    while True:
        b = int(np.searchsorted(below, k, side="right"))
        k -= int(below[b - 1]) if b else 0
        flat = flat[index == b]
        lo, hi = float(flat.min()), float(flat.max())
        if lo == hi:
            return lo
        if flat.size < HISTOGRAM_QUANTILE_MIN:
            return float(np.partition(flat, k)[k])
        index, below = _histogram(flat, lo, hi)


def quantile(values: np.ndarray, q: float) -> float:
    """The q-quantile: the element of rank ``int(q * n)`` (see :func:`quantiles`).

    ``np.median`` / ``np.percentile`` cost ~18 ms of lazy imports on first
    use, more than the predictor's whole start-up budget.
    """
    return quantiles(values, (q,))[0]


def histogram(values: np.ndarray, bins: int, lo: float, hi: float) -> Tuple[np.ndarray, np.ndarray]:
    """Counts in ``bins`` equal bins over [lo, hi] and the bins' edges, as ``np.histogram`` gives them.

    A value equal to ``hi`` counts in the last bin; values outside are left
    out. Counted with ``np.bincount``: ``np.histogram`` takes three times as
    long on a frame (2 ms of a camera frame's budget).
    """
    flat = np.asarray(values, dtype=np.float32).ravel()
    edges = np.linspace(lo, hi, bins + 1)
    if hi <= lo or flat.size == 0:
        return np.histogram(flat, bins=bins, range=(lo, hi))
    inside = flat[(flat >= lo) & (flat <= hi)] if (flat.min() < lo or flat.max() > hi) else flat
    index = np.clip((inside.astype(np.float64) - lo) * (bins / (hi - lo)), 0, bins - 1).astype(np.int32)
    return np.bincount(index, minlength=bins), edges


def otsu(values: np.ndarray, bins: int = 64) -> float:
    """Otsu's threshold of values in [0, 1] (the upper edge of the lower class).

    Args:
        values: any array of values in [0, 1].
        bins: histogram bins.

    Returns:
        The threshold; 0.5 for constant input.
    """
    hist, edges = histogram(values, bins, 0.0, 1.0)
    hist = hist.astype(np.float64)
    if hist.sum() == 0:
        return 0.5
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers)
    mean0 = np.divide(m0, w0, out=np.zeros_like(m0), where=w0 > 0)
    mean1 = np.divide(m0[-1] - m0, w1, out=np.zeros_like(m0), where=w1 > 0)
    between = w0 * w1 * (mean0 - mean1) ** 2
    if not between.any():
        return 0.5
    return float(edges[int(np.argmax(between)) + 1])


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width of a binary mask: 2 * area / boundary length.

    For a stroke of width w and length L the area is w*L and the boundary
    ~2L, so this is ~w for line-like ink (and larger for blobs).
    """
    mask = np.asarray(mask, dtype=bool)
    area = float(mask.sum())
    if area == 0:
        return 0.0
    boundary = float((mask & ~erode3(mask.astype(np.uint8)).astype(bool)).sum())
    return 2.0 * area / max(boundary, 1.0)


def run_lengths(mask: np.ndarray, axis: int = 1) -> np.ndarray:
    """For each pixel of ``mask``, the length of the run of True pixels it lies in, along ``axis`` (0 or 1).

    Vectorised: each run adds its length at its start and takes it away
    after its end; a cumulative sum along the run's direction paints it.
    """
    m = np.asarray(mask, bool) if axis == 1 else np.asarray(mask, bool).T
    h, w = m.shape
    padded = np.zeros((h, w + 2), np.int8)
    padded[:, 1:-1] = m
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    marks = np.zeros((h, w + 1), np.int64)
    np.add.at(marks, (rows, starts), ends - starts)
    np.add.at(marks, (rows, ends), starts - ends)
    out = np.cumsum(marks, axis=1)[:, :w]
    return out if axis == 1 else out.T

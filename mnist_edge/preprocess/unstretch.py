"""Size-normalised scans: a digit stretched to fill its frame, and the narrower digit it may have been.

Some scanners and datasets (form readers' cells, UCI's Semeion digits)
stretch every digit to fill a small one-bit frame, width and height both.
Most digits survive that, but a 1 becomes a fat bar or a slab that no
writer draws, and the model doubts it. The stretch cannot be undone exactly
(the digit's own width is gone), so the reader reads a doubted image that
looks like such a scan (:func:`is_stretched_scan`) again at the likely
widths (:func:`narrowed_images`), each through the whole front-end.

numpy and Pillow only.
"""

from __future__ import annotations

from typing import List

import numpy as np

from mnist_edge.preprocess.morphology import resize

# Size-normalised scans are small (Semeion's 16x16, optdigits' 32x32 bitmaps);
# a larger image is a photo or a drawing whose widths are the writer's own.
MAX_SCAN_SIDE = 64
# A one-bit scan: this share of its pixels sits within BINARY_TOLERANCE of its
# darkest or lightest level. Grey images (Fashion-MNIST's garments, which fill
# their frames too) are not re-read: squeezed, a shirt reads as a 1.
BINARY_SHARE = 0.98
BINARY_TOLERANCE = 0.1
# The ink's box spans this share of the frame's height: a stretched digit
# fills it, less the faint edge rows the scanner's threshold dropped.
MIN_SPAN = 0.75
# ... and this share of its width. Less than the height: a 1's faint slanted
# edges were stretched across the frame too, then the threshold dropped them,
# leaving an upright bar half the frame wide (MNIST's first 2,000 test digits
# stretched to 16x16: their 1s 0.876 -> 0.919 at 0.4 instead of 0.75, no other
# class changed; 16x16 one-bit letters taken for digits unchanged, 66 of 240).
MIN_WIDTH_SPAN = 0.4
# The widths a stretched digit is tried at, as shares of the frame's: an MNIST
# 1 is about a third as wide as it is tall, a narrow 7 or 4 about half.
NARROWED_WIDTHS = (0.5, 0.3)


def is_stretched_scan(gray: np.ndarray) -> bool:
    """Whether an image looks like a size-normalised one-bit scan: small, two levels, ink top to bottom.

    The ink (the rarer level; for a slab-like 1 it may be the background,
    which then spans the frame as well) spans :data:`MIN_SPAN` of the
    frame's height and :data:`MIN_WIDTH_SPAN` of its width.

    Args:
        gray: float grey in [0, 1], shape (H, W).
    """
    h, w = gray.shape
    if max(h, w) > MAX_SCAN_SIDE or min(h, w) < 4:
        return False
    low, high = float(gray.min()), float(gray.max())
    if high - low < 0.5:
        return False
    dark = gray <= low + BINARY_TOLERANCE
    light = gray >= high - BINARY_TOLERANCE
    if (dark | light).mean() < BINARY_SHARE:
        return False
    ink = dark if dark.sum() < light.sum() else light
    rows, cols = np.nonzero(ink.any(axis=1))[0], np.nonzero(ink.any(axis=0))[0]
    return bool(rows[-1] - rows[0] + 1 >= MIN_SPAN * h and cols[-1] - cols[0] + 1 >= MIN_WIDTH_SPAN * w)


def narrowed_images(gray: np.ndarray) -> List[np.ndarray]:
    """A stretched scan squeezed to each of :data:`NARROWED_WIDTHS` of its width, on its own background.

    The squeezed image is centred on a frame of the original size filled
    with the median of the border's pixels (the background, whatever the
    polarity: a stretched digit touches the border only here and there).
    Area-averaged, so a fat bar becomes a stroke, not a smear with gaps.

    Args:
        gray: float grey in [0, 1], shape (H, W).

    Returns:
        One float32 image per width, or none for an image that is not a
        stretched scan (:func:`is_stretched_scan`).
    """
    if not is_stretched_scan(gray):
        return []
    h, w = gray.shape
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    images = []
    for share in NARROWED_WIDTHS:
        width = max(2, round(w * share))
        frame = np.full((h, w), background, np.float32)
        left = (w - width) // 2
        frame[:, left : left + width] = np.clip(resize(gray.astype(np.float32), (width, h), "box"), 0, 1)
        images.append(frame)
    return images

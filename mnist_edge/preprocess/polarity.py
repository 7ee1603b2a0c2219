"""Is the ink darker than its background (pen on paper) or lighter (chalk, scans shown inverted)?

Two readings of the image, the first that is decisive wins:

1. **Border vote.** The background is what the image's edge mostly shows,
   even when a tight crop's digit touches it at a few places: where the
   edge's median sits between the image's darkest and brightest levels.
2. **Local contrast.** For photos whose edge is shadowed or lit unevenly:
   how much of the image stands out darker vs brighter than its local
   median (a coarse median filter follows paper, shading and shadows).
"""

from __future__ import annotations

import numpy as np

from mnist_edge.preprocess.morphology import coarse_median, quantile, quantiles, resize

# Where the border's median sits between the darkest and brightest levels
# for the vote to count: near either end, not in the middle.
DECISIVE = 0.3
# The border is "one level" when this majority of it lies within this share
# of the image's range of its median (a tight crop's digit may touch it).
UNIFORM_BORDER = 0.15
BORDER_MAJORITY = 0.6
CLEAR_CONTRAST = 2.0  # local contrast one way this many times the other: clear
# The image's darkest and brightest levels, robust to a few stray pixels. Small:
# a digit on a photographed page can be well under 1 % of the pixels, and a
# 2 % quantile then lands on the paper and turns the vote round.
EXTREME_SHARE = 0.002


def border_pixels(gray: np.ndarray, width: int = 0) -> np.ndarray:
    """The pixels of the outer ring (``width`` px, default ~3 % of the side)."""
    h, w = gray.shape
    width = width or max(1, round(0.03 * min(h, w)))
    return np.concatenate(
        [
            gray[:width].ravel(),
            gray[-width:].ravel(),
            gray[width:-width, :width].ravel(),
            gray[width:-width, -width:].ravel(),
        ]
    )


def border_vote(gray: np.ndarray):
    """True (dark ink), False (light ink) or None (the border is not decisive).

    Decisive only when the border is mostly one level (a scan's background,
    a page's paper), not a gradient or a shadow across it.
    """
    lo, hi = quantiles(gray, (EXTREME_SHARE, 1.0 - EXTREME_SHARE))
    if hi - lo < 1e-3:
        return None
    border = border_pixels(gray)
    median = quantile(border, 0.5)
    if np.mean(np.abs(border - median) <= UNIFORM_BORDER * (hi - lo)) < BORDER_MAJORITY:
        return None
    position = (median - lo) / (hi - lo)
    if position >= 1.0 - DECISIVE:
        return True
    if position <= DECISIVE:
        return False
    return None


def local_contrast(gray: np.ndarray):
    """How much of the image stands out darker, and brighter, than its surroundings."""
    h, w = gray.shape
    scale = 96.0 / max(h, w)
    small_wh = (max(8, round(w * scale)), max(8, round(h * scale)))
    small = resize(gray, small_wh, "box")
    local = coarse_median(small, 9, 3)
    deviation = small - local
    darker = float(np.clip(-deviation - 0.05, 0, None).sum())
    brighter = float(np.clip(deviation - 0.05, 0, None).sum())
    return darker, brighter


def decide(gray: np.ndarray):
    """The ink's polarity, and whether the evidence is clear.

    Args:
        gray: float32 grey in [0, 1].

    Returns:
        ``(dark_ink, certain)``: the border vote when decisive (certain), else
        local contrast, certain when one side outweighs the other
        :data:`CLEAR_CONTRAST` times.
    """
    vote = border_vote(gray)
    if vote is not None:
        return vote, True
    darker, brighter = local_contrast(gray)
    dark = darker >= brighter
    return dark, max(darker, brighter) >= CLEAR_CONTRAST * max(min(darker, brighter), 1e-9)


def ink_is_dark(gray: np.ndarray) -> bool:
    """Decides the ink's polarity.

    Args:
        gray: float32 grey in [0, 1].

    Returns:
        True for dark ink on a lighter background.
    """
    return decide(gray)[0]

"""Plain MNIST normalisation: the baseline the front-end is measured against.

Threshold, crop to the ink's box, longer side to 20 px keeping the aspect,
centre of mass in 28x28 (after inverting an image that is mostly bright).
No cleaning of any kind: what a careful user would write in ten lines.
``benchmarks/real_world.py`` runs it beside :func:`~mnist_edge.preprocess.to_mnist`
with the same model on every rendering.
"""

from __future__ import annotations

import numpy as np

from mnist_edge.errors import NoDigitError
from mnist_edge.preprocess.boxfit import centre_by_mass
from mnist_edge.preprocess.morphology import resize


def plain_normalise(gray: np.ndarray) -> np.ndarray:
    """Plain MNIST normalisation of a grey image in [0, 1].

    Args:
        gray: ``(H, W)`` float grey in [0, 1].

    Returns:
        ``(28, 28)`` uint8, white digit on black.

    Raises:
        NoDigitError: a constant image.
    """
    g = np.asarray(gray, dtype=np.float32)
    if g.mean() > 0.5:
        g = 1.0 - g
    if g.max() <= g.min():
        raise NoDigitError("no digit found (blank image)")
    ys, xs = np.nonzero(g > 0.5 * g.max())
    crop = g[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    f = 20.0 / max(h, w)
    box = resize(crop, (max(1, round(w * f)), max(1, round(h * f))), "bilinear")
    box = np.clip(box / max(float(box.max()), 1e-6), 0.0, 1.0)
    return centre_by_mass(box)

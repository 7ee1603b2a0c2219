"""Saying "not a digit": the confidence threshold, how it is calibrated, and the decision.

A model trained with outlier exposure (``mnist-edge train --outliers``:
letters, shapes, scribbles, empty pages and garments taught to give a flat
distribution) is confident on digits and not on the rest. The threshold is
calibrated on digits the model never trained on: the lowest confidence
that keeps all but :data:`DIGIT_ABSTAIN_RATE` of them; the rates that
threshold gives on held-out non-digits are recorded beside it. ``export``
copies the threshold into the model's sidecar, and ``predict`` and ``serve``
use it unless ``--min-confidence`` says otherwise (0 disables).

numpy only.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional

import numpy as np

DIGIT_ABSTAIN_RATE = 0.007  # calibration target: held-out digits answered "not a digit"


@dataclasses.dataclass(frozen=True)
class Decision:
    """What to answer for one image.

    Attributes:
        label: the class index, or None for "not a digit".
        reason: why there is no label (None when there is one).
    """

    label: Optional[int]
    reason: Optional[str] = None


def decide(label: int, confidence: float, min_confidence: float) -> Decision:
    """A label, or "not a digit" when the model is less sure than the threshold.

    Args:
        label: the most probable class.
        confidence: its probability.
        min_confidence: the threshold (0 never abstains).

    Returns:
        The :class:`Decision`.
    """
    if min_confidence > 0 and confidence < min_confidence:
        return Decision(None, f"not a digit (confidence {confidence:.2f} < {min_confidence:.2f})")
    return Decision(label)


def calibrate(digit_confidences: np.ndarray, rate: float = DIGIT_ABSTAIN_RATE) -> float:
    """The threshold that answers "not a digit" for about ``rate`` of held-out digits.

    Args:
        digit_confidences: the model's top probability on digits it never trained on.
        rate: the share of them allowed below the threshold.

    Returns:
        The threshold, rounded down to 1/256 (an int8 model's output step).
    """
    conf = np.sort(np.asarray(digit_confidences, dtype=np.float64))
    if conf.size == 0:
        return 0.0
    value = conf[min(conf.size - 1, int(np.floor(rate * conf.size)))]
    return float(np.floor(value * 256) / 256)


def abstain_rates(confidences: Dict[str, np.ndarray], threshold: float) -> Dict[str, float]:
    """Share of each set answered "not a digit" at ``threshold``."""
    return {
        name: round(float(np.mean(np.asarray(c) < threshold)), 4) if len(c) else 0.0
        for name, c in confidences.items()
    }

"""Saying "not a digit": the score, its threshold, how it is calibrated, and the decision.

A model trained with outlier exposure (``mnist-edge train --outliers``:
letters, shapes, scribbles, empty pages and garments taught to give a flat
distribution) is confident on digits and not on the rest. The threshold is
calibrated on digits and non-digits the model never trained on: the score
that keeps all but :data:`DIGIT_ABSTAIN_RATE` of the digits, or lower, down
to where at most :data:`FALSE_ACCEPT_BUDGET` of the non-digits would pass
(:func:`calibrate_with_budget`): unusual real digits sit just under the
digits' threshold, and a model that separates non-digits well can keep them
at a stated cost. The rates it gives are recorded beside it. ``export`` copies the
threshold and the score it applies to into the model's sidecar, and
``predict`` and ``serve`` use it unless ``--min-confidence`` says otherwise
(0 disables).

The score (:data:`SCORES`):

* ``top2`` (models trained since the style stage): the two likeliest
  classes' probabilities together. A digit written in a form the model finds
  unusual splits its belief between two digits (a 4 or a 9); something that
  is no digit spreads it over all ten. Measured on the shipped model at the
  threshold that keeps 99.3 % of MNIST digits: other writers' digits
  (optdigits) kept 99.0 % (max-probability: 98.3 %), non-digits rejected
  98.8 % (97.2 %); AUROC 0.9991 (0.9984). The label is still the likeliest class.
* ``top1``: the top probability alone (sidecars that name no score).

numpy only.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional

import numpy as np

DIGIT_ABSTAIN_RATE = 0.007  # calibration target: held-out digits answered "not a digit"...
FALSE_ACCEPT_BUDGET = 0.01  # ...or lower, as long as at most this share of held-out non-digits passes
SCORES = ("top1", "top2")
DEFAULT_SCORE = "top2"  # what training calibrates now
LEGACY_SCORE = "top1"  # what a sidecar without a score was calibrated on


def score(probabilities, kind: str = DEFAULT_SCORE):
    """The "is it a digit" score of one probability vector (10,) or of many (n, 10).

    Args:
        probabilities: class probabilities.
        kind: one of :data:`SCORES`.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if kind == "top1":
        return p.max(axis=-1)
    if kind == "top2":
        return np.sort(p, axis=-1)[..., -2:].sum(axis=-1)
    raise ValueError(f"unknown score {kind!r}; choose one of {', '.join(SCORES)}")


@dataclasses.dataclass(frozen=True)
class Decision:
    """What to answer for one image.

    Attributes:
        label: the class index, or None for "not a digit".
        reason: why there is no label (None when there is one).
    """

    label: Optional[int]
    reason: Optional[str] = None


def decide(label: int, probabilities, min_confidence: float, kind: str = LEGACY_SCORE) -> Decision:
    """A label, or "not a digit" when the score is below the threshold.

    Args:
        label: the most probable class.
        probabilities: the class probabilities.
        min_confidence: the threshold (0 never abstains).
        kind: the score the threshold applies to (:data:`SCORES`).

    Returns:
        The :class:`Decision`.
    """
    value = float(score(probabilities, kind))
    if min_confidence > 0 and value < min_confidence:
        what = "confidence" if kind == "top1" else "two likeliest together"
        return Decision(None, f"not a digit ({what} {value:.2f} < {min_confidence:.2f})")
    return Decision(label)


def calibrate(digit_confidences: np.ndarray, rate: float = DIGIT_ABSTAIN_RATE) -> float:
    """The threshold that answers "not a digit" for about ``rate`` of held-out digits.

    Args:
        digit_confidences: the model's score (:func:`score`) on digits it never trained on.
        rate: the share of them allowed below the threshold.

    Returns:
        The threshold, rounded down to 1/256 (an int8 model's output step).
    """
    conf = np.sort(np.asarray(digit_confidences, dtype=np.float64))
    if conf.size == 0:
        return 0.0
    value = conf[min(conf.size - 1, int(np.floor(rate * conf.size)))]
    return float(np.floor(value * 256) / 256)


def calibrate_with_budget(
    digit_scores: np.ndarray,
    non_digit_scores: np.ndarray,
    rate: float = DIGIT_ABSTAIN_RATE,
    budget: float = FALSE_ACCEPT_BUDGET,
) -> float:
    """The threshold: the digits' (:func:`calibrate`), or lower while non-digits stay within a budget.

    The digits' threshold refuses ``rate`` of held-out digits. Real digits
    that look unusual sit just under it, so when the model separates
    non-digits well, the threshold goes down to the lowest score at which at
    most ``budget`` of held-out non-digits are still accepted as digits:
    every digit above it is kept, and the false accepts are as stated.

    Args:
        digit_scores: the score on held-out digits.
        non_digit_scores: the score on held-out non-digits.
        rate: the digits' target.
        budget: the share of non-digits that may pass.

    Returns:
        The threshold, on a 1/256 step (rounded up for the budget).
    """
    digits = calibrate(digit_scores, rate)
    others = np.sort(np.asarray(non_digit_scores, dtype=np.float64))
    if others.size == 0:
        return digits
    # the lowest threshold with at most ``budget`` of non-digits at or above it
    allowed = int(np.floor(budget * others.size))
    over = others[others.size - allowed - 1] if allowed < others.size else 0.0
    lowest = float(np.floor(over * 256) / 256 + 1 / 256)
    return min(digits, lowest)


def abstain_rates(confidences: Dict[str, np.ndarray], threshold: float) -> Dict[str, float]:
    """Share of each set answered "not a digit" at ``threshold``."""
    return {
        name: round(float(np.mean(np.asarray(c) < threshold)), 4) if len(c) else 0.0
        for name, c in confidences.items()
    }

"""What a model trains on: clean, augmented and touching digits, outliers; and the held-out calibration.

:func:`assemble` builds the training set (one-hot targets for digits,
uniform targets for non-digits, weighted); :func:`split_for_calibration`
keeps a class-balanced split of training digits out of it, on which
:func:`calibrate_abstention` sets the "not a digit" threshold.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Dict, List, Optional

import numpy as np

from mnist_edge import data as data_mod
from mnist_edge.evaluation.evaluate import keras_probabilities
from mnist_edge.runtime import abstain
from mnist_edge.synthesis import augment, outliers
from mnist_edge.training.config import TrainConfig

CALIBRATION_HOLDOUT = 5000  # training digits kept out to calibrate "not a digit"
OUTLIER_WEIGHT = 0.5  # weight of a non-digit's loss relative to a digit's


@dataclasses.dataclass
class TrainingSet:
    """Images and soft targets (one-hot digits, uniform non-digits) with weights."""

    x: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    counts: Dict[str, int]


def split_for_calibration(x, y, options: TrainConfig):
    """Keeps a class-balanced held-out split of training digits for calibration."""
    if options.outliers <= 0:
        return (x, y), None
    hold = data_mod.balanced_sample(y, min(CALIBRATION_HOLDOUT, len(y) // 10), options.seed + 7)
    keep = np.ones(len(y), bool)
    keep[hold] = False
    return (x[keep], y[keep]), (x[hold], y[hold])


def garments(options: TrainConfig):
    if not options.outlier_data:
        return None
    return data_mod.load(options.outlier_data).x_train


def _digest(array: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _writers_key(options: TrainConfig) -> tuple:
    """The cache key's share of other hands: empty at 0, so a set without --writers keeps its key."""
    return (options.writers,) if options.writers else ()


def assemble(x: np.ndarray, y: np.ndarray, options: TrainConfig, log: Callable[[str], None]) -> TrainingSet:
    """Clean digits, augmented digits and outliers, with their targets and weights."""

    parts_x, parts_y = [x], [y]
    if options.augment_copies:
        log(
            f"augment: {options.augment_copies} cop{'y' if options.augment_copies == 1 else 'ies'}"
            f" of {len(y)} digits drawn as real images arrive, through the front-end"
        )
        key = (_digest(x), _digest(y), options.augment_copies, options.seed) + _writers_key(options)
        arrays = augment.cached(
            "digits",
            key,
            lambda: dict(
                zip(
                    ("x", "y"),
                    augment.augmented_digits(
                        x, y, options.augment_copies, options.seed, log=log, writers=options.writers
                    ),
                )
            ),
            log,
        )
        parts_x.append(arrays["x"])
        parts_y.append(arrays["y"])
    if options.styles:
        log(f"augment: {options.styles} digits in other writers' forms, through the front-end")
        arrays = augment.cached(
            "styles",
            (options.styles, options.seed) + _writers_key(options),
            lambda: dict(
                zip(
                    ("x", "y"),
                    augment.style_digits(options.styles, options.seed, log=log, writers=options.writers),
                )
            ),
            log,
        )
        parts_x.append(arrays["x"])
        parts_y.append(arrays["y"])
    digits_x, digits_y = np.concatenate(parts_x), np.concatenate(parts_y)
    targets = np.eye(10, dtype=np.float32)[digits_y]
    weights = np.ones(len(digits_y), np.float32)
    styled = len(arrays["y"]) if options.styles else 0
    counts = {
        "digits": int(len(y)),
        "augmented": int(len(digits_y) - len(y) - styled),
        "styles": int(styled),
        "outliers": 0,
    }
    if options.outliers:
        log(
            f"augment: {options.outliers} non-digits (letters, shapes, scribbles, pages,"
            f" garments) through the front-end"
        )
        fonts, garment_images = outliers.training_fonts(), garments(options)
        key = (
            options.outliers,
            options.seed,
            tuple(fonts),
            _digest(garment_images) if garment_images is not None else None,
        )

        def build():
            images = augment.outlier_images(options.outliers, options.seed, fonts, garment_images, log=log)
            return {"x": images}

        ox = augment.cached("outliers", key, build, log)["x"]
        digits_x = np.concatenate([digits_x, ox])
        targets = np.concatenate([targets, np.full((len(ox), 10), 0.1, np.float32)])
        weights = np.concatenate([weights, np.full(len(ox), OUTLIER_WEIGHT, np.float32)])
        counts["outliers"] = int(len(ox))
    if options.touching:
        tx = touching(x, options, log)
        digits_x = np.concatenate([digits_x, tx])
        targets = np.concatenate([targets, np.full((len(tx), 10), 0.1, np.float32)])
        weights = np.concatenate([weights, np.full(len(tx), OUTLIER_WEIGHT, np.float32)])
        counts["touching"] = int(len(tx))
    return TrainingSet(digits_x, targets, weights, counts)


def outlier_font_names(options: TrainConfig) -> List[str]:
    """The font files "not a digit" letters were drawn in (none without --outliers): what a rebuild needs."""
    return [os.path.basename(f) for f in outliers.training_fonts()] if options.outliers else []


def touching(x: np.ndarray, options: TrainConfig, log: Callable[[str], None]) -> np.ndarray:
    """Touching digits composed from the training digits, as non-digits (augment.touching_groups)."""
    log(f"augment: {options.touching} groups of touching digits, as a number's reader sees them")
    key = (_digest(x), options.touching, options.seed) + _writers_key(options)
    build = lambda: {
        "x": augment.touching_groups(x, options.touching, options.seed, log=log, writers=options.writers)
    }
    return augment.cached("touching", key, build, log)["x"]


def calibrate_abstention(model, held_out, options: TrainConfig, log) -> Optional[dict]:
    """The "not a digit" threshold from held-out digits and non-digits (abstain.calibrate_with_budget)."""
    if held_out is None:
        return None

    hx, hy = held_out
    ax, _ = augment.augmented_digits(hx, hy, 1, options.seed + 1000, log=log)
    others = augment.outlier_images(
        2000, options.seed + 1000, outliers.training_fonts(), garments(options), log=log
    )

    def confidence(images):
        if not len(images):
            return np.zeros(0)
        return abstain.score(keras_probabilities(model, data_mod.normalize(images)), abstain.DEFAULT_SCORE)

    digits, non_digits = confidence(hx), confidence(others)
    threshold = abstain.calibrate_with_budget(digits, non_digits)
    rates = abstain.abstain_rates(
        {"held_out_digits": digits, "augmented_digits": confidence(ax), "non_digits": non_digits},
        threshold,
    )
    log(
        f"abstain: min {abstain.DEFAULT_SCORE} score {threshold:.4f}; answered 'not a digit': "
        + ", ".join(f"{k} {v:.1%}" for k, v in rates.items())
    )
    return {
        "min_confidence": threshold,
        "score": abstain.DEFAULT_SCORE,
        "target_digit_rate": abstain.DIGIT_ABSTAIN_RATE,
        "false_accept_budget": abstain.FALSE_ACCEPT_BUDGET,
        "calibration": {
            "held_out_digits": int(len(hx)),
            "augmented_digits": int(len(ax)),
            "non_digits": int(len(others)),
            "rates": rates,
        },
    }

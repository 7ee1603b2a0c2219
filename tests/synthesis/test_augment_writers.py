"""Other writers' hands in training sets (synthesis/augment.py, ``train --writers``): narrower, coarse."""

import numpy as np
import pytest

from mnist_edge.synthesis import augment, renderings


def _aspect(form: np.ndarray) -> float:
    ink = renderings.ink_box(form)
    return ink.shape[1] / ink.shape[0]


@pytest.mark.parametrize("width", [0.55, 0.7, 0.8])
def test_narrowed_keeps_the_height_and_scales_the_width(mnist, width):
    digit = mnist.x_train[0]  # a 5, wider than tall enough to measure
    ink = renderings.ink_box(digit)
    out = augment.narrowed(digit, width)
    assert out.shape == (ink.shape[0], round(ink.shape[1] * width))
    assert out.dtype == np.uint8


def test_affine_draws_narrow_digits_for_other_writers(mnist):
    digits = mnist.x_train[:60]
    plain = [_aspect(augment.affine(d, np.random.default_rng(k))) for k, d in enumerate(digits)]
    narrow = [_aspect(augment.affine(d, np.random.default_rng(k), writers=1.0)) for k, d in enumerate(digits)]
    assert np.median(np.asarray(narrow) / np.asarray(plain)) < 0.85


def test_affine_without_writers_draws_as_before(mnist):
    """writers=0 makes no extra draw: a training set rendered before --writers renders the same."""
    digit = mnist.x_train[1]
    before = augment.affine(digit, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    assert np.array_equal(augment.affine(digit, rng, writers=0.0), before)
    again = np.random.default_rng(7)
    augment.affine(digit, again)
    assert rng.random() == again.random()  # both generators consumed alike


def test_other_hands_are_narrower(mnist):
    rng = np.random.default_rng(0)
    digits = [d for d, y in zip(mnist.x_train[:80], mnist.y_train[:80]) if y != 1]  # a 1 has no width to lose
    ratios = [_aspect(augment.other_hand(d, rng)) / _aspect(d) for d in digits]
    assert np.median(ratios) < 0.85


def test_touching_groups_of_other_hands_are_seeded_and_worker_independent(mnist):
    x = augment.touching_groups(mnist.x_train[:300], 40, seed=5, workers=1, writers=1.0)
    again = augment.touching_groups(mnist.x_train[:300], 40, seed=5, workers=2, writers=1.0)
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and np.array_equal(x, again)
    plain = augment.touching_groups(mnist.x_train[:300], 40, seed=5, workers=1)
    assert not np.array_equal(x[: len(plain)], plain[: len(x)])

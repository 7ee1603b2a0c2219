"""The device CNN family: the members' layers, shapes and sizes."""

import pytest

from tests.helpers import require_extra

require_extra("tensorflow", "train")

from mnist_edge.search.family import BN_MOMENTUM, build_member, stage_widths
from mnist_edge.search.space import DEFAULT_SPACE

BASE = dict({name: values[0] for name, values in DEFAULT_SPACE.items()}, stages=1)


@pytest.mark.parametrize(
    "width,growth,stages,widths",
    [(8, 2.0, 3, [8, 16, 32]), (12, 1.5, 3, [12, 18, 27]), (4, 1.0, 2, [4, 4]), (1, 0.25, 2, [1, 1])],
)
def test_stage_widths_grow_by_the_factor(width, growth, stages, widths):
    assert stage_widths({"width": width, "growth": growth, "stages": stages}) == widths


@pytest.mark.parametrize(
    "changes,params",
    [
        # 1 stage, 4 3x3 filters without bias + BN (4 x 4), GAP, dense 4 -> 10
        ({}, 4 * 9 + 4 * 4 + 4 * 10 + 10),
        # + a hidden dense layer of 16
        ({"dense": 16}, 4 * 9 + 4 * 4 + 4 * 16 + 16 + 16 * 10 + 10),
        # flatten head: the pooled 14x14x4 map straight into the softmax
        ({"head": "flatten"}, 4 * 9 + 4 * 4 + 14 * 14 * 4 * 10 + 10),
        # two stages of two 5x5 convolutions, 8 then 16 filters
        (
            {"stages": 2, "convs": 2, "width": 8, "growth": 2.0, "kernel": 5},
            25 * 8 + 25 * 8 * 8 + 25 * 8 * 16 + 25 * 16 * 16 + 4 * (8 + 8 + 16 + 16) + 16 * 10 + 10,
        ),
    ],
    ids=["smallest", "dense", "flatten", "two stages"],
)
def test_parameter_counts(changes, params):
    assert build_member(dict(BASE, **changes)).count_params() == params


def test_a_member_maps_images_to_ten_probabilities_and_augments_only_in_training():
    import numpy as np

    model = build_member(dict(BASE, augment=1.0, pool="avg", stages=2))
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    first, second = model(x, training=False).numpy(), model(x, training=False).numpy()
    assert first.shape == (3, 10) and np.allclose(first.sum(1), 1, atol=1e-5)
    assert np.array_equal(first, second)  # the random rotation/shift/zoom are training-only
    assert {layer.name for layer in model.layers} >= {"rotate", "shift", "zoom", "pool1"}


def test_batch_norm_settles_within_a_short_trial():
    model = build_member(BASE)
    assert all(layer.momentum == BN_MOMENTUM for layer in model.layers if "bn" in layer.name)

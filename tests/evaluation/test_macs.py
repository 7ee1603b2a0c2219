"""Multiply-adds read from a model file, and the Cortex-M estimate built on them (no TensorFlow)."""

import pytest

from mnist_edge.evaluation import macs
from mnist_edge.runtime import Predictor, default_model_path


def test_the_default_cnns_multiply_adds_are_counted_layer_by_layer():
    conv1 = 28 * 28 * 32 * 3 * 3 * 1
    conv2 = 14 * 14 * 64 * 3 * 3 * 32
    conv3 = 5 * 5 * 96 * 3 * 3 * 64  # valid padding
    dense = 10 * 5 * 5 * 96
    assert macs.multiply_adds(Predictor(default_model_path()).facts) == conv1 + conv2 + conv3 + dense


@pytest.mark.parametrize("count", [0, 1_000_000, 5_244_864])
def test_the_estimate_scales_with_multiply_adds_and_the_m4_is_slower(count):
    m7, m4 = macs.cortex_m_estimate(count)
    assert m7["estimated_ms"] == pytest.approx(count * macs.M7_CYCLES_PER_MAC / 216e6 * 1e3, abs=0.01)
    assert m4["estimated_ms"] >= m7["estimated_ms"]


def test_the_published_figure_gives_about_1_7_cycles_per_multiply_add_on_the_m7():
    assert pytest.approx(1.74, abs=0.01) == macs.M7_CYCLES_PER_MAC
    assert "estimate" in macs.SOURCE and "1801.06601" in macs.SOURCE

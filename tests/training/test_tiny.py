"""`train --arch tiny`: the microcontroller model: under 10,000 parameters, 16 KB of flash and arena."""

import numpy as np
import pytest
from helpers import require_extra

require_extra("tensorflow", "train")

from mnist_edge import export
from mnist_edge.evaluation import micro
from mnist_edge.training.models import build_model

LIMIT_BYTES = 16 * 1024


def test_tiny_has_under_10000_parameters():
    assert build_model("tiny").count_params() <= 10_000


def test_its_augmentation_is_the_identity_at_inference():
    model = build_model("tiny")
    x = np.random.default_rng(0).random((4, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(model(x, training=False), model(x, training=False))


@pytest.fixture(scope="module")
def tiny_int8(tmp_path_factory, tiny_cnn, mnist):
    out = tmp_path_factory.mktemp("tiny_int8")
    result = export.export(tiny_cnn, out, export.ExportConfig(quantizations=("int8",)), dataset=mnist)
    return result["artifacts"][0]


@pytest.mark.slow
def test_tiny_int8_passes_the_gate_without_augmentation_ops(tiny_int8):
    assert tiny_int8["passed"], tiny_int8["reasons"]
    from mnist_edge.runtime import Predictor

    ops = set(Predictor(tiny_int8["path"]).facts.op_names)
    assert ops <= {"RESHAPE", "CONV_2D", "MAX_POOL_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX"}, ops


@pytest.mark.slow
def test_tiny_int8_fits_16_kb_of_flash_and_of_arena(tiny_int8, mnist):
    require_extra("tflite_micro", "micro")
    result = micro.check(tiny_int8["path"], mnist.x_test[:200])
    assert result["model_bytes"] <= LIMIT_BYTES and result["arena_bytes"] <= LIMIT_BYTES
    assert result["agreement_with_litert"] >= 0.99
    assert 1.0e6 < result["multiply_adds"] < 2.0e6

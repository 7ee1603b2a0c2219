"""The recipes beyond the converter's four: int16x8, int4 (ai-edge-quantizer), int8-selective; signatures."""

import json
import sys

import numpy as np
import pytest
from helpers import require_extra

require_extra("tensorflow", "train")

from mnist_edge import constants, export
from mnist_edge.errors import MissingExtraError
from mnist_edge.export import recipes
from mnist_edge.runtime import Predictor
from mnist_edge.runtime.validate import TensorFacts


def signatures(path):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path)).get_signature_list()


@pytest.fixture(scope="module")
def extra_exports(tmp_path_factory, full_model, small_cnn, mnist):
    """Every recipe of the small CNN; the tutorial MLP's extra ones (its four others: ``exported``)."""
    done = {}
    for name, model, recipes_ in (
        ("mlp", full_model[0], constants.EXTRA_RECIPES),
        ("cnn", small_cnn, constants.RECIPES),
    ):
        out = tmp_path_factory.mktemp(f"recipes_{name}")
        done[name] = (
            out,
            export.export(model, out, export.ExportConfig(quantizations=recipes_), dataset=mnist),
        )
    return done


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mlp", "cnn"])
@pytest.mark.parametrize("recipe", constants.RECIPES)
def test_each_recipe_exports_and_passes_its_gate(extra_exports, exported, model, recipe):
    _, result = exported if (model == "mlp" and recipe in constants.QUANTIZATIONS) else extra_exports[model]
    artifact = next(a for a in result["artifacts"] if a["quantization"] == recipe)
    assert artifact["passed"], artifact["reasons"]
    assert artifact["accuracy_drop_pp"] <= constants.DEFAULT_MAX_DROP_PP
    assert Predictor(artifact["path"]).predict(np.zeros((28, 28), np.uint8)).label in range(10)


@pytest.mark.slow
@pytest.mark.parametrize(
    "recipe, weights, activations",
    [
        ("int16x8", "int8", "int16"),
        ("int4", "int4 (fully connected), int8 (others)", "float32"),
        ("int8-selective", "int8", "int8"),
    ],
)
def test_the_sidecar_records_the_recipe(extra_exports, recipe, weights, activations):
    _, result = extra_exports["mlp"]
    artifact = next(a for a in result["artifacts"] if a["quantization"] == recipe)
    sidecar = json.loads(open(artifact["path"][: -len(".tflite")] + ".json").read())
    assert sidecar["quantization"] == recipe
    assert sidecar["recipe"]["weights"] == weights and sidecar["recipe"]["activations"] == activations


@pytest.mark.slow
def test_int4_is_about_half_of_int8(extra_exports, exported):
    _, result = extra_exports["mlp"]
    int4 = next(a for a in result["artifacts"] if a["quantization"] == "int4")
    int8 = next(a for a in exported[1]["artifacts"] if a["quantization"] == "int8")
    assert 0.4 < int4["size_bytes"] / int8["size_bytes"] < 0.6


@pytest.mark.slow
def test_selective_keeps_the_worst_layer_in_float(extra_exports):
    _, result = extra_exports["mlp"]
    artifact = next(a for a in result["artifacts"] if a["quantization"] == "int8-selective")
    sidecar = json.loads(open(artifact["path"][: -len(".tflite")] + ".json").read())
    assert len(sidecar["recipe"]["float_layers"]) == recipes.SELECTIVE_FLOAT_LAYERS
    assert "DEQUANTIZE" in sidecar["ops"] and "FULLY_CONNECTED" in sidecar["ops"]


@pytest.mark.slow
def test_every_export_carries_a_signature(exported, extra_exports):
    paths = [a["path"] for a in exported[1]["artifacts"]]
    paths += [a["path"] for a in extra_exports["mlp"][1]["artifacts"]]
    for path in paths:
        assert signatures(path) == {"serving_default": {"inputs": ["image"], "outputs": ["output_0"]}}, path


@pytest.mark.parametrize(
    "errors, expected",
    [
        (["0.2", "1.5", "0.9"], ["b"]),
        (["nan", "0.3", "0.1"], ["b"]),  # a layer without a scale ranks last
        (["0.5", "0.5", "0.1"], ["a"]),  # ties keep the graph's order
    ],
)
def test_worst_layers_ranks_by_error_over_scale(errors, expected):
    rows = [{"tensor_name": name, "rmse_over_scale": e} for name, e in zip("abc", errors)]
    assert recipes.worst_layers(rows, 1) == expected


def test_int4_without_ai_edge_quantizer_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_quantizer", None)
    with pytest.raises(MissingExtraError, match="ai-edge-quantizer"):
        recipes.convert_int4(b"")


def test_an_unknown_recipe_is_named():
    with pytest.raises(ValueError, match="unknown recipe 'int3'"):
        recipes.convert_recipe(None, "int3")


@pytest.mark.parametrize("elements, nbytes", [(1, 1), (2, 1), (3, 2), (1280, 640)])
def test_int4_values_pack_two_to_a_byte(elements, nbytes):
    tensor = TensorFacts(0, "w", "int4", 0, [elements], [], 1, [], [], 0)
    assert tensor.nbytes == nbytes

"""`train --qat`: quantisation-aware fine-tuning in a tf-keras process, compared with post-training int8."""

import json

import pytest
from helpers import require_extra

require_extra("tensorflow", "train")

from mnist_edge.cli import main
from mnist_edge.training import qat, qat_worker


@pytest.mark.slow
def test_qat_writes_a_gated_int8_file_and_compares_it_with_post_training(
    runner, tmp_path, small_model, mnist_dir
):
    require_extra("tensorflow_model_optimization", "qat")
    args = ["train", "--qat", "--from", str(small_model), "--epochs", "1", "--data-dir", str(mnist_dir)]
    result = runner.invoke(main, args + ["--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["parity"]["passed"] and 0.8 < doc["qat_int8_accuracy"] <= 1.0
    assert 0.8 < doc["ptq_int8_accuracy"] <= 1.0
    sidecar = json.loads((tmp_path / "mnist_mlp_qat_int8.json").read_text())
    assert sidecar["quantization"] == "int8" and "QAT" in sidecar["recipe"]["tool"]
    assert sidecar["input"]["dtype"] == "int8"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--qat"], "give --from MODEL.keras"),
        (["--qat", "--from", "default"], "give --from MODEL.keras"),
        (["--qat", "--from", "m.keras", "--augment", "1"], "do not apply"),
    ],
)
def test_qat_usage_errors(runner, args, message):
    result = runner.invoke(main, ["train"] + args)
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize(
    "missing, message",
    [
        ({"tensorflow_model_optimization", "tf_keras"}, "needs tensorflow-model-optimization and tf-keras"),
        ({"tf_keras"}, "needs tf-keras: .* --no-deps tensorflow-model-optimization 'tf-keras~=2."),
    ],
)
def test_missing_qat_tools_are_one_line(monkeypatch, missing, message):
    real = qat.importlib.util.find_spec
    monkeypatch.setattr(qat.importlib.util, "find_spec", lambda name: None if name in missing else real(name))
    with pytest.raises(qat.MissingExtraError, match=message.replace("(", "\\(")):
        qat.check_qat_tools()


class Unknown:
    name = "lstm"

    def get_config(self):
        return {}


def test_a_layer_qat_does_not_handle_is_named():
    with pytest.raises(ValueError, match="layer lstm \\(Unknown\\) is not supported"):
        qat_worker.legacy_layer(None, Unknown())


def test_training_only_augmentation_is_left_out():
    class RandomRotation(Unknown):
        pass

    assert qat_worker.legacy_layer(None, RandomRotation()) is None

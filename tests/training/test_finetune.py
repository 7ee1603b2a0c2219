"""Fine-tuning on the user's own images (train --images DIR --from MODEL) and the .tflite rebuild under it."""

import json

import numpy as np
import pytest
from helpers import FIXTURES, require_extra

require_extra("tensorflow", "train")

from mnist_edge.cli import main
from mnist_edge.errors import DataError, ModelError
from mnist_edge.runtime import default_model_path
from mnist_edge.synthesis import glyphs
from mnist_edge.training import finetune, rebuild


@pytest.mark.parametrize(
    "model",
    [default_model_path(), FIXTURES / "mnist_cnn_int8.tflite", FIXTURES / "mnist_mlp_int8_uint8io.tflite"],
)
def test_an_int8_tflite_rebuilds_as_the_same_model(model, mnist):
    keras_model = rebuild.keras_from_tflite(model)
    assert rebuild.check_rebuild(keras_model, model, mnist.x_test[:1000]) >= rebuild.MIN_AGREEMENT


def test_a_float_tflite_is_refused_with_one_line():
    with pytest.raises(ModelError, match="needs an int8 model"):
        rebuild.keras_from_tflite(FIXTURES / "mnist_mlp_float32.tflite")


def write_digits(folder, counts):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for label, n in counts.items():
        for k in range(n):
            (folder / f"img{k}_{label}.png").write_bytes(glyphs.render(label, rng))
    return folder


@pytest.mark.parametrize(
    "counts,message",
    [
        ({"3": 2, "4": 2}, "4 readable labelled images; fine-tuning needs at least 10"),
        ({"3": 6, "4": 5, "7": 1}, "class 7 has only one image"),
        ({}, "no labelled images"),
    ],
    ids=["too few", "a class with one image", "no labelled images"],
)
def test_unusable_folders_are_one_clear_line(tmp_path, counts, message):
    folder = write_digits(tmp_path / "mine", counts)
    (folder / "unlabelled.png").write_bytes(glyphs.render("5", np.random.default_rng(1)))
    with pytest.raises(DataError, match=message):
        finetune.read_user_images(folder, finetune.FineTuneConfig())


def test_each_class_is_split_between_training_and_held_back(tmp_path):
    folder = write_digits(tmp_path / "mine", {str(d): 4 for d in range(10)})
    user = finetune.read_user_images(folder, finetune.FineTuneConfig(held_back=0.5))
    assert np.bincount(user.held_y, minlength=10).tolist() == [2] * 10
    assert np.bincount(user.train_y, minlength=10).tolist() == [2] * 10
    assert len(set(user.held_paths)) == 20


@pytest.mark.parametrize("args", [["--arch", "cnn"], ["--augment", "2"], ["--outliers", "10"]])
def test_fine_tuning_options_that_do_not_go_together_are_usage_errors(runner, tmp_path, args):
    result = runner.invoke(main, ["train", "--images", str(tmp_path), *args])
    assert result.exit_code == 2, result.output


@pytest.mark.slow
def test_fine_tuning_reads_a_new_writer_and_keeps_mnist(runner, tmp_path, mnist_dir):
    """A writer who slashes 0s (a held-out form the default model calls "not a digit"): fine-tune on half."""
    rng = np.random.default_rng(4)
    folder = tmp_path / "writer"
    folder.mkdir()
    for label in glyphs.FORMS:
        for k in range(10):
            held_out = label == "0"  # glyphs.HELD_OUT_FORMS: never trained on
            (folder / f"w{k}_{label}.png").write_bytes(glyphs.render(label, rng, held_out=held_out))
    out = tmp_path / "out"
    result = runner.invoke(
        main, ["train", "--images", str(folder), "--data-dir", str(mnist_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "mnist_cnn_m_finetuned.json").read_text())
    assert meta["after"]["held_back_accuracy"] >= 0.98
    assert meta["before"]["held_back_accuracy"] < meta["after"]["held_back_accuracy"]
    assert meta["after"]["mnist_test_accuracy"] >= meta["before"]["mnist_test_accuracy"] - 0.003
    assert meta["abstain"]["min_confidence"] > 0  # the shipped model's "not a digit" threshold came along
    assert "your held-back images" in result.stdout and "mnist-edge export --model" in result.stdout

"""`mnist-edge train` and `eval`, end to end on real MNIST."""

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers import require_extra

require_extra("tensorflow", "train")

from mnist_edge import fsutil
from mnist_edge.cli import main
from mnist_edge.training import train
from mnist_edge.training.config import TrainConfig


def _weights(path):
    import keras

    return list(keras.models.load_model(path, compile=False).get_weights())


def test_train_one_epoch_on_a_slice(runner, tmp_path, mnist_dir):
    out = tmp_path / "models"
    result = runner.invoke(
        main,
        [
            "train",
            "--epochs",
            "1",
            "--train-limit",
            "3000",
            "--data-dir",
            str(mnist_dir),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # stdout is exactly one JSON document
    for key in ("model", "test_accuracy", "test_loss", "train_seconds", "epochs"):
        assert key in doc
    assert doc["epochs"] == 1 and doc["dataset"] == "mnist"
    assert 0.80 < doc["test_accuracy"] <= 1.0  # 3000 images, 1 epoch: ~0.88
    assert "epoch 1/1: loss" in result.stderr  # progress goes to stderr
    assert sorted(p.name for p in out.iterdir()) == ["mnist_mlp.json", "mnist_mlp.keras"]
    meta = json.loads((out / "mnist_mlp.json").read_text())
    assert meta["dataset"]["md5"]["train_images"] == "6bbc9ace898e44ae57da46a324031adb"
    assert meta["seed"] == 0 and meta["train_examples"] == 3000
    assert meta["hyperparameters"]["batch_size"] == 32
    assert len(meta["history"]) == 1 and meta["history"][0]["loss"] > 0
    assert meta["sha256"] == fsutil.sha256_file(out / "mnist_mlp.keras")
    assert {"tensorflow", "keras", "numpy", "python"} <= set(meta["versions"])
    assert meta["test_accuracy"] == doc["test_accuracy"]


def test_model_is_the_tutorials_layer_for_layer():
    model = train.build_model("mlp")
    kinds = [(type(layer).__name__, getattr(layer, "units", None)) for layer in model.layers]
    assert kinds == [("Flatten", None), ("Dense", 128), ("Dropout", None), ("Dense", 10)]
    assert model.layers[1].activation.__name__ == "relu"
    assert model.layers[2].rate == 0.2
    assert model.layers[3].activation.__name__ == "softmax"
    assert model.count_params() == 101770


def test_same_seed_same_weights_other_seed_differs(tmp_path, mnist):
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        meta = train.train(mnist, tmp_path / name, TrainConfig(epochs=1, seed=seed, train_limit=2000))
        runs[name] = (_weights(meta["model"]), meta)
    for wa, wb in zip(runs["a"][0], runs["b"][0]):
        assert np.array_equal(wa, wb)
    assert runs["a"][1]["history"] == [
        {**row, "seconds": runs["a"][1]["history"][0]["seconds"]} for row in runs["b"][1]["history"]
    ]
    assert not all(np.array_equal(wa, wc) for wa, wc in zip(runs["a"][0], runs["c"][0]))


def test_cnn_trains(runner, tmp_path, mnist_dir):
    result = runner.invoke(
        main,
        [
            "train",
            "--arch",
            "cnn",
            "--epochs",
            "1",
            "--train-limit",
            "2000",
            "--data-dir",
            str(mnist_dir),
            "--out",
            str(tmp_path),
            "--json",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"].endswith("mnist_cnn.keras")
    assert result.stderr == ""  # --quiet


def test_failed_run_leaves_nothing(runner, tmp_path, mnist_dir, monkeypatch):
    out = tmp_path / "out"

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fsutil, "write_json_atomic", explode)
    result = runner.invoke(
        main,
        ["train", "--epochs", "1", "--train-limit", "500", "--data-dir", str(mnist_dir), "--out", str(out)],
    )
    assert result.exit_code == 130
    assert "interrupted" in result.stderr and "Traceback" not in result.output
    assert list(out.iterdir()) == []  # not even the staged .keras file


def test_unwritable_out_is_one_line(runner, tmp_path, mnist_dir):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(main, ["train", "--data-dir", str(mnist_dir), "--out", str(blocker / "sub")])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "cannot create output folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_full_default_train_reaches_tutorial_accuracy(full_model):
    _, meta = full_model
    assert meta["epochs"] == 5 and meta["hyperparameters"]["batch_size"] == 32
    assert meta["test_accuracy"] >= 0.975
    assert len(meta["history"]) == 5
    assert meta["history"][-1]["loss"] < meta["history"][0]["loss"]


def _png_ok(path):
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", raw[16:24])
    assert width > 200 and height > 200
    assert zlib.crc32(raw[12:29]) == struct.unpack(">I", raw[29:33])[0]  # IHDR intact


@pytest.mark.slow
def test_eval_json_and_plots(runner, tmp_path, full_model, mnist_dir):
    path, meta = full_model
    plots = tmp_path / "plots"
    result = runner.invoke(
        main, ["eval", "--model", str(path), "--data-dir", str(mnist_dir), "--plots", str(plots), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert abs(doc["test_accuracy"] - meta["test_accuracy"]) < 1e-6
    assert abs(doc["test_loss"] - meta["test_loss"]) < 1e-3
    cm = np.array(doc["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 10000
    assert np.trace(cm) / 10000 == pytest.approx(doc["test_accuracy"])
    assert len(doc["per_class_accuracy"]) == 10
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["confusion_matrix.png", "image_2000.png", "train_grid.png", "training_curves.png"]
    for p in plots.iterdir():
        _png_ok(p)


def test_eval_bad_model_files(runner, tmp_path, mnist_dir):
    missing = runner.invoke(main, ["eval", "--model", str(tmp_path / "nope.keras")])
    assert missing.exit_code == 1 and "model file not found" in missing.stderr
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"definitely not a zip")
    result = runner.invoke(main, ["eval", "--model", str(junk), "--data-dir", str(mnist_dir)])
    assert result.exit_code == 1 and "not a Keras model" in result.stderr
    assert "Traceback" not in result.output


def test_continuing_a_model_with_styles(runner, tmp_path, mnist_dir, monkeypatch):
    """train --from MODEL (no --images) continues it on the set --styles/--outliers build."""
    from helpers import FIXTURES

    monkeypatch.setenv("MNIST_EDGE_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(
        main,
        [
            "train",
            "--from",
            str(FIXTURES / "mnist_cnn_int8.tflite"),
            "--styles",
            "60",
            "--outliers",
            "40",
            "--touching",
            "30",
            "--writers",
            "0.5",
            "--epochs",
            "1",
            "--train-limit",
            "300",
            "--data-dir",
            str(mnist_dir),
            "--out",
            str(tmp_path / "out"),
            "--json",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"].endswith("mnist_cnn_continued.keras")
    meta = json.loads((tmp_path / "out" / "mnist_cnn_continued.json").read_text())
    assert meta["continued_from"]["name"] == "mnist_cnn_int8.tflite"
    assert meta["training_set"]["styles"] >= 50  # a few renderings may show no digit
    assert 0 < meta["training_set"]["touching"] <= 30  # pairs segmentation parts are left out
    assert meta["hyperparameters"]["touching"] == 30
    assert meta["hyperparameters"]["writers"] == 0.5
    assert meta["hyperparameters"]["learning_rate"] == pytest.approx(0.001 / 5)
    assert meta["abstain"]["min_confidence"] > 0


def test_training_records_the_fonts_its_letters_came_from(runner, tmp_path, mnist_dir, monkeypatch):
    """A rebuild must know them: a machine with the handwriting fonts installed once trained on them."""
    from mnist_edge.synthesis import outliers

    monkeypatch.setenv("MNIST_EDGE_CACHE", str(tmp_path / "cache"))
    args = ["train", "--arch", "cnn", "--outliers", "20", "--epochs", "1", "--train-limit", "200"]
    result = runner.invoke(main, [*args, "--data-dir", str(mnist_dir), "--out", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    fonts = json.loads((tmp_path / "mnist_cnn.json").read_text())["hyperparameters"]["outlier_fonts"]
    assert fonts == [Path(f).name for f in outliers.training_fonts()]
    assert not set(fonts) & {Path(f).name for f in outliers.handwriting_fonts()}


@pytest.mark.parametrize(
    "source, stem",
    [
        ("mnist_cnn_m", "mnist_cnn_m_continued"),
        ("mnist_cnn_m_int8", "mnist_cnn_m_continued"),
        ("mnist_cnn_m_continued_int8", "mnist_cnn_m_continued"),  # a second stage, as the default build runs
        ("mnist_cnn_m_continued", "mnist_cnn_m_continued"),
        ("my_int8_model", "my_int8_model_continued"),
    ],
)
def test_a_continued_model_is_named_continued_once(source, stem):
    assert train.continued_stem(source) == stem


@pytest.mark.parametrize(
    "args,message",
    [
        (["--from", "default", "--arch", "cnn"], "--arch does not apply"),
        (["--images", "x", "--styles", "5"], "--styles"),
        (["--images", "x", "--touching", "5"], "--touching"),
        (["--qat", "--from", "m.keras", "--touching", "5"], "--touching, --writers do not apply"),
        (["--images", "x", "--writers", "0.3"], "--writers"),
        (["--qat", "--from", "m.keras", "--writers", "0.3"], "--writers do not apply"),
        (["--writers", "0.3"], "--writers redraws digits of --augment, --styles or --touching"),
        (["--augment", "1", "--writers", "1.5"], "1.5 is not in the range"),
    ],
)
def test_continuing_usage_errors(runner, args, message):
    result = runner.invoke(main, ["train", *args])
    assert result.exit_code == 2 and message in result.output


def test_style_digits_are_balanced_and_seeded():
    from mnist_edge.synthesis import augment

    x, y = augment.style_digits(40, seed=3, workers=1)
    again, _ = augment.style_digits(40, seed=3, workers=2)
    assert x.shape[1:] == (28, 28) and np.array_equal(x, again)
    assert np.bincount(y, minlength=10).min() >= 3


def test_touching_groups_are_seeded_and_worker_independent(mnist):
    from mnist_edge.synthesis import augment

    x = augment.touching_groups(mnist.x_train[:300], 40, seed=5, workers=1)
    again = augment.touching_groups(mnist.x_train[:300], 40, seed=5, workers=2)
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and np.array_equal(x, again)
    assert 10 <= len(x) <= 40  # compositions segmentation parts are left out


def test_touching_groups_are_read_as_one_box(mnist):
    """Each kept group is what the number's reader takes for one digit: ink across the box's width."""
    from mnist_edge.synthesis import augment

    x = augment.touching_groups(mnist.x_train[:300], 40, seed=5, workers=1)
    columns = (x > 64).any(axis=1).sum(axis=1)
    # Two digits squeezed into one 20-px box fill its width, unlike most single digits.
    assert np.median(columns) >= 18

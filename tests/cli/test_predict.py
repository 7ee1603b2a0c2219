"""`mnist-edge predict` end to end, good and bad inputs (no TensorFlow needed)."""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import FIXTURES, heavy, modules_after, third_party
from PIL import Image

from mnist_edge.cli import main


def huge_png(path, side=30000):
    """A tiny file whose header claims a side x side 8-bit greyscale image."""
    from helpers import fake_png_bytes

    path.write_bytes(fake_png_bytes(side, side))
    return path


@pytest.fixture
def digits(tmp_path, mnist):
    folder = tmp_path / "digits"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(mnist.x_test[i]).save(folder / f"d{i}.png")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    return folder


def test_predict_folder_text_and_json(runner, digits, mnist):
    text = runner.invoke(main, ["predict", str(digits), "--top-k", "3"])
    assert text.exit_code == 0, text.output
    lines = text.stdout.strip().splitlines()
    assert len(lines) == 5
    for i, line in enumerate(lines):
        assert line.startswith(f"{digits / f'd{i}.png'}: {mnist.y_test[i]} (")
        assert line.count("(") == 3
    from mnist_edge.runtime import load_interpreter_class

    _, name, version = load_interpreter_class()
    assert f"on {name} {version}" in text.stderr  # the interpreter in use is reported
    js = runner.invoke(main, ["predict", str(digits), "--json", "--threads", "2"])
    doc = json.loads(js.stdout)
    assert [d["label"] for d in doc] == [str(v) for v in mnist.y_test[:5]]
    for d in doc:
        assert set(d) >= {"path", "label", "confidence", "probabilities"}
        assert len(d["probabilities"]) == 10 and abs(sum(d["probabilities"]) - 1) < 0.02
        assert d["confidence"] == max(d["probabilities"])


def test_bad_inputs_one_line_each_good_ones_still_predicted(runner, tmp_path, digits, mnist):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.png").write_bytes(b"")
    good_png = (digits / "d0.png").read_bytes()
    (bad / "truncated.png").write_bytes(good_png[: len(good_png) // 2])
    (bad / "text.png").write_text("hello, I am text\n")
    huge_png(bad / "huge.png")
    Image.new("L", (200, 200), 255).save(bad / "blank.png")
    no_images = tmp_path / "empty_dir"
    no_images.mkdir()
    args = [
        "predict",
        "--json",
        str(digits / "d0.png"),
        str(tmp_path / "missing.png"),
        str(bad / "empty.png"),
        str(bad / "truncated.png"),
        str(bad / "text.png"),
        str(bad / "huge.png"),
        str(bad / "blank.png"),
        str(no_images),
        str(digits / "d1.png"),
    ]
    result = runner.invoke(main, args)
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output
    doc = json.loads(result.stdout)
    by_name = {Path(d["path"]).name: d for d in doc}
    assert by_name["d0.png"]["label"] == str(mnist.y_test[0])
    assert by_name["d1.png"]["label"] == str(mnist.y_test[1])
    expect = {
        "missing.png": "no such file",
        "empty.png": "empty file",
        "truncated.png": "truncated or corrupt",
        "text.png": "not an image",
        "huge.png": "too large",
        "empty_dir": "no images",
    }
    for name, message in expect.items():
        assert message in by_name[name]["error"], (name, by_name[name])
        assert set(by_name[name]) == {"path", "error"}
    err_lines = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(err_lines) == 6
    # A blank page is an answer ("not a digit"), not an error.
    assert by_name["blank.png"]["label"] is None and "error" not in by_name["blank.png"]
    assert by_name["blank.png"]["reason"].startswith("no digit found")


def test_bad_model_is_one_line(runner, digits, tmp_path):
    wrong = runner.invoke(
        main, ["predict", "--model", str(FIXTURES / "wrong_shape_32x32_to_5.tflite"), str(digits)]
    )
    assert wrong.exit_code == 1 and "is not a 28x28 image" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
    junk = tmp_path / "junk.tflite"
    junk.write_text("nope")
    result = runner.invoke(main, ["predict", "--model", str(junk), str(digits)])
    assert result.exit_code == 1 and "not a TFLite model" in result.stderr


@pytest.mark.parametrize("model", ["mnist_mlp_float32", "mnist_mlp_int8_uint8io", "mnist_mlp_int8_floatio"])
def test_other_formats(runner, digits, mnist, model):
    result = runner.invoke(
        main, ["predict", "--json", "--model", str(FIXTURES / f"{model}.tflite"), str(digits)]
    )
    assert result.exit_code == 0
    assert [d["label"] for d in json.loads(result.stdout)] == [str(v) for v in mnist.y_test[:5]]


def test_debug_dir_saves_what_the_model_saw(runner, tmp_path, digits, mnist):
    page = Image.fromarray(255 - np.kron(mnist.x_test[0], np.ones((8, 8), np.uint8)))
    page.save(digits / "big.jpg")
    out = tmp_path / "seen"
    result = runner.invoke(main, ["predict", "--debug-dir", str(out), str(digits)])
    assert result.exit_code == 0
    saved = sorted(p.name for p in out.iterdir())
    assert saved == ["big.jpg.seen.png"] + [f"d{i}.png.seen.png" for i in range(5)]
    assert np.array_equal(np.asarray(Image.open(out / "d0.png.seen.png")), mnist.x_test[0])
    assert Image.open(out / "big.jpg.seen.png").size == (28, 28)


def test_predict_never_imports_tensorflow(digits):
    code = (
        "from click.testing import CliRunner\nfrom mnist_edge.cli import main\n"
        f"r = CliRunner().invoke(main, ['predict', '--json', {str(digits)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
    )
    assert heavy(modules_after(code)) == []


def test_runtime_module_imports_only_numpy_pillow_and_an_interpreter():
    loaded = third_party(modules_after("import mnist_edge.runtime as r\nr.Predictor(r.default_model_path())"))
    # cython_runtime is the pseudo-module Cython extensions (tflite-runtime's) register.
    allowed = {"mnist_edge", "numpy", "PIL", "ai_edge_litert", "tflite_runtime", "cython_runtime"}
    assert loaded <= allowed, loaded


def test_predict_help_names_its_arguments_as_the_docs_do(runner):
    result = runner.invoke(main, ["predict", "--help"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0].endswith("predict [OPTIONS] IMAGE_OR_DIR...")


def test_a_keras_model_is_told_to_export_first(runner, digits, tmp_path):
    keras = tmp_path / "mine.keras"
    keras.write_bytes(b"PK\x03\x04 a zip, as .keras files are")
    result = runner.invoke(main, ["predict", "--model", str(keras), str(digits)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {keras}: a Keras model, not a TFLite one; export it first: "
        f"mnist-edge export --model {keras} --quantize int8"
    )


@pytest.mark.parametrize(
    "threshold,said",
    [
        ("0", "no 'not a digit' threshold (every image gets a digit)"),
        ("0.5", "not a digit below two likeliest together 0.50"),
    ],
)
def test_predict_says_what_the_threshold_is(runner, digits, threshold, said):
    result = runner.invoke(main, ["predict", "--min-confidence", threshold, str(digits / "d0.png")])
    assert result.exit_code == 0 and said in result.stderr, result.stderr


def test_help_lists_every_exit_code(runner):
    text = runner.invoke(main, ["--help"]).output
    from mnist_edge.errors import EXIT_CODES

    assert sorted(EXIT_CODES) == [0, 1, 2, 3, 4, 130, 143]
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {meaning}" in " ".join(text.split()), code


@pytest.fixture
def numbers(tmp_path):
    from helpers import number_png

    folder = tmp_path / "numbers"
    folder.mkdir()
    for text in ("2047", "35", "6"):
        (folder / f"n_{text}.png").write_bytes(number_png(list(text)))
    return folder


def test_predict_number_reads_each_image_as_a_number(runner, numbers):
    result = runner.invoke(main, ["predict", "--number", str(numbers)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{numbers / name}: {text} " + line.split(f"{text} ", 1)[1]
        for name, text, line in zip(
            ("n_2047.png", "n_35.png", "n_6.png"), ("2047", "35", "6"), result.stdout.splitlines()
        )
    ]


def test_predict_number_json_gives_each_digit_with_its_box(runner, numbers):
    result = runner.invoke(main, ["predict", "--number", "--json", str(numbers / "n_2047.png")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)[0]
    assert doc["number"] == "2047" and doc["lines"] == 1
    assert [d["label"] for d in doc["digits"]] == [2, 0, 4, 7]
    assert all(len(d["box"]) == 4 and 0 < d["confidence"] <= 1 for d in doc["digits"])
    assert doc["confidence"] == pytest.approx(np.prod([d["confidence"] for d in doc["digits"]]), abs=1e-5)


def test_predict_number_keeps_a_single_digits_answer(runner, numbers):
    plain = json.loads(runner.invoke(main, ["predict", "--json", str(numbers / "n_6.png")]).stdout)[0]
    number = json.loads(
        runner.invoke(main, ["predict", "--number", "--json", str(numbers / "n_6.png")]).stdout
    )[0]
    assert number["number"] == plain["label"]
    assert number["digits"][0]["confidence"] == plain["confidence"]


def test_predict_number_debug_dir_draws_the_boxes(runner, numbers, tmp_path):
    out = tmp_path / "seen"
    result = runner.invoke(main, ["predict", "--number", "--debug-dir", str(out), str(numbers / "n_35.png")])
    assert result.exit_code == 0, result.output
    sheet = Image.open(out / "n_35.png.seen.png")
    assert sheet.mode == "RGB" and sheet.height > 240  # the image, then a row of 28x28s


def test_predict_number_bad_inputs_are_one_line_each(runner, numbers, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    result = runner.invoke(main, ["predict", "--number", str(bad), str(numbers / "n_35.png")])
    assert result.exit_code == 4
    assert "Traceback" not in result.output
    assert [line for line in result.stderr.splitlines() if "bad.png" in line] == [
        f"{bad}: error: not an image Pillow can read (unknown format or corrupt header)"
    ]
    assert ": 35 (" in result.stdout

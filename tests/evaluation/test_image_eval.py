"""`mnist-edge eval --images`: accuracy on the user's own labelled images (no TensorFlow)."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from mnist_edge import runtime
from mnist_edge.cli import main
from mnist_edge.errors import DataError
from mnist_edge.evaluation import image_eval
from mnist_edge.runtime import reading

N = 40


def save_digits(folder, mnist, layout):
    """Saves N MNIST test digits (dark on white, enlarged) under one of the three label layouts."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(N):
        label = int(mnist.y_test[i])
        img = Image.fromarray(255 - np.kron(mnist.x_test[i], np.ones((4, 4), np.uint8)))
        if layout == "folders":
            (folder / str(label)).mkdir(exist_ok=True)
            img.save(folder / str(label) / f"img{i}.png")
        elif layout == "suffix":
            img.save(folder / f"scan_{i:03d}_{label}.png")
        else:
            img.save(folder / f"img{i}.jpg", quality=90)
            rows.append((f"img{i}.jpg", str(label)))
    if layout == "csv":
        with open(folder / "labels.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "label"])
            writer.writerows(rows)
    return folder


@pytest.mark.parametrize("layout", ["folders", "suffix", "csv"])
def test_labels_from_every_layout(tmp_path, mnist, layout):
    folder = save_digits(tmp_path / layout, mnist, layout)
    items = image_eval.labelled_images(folder, [str(i) for i in range(10)])
    assert len(items) == N
    assert sorted(label for _, label in items) == sorted(str(int(v)) for v in mnist.y_test[:N])


def test_eval_images_figures(tmp_path, mnist, runner):
    folder = save_digits(tmp_path / "mine", mnist, "folders")
    Image.new("L", (60, 60), 255).save(folder / "3" / "blank.png")  # answered "not a digit"
    result = runner.invoke(main, ["eval", "--images", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["n"] == N + 1 and doc["not_a_digit"] >= 1
    matrix = np.asarray(doc["confusion_matrix"])
    assert matrix.shape == (10, 12) and matrix.sum() == N + 1
    assert doc["confusion_columns"][-2:] == ["not a digit", "error"]
    # Recomputed independently with the Reader: the same answers.
    reader = reading.Reader(runtime.Predictor(runtime.default_model_path()))
    right = sum(
        reader.read_file(p).label == label
        for p, label in image_eval.labelled_images(folder, [str(i) for i in range(10)])
    )
    assert doc["accuracy"] == round(right / (N + 1), 6)
    assert doc["per_class_accuracy"]["3"] < 1.0  # the blank counts as a miss of class 3


def test_eval_images_report_shows_misreads(tmp_path, mnist, runner):
    folder = save_digits(tmp_path / "mine", mnist, "suffix")
    Image.fromarray(255 - np.kron(mnist.x_test[0], np.ones((4, 4), np.uint8))).save(folder / "wrong_3.png")
    report = tmp_path / "report"
    result = runner.invoke(main, ["eval", "--images", str(folder), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and f"wrote {report / 'report.md'}" in result.stdout
    text = (report / "report.md").read_text()
    assert "![misreads](misreads.png)" in text
    gallery = Image.open(report / "misreads.png")
    assert gallery.width == 6 * 2 * 96  # input beside what the model saw


def test_eval_images_without_labels_is_one_line(tmp_path, runner):
    (tmp_path / "x.png").write_bytes(b"")
    result = runner.invoke(main, ["eval", "--images", str(tmp_path)])
    assert result.exit_code == 1 and "no labelled images" in result.stderr
    with pytest.raises(DataError, match="not a folder"):
        image_eval.labelled_images(tmp_path / "x.png", ["0"])


def test_a_bad_labels_csv_is_one_line(tmp_path, runner):
    (tmp_path / "labels.csv").write_text("file,label\na.png,11\n")
    result = runner.invoke(main, ["eval", "--images", str(tmp_path)])
    assert result.exit_code == 1 and "line 2" in result.stderr


def test_eval_images_wants_a_tflite(tmp_path, runner, mnist):
    folder = save_digits(tmp_path / "mine", mnist, "suffix")
    result = runner.invoke(main, ["eval", "--images", str(folder), "--model", "m.keras"])
    assert result.exit_code == 2 and ".tflite" in result.stderr


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_unreadable_image_is_named_and_exits_4(tmp_path, mnist, runner, as_json):
    folder = save_digits(tmp_path / "mine", mnist, "folders")
    (folder / "7" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    result = runner.invoke(main, ["eval", "--images", str(folder)] + (["--json"] if as_json else []))
    assert result.exit_code == 4, result.output
    broken = str(folder / "7" / "broken.png")
    assert f"{broken}: " in result.stderr
    assert result.stderr.strip().endswith("Error: 1 of 41 images could not be read (counted as errors)")
    if as_json:
        assert json.loads(result.stdout)["error_files"][0]["path"] == broken


def write_numbers(folder, texts):
    from helpers import number_png

    folder.mkdir(exist_ok=True)
    for k, text in enumerate(texts):
        (folder / f"img{k}_{text}.png").write_bytes(number_png(list(text)))
    return folder


def test_eval_images_number_figures(tmp_path, runner):
    folder = write_numbers(tmp_path / "nums", ["2047", "35", "906"])
    (folder / "img9_77.png").write_bytes((folder / "img1_35.png").read_bytes())  # a 35 labelled 77
    result = runner.invoke(main, ["eval", "--images", str(folder), "--number", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["n"] == 4
    assert doc["number_accuracy"] == pytest.approx(0.75)
    assert doc["digit_accuracy"] == pytest.approx(9 / 11)
    assert doc["digit_count"] == {"right": 4, "too_few": 0, "too_many": 0, "none": 0}
    assert doc["by_length"]["2"] == {"n": 2, "number_accuracy": 0.5, "digit_accuracy": 0.5}
    assert doc["misreads"] == [{"path": str(folder / "img9_77.png"), "label": "77", "answer": "35"}]


def test_eval_images_number_report(tmp_path, runner):
    folder = write_numbers(tmp_path / "nums", ["2047"])
    (folder / "img9_11.png").write_bytes((folder / "img0_2047.png").read_bytes())
    result = runner.invoke(
        main, ["eval", "--images", str(folder), "--number", "--report", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert "numbers right  0.5000" in result.stdout
    report = (tmp_path / "r" / "report.md").read_text()
    assert "label 11, read 2047" in report and (tmp_path / "r" / "misread-000.png").is_file()


def test_number_needs_images(runner):
    result = runner.invoke(main, ["eval", "--number"])
    assert result.exit_code == 2 and "--number goes with --images" in result.output


ALIGNMENT = [
    ("2024", "2024", 4),
    ("2024", "224", 3),
    ("2024", "20024", 4),
    ("2024", "", 0),
    ("2024", "2?24", 3),
]


@pytest.mark.parametrize("truth,answer,matches", ALIGNMENT)
def test_per_digit_accuracy_aligns_the_strings(truth, answer, matches):
    from mnist_edge.evaluation.number_eval import aligned_matches

    assert aligned_matches(truth, answer) == matches


def _number_eval(rows):
    """A NumberEval of (label, answer, confidence) rows; answer None is "not a number"."""
    from mnist_edge.evaluation.number_eval import NumberEval
    from mnist_edge.runtime.number import NumberReading

    items = [(f"img{k}_{label}.png", label) for k, (label, _, _) in enumerate(rows)]
    readings = [
        NumberReading(path, number=answer, confidence=confidence, reason=None if answer else "not a number")
        for (path, _), (_, answer, confidence) in zip(items, rows)
    ]
    return NumberEval(items, readings)


NUMBER_ROWS = [
    ("2024", "2024", 0.95),  # right, sure
    ("35", "35", 0.6),  # right, unsure
    ("906", "908", 0.85),  # silently wrong
    ("17", "1?", 0.3),  # wrong, marked
    ("44", None, None),  # not a number
]


def test_number_eval_counts_wrong_answers_that_say_nothing_of_doubt():
    assert _number_eval(NUMBER_ROWS).summary()["silently_wrong"] == 1


@pytest.mark.parametrize(
    "bar,kept,right,wrong_below",
    [(0.5, 0.6, 2 / 3, 2 / 3), (0.8, 0.4, 0.5, 2 / 3), (0.9, 0.2, 1.0, 1.0)],
)
def test_number_eval_reports_answers_at_bars_on_the_numbers_confidence(bar, kept, right, wrong_below):
    rows = _number_eval(NUMBER_ROWS).summary()["by_confidence"]
    row = next(r for r in rows if r["bar"] == bar)
    assert row["kept"] == pytest.approx(kept)
    assert row["right_among_kept"] == pytest.approx(right)
    assert row["wrong_below"] == pytest.approx(wrong_below)


def test_number_eval_at_a_bar_nothing_clears_says_so_not_zero():
    from mnist_edge.evaluation.number_eval import by_confidence

    assert by_confidence([True, False], [0.1, 0.2], 0.9) == {
        "bar": 0.9,
        "kept": 0.0,
        "right_among_kept": None,
        "wrong_below": 1.0,
    }

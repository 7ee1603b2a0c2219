"""`export --quantize auto`: every recipe measured, the smallest inside the budget exported, else exit 3."""

import json

import numpy as np
import pytest
from helpers import require_extra
from PIL import Image

require_extra("tensorflow", "train")

from mnist_edge.cli import main
from mnist_edge.export import auto
from mnist_edge.export.auto import Candidate


def candidate(recipe, kb, us, drop, images_drop=None, error=None):
    return Candidate(
        recipe, int(kb * 1024), us, 0.98, drop, 0.99, None if images_drop is None else 0.9, images_drop, error
    )


FRONTIER = [
    candidate("none", 400, 7.5, 0.0),
    candidate("float16", 200, 7.8, 0.0),
    candidate("dynamic", 103, 4.6, 0.02),
    candidate("int8", 105, 4.1, 0.08),
    candidate("int4", 54, 4.3, 0.16),
]


@pytest.mark.parametrize(
    "max_drop, max_kb, expected",
    [
        (0.2, None, "int4"),  # the smallest inside the budget
        (0.1, None, "dynamic"),
        (0.0, None, "float16"),
        (0.2, 100, "int4"),
        (0.1, 100, None),  # nothing small enough is accurate enough
        (0.0, 150, None),
    ],
)
def test_the_smallest_recipe_inside_the_budget_is_chosen(max_drop, max_kb, expected):
    chosen = auto.choose([Candidate(**vars(c)) for c in FRONTIER], max_drop, max_kb)
    assert (chosen.recipe if chosen else None) == expected


def test_of_equal_sizes_the_faster_is_chosen():
    chosen = auto.choose([candidate("a", 100, 9.0, 0.0), candidate("b", 100, 4.0, 0.0)], 0.5)
    assert chosen.recipe == "b"


def test_a_recipe_that_could_not_be_made_is_never_chosen():
    chosen = auto.choose(
        [candidate("int4", 0, 0.0, 0.0, error="ImportError"), candidate("int8", 105, 4, 0.1)], 0.5
    )
    assert chosen.recipe == "int8"


def test_the_users_images_count_in_the_budget():
    frontier = [
        candidate("int4", 54, 4.3, 0.1, images_drop=3.0),
        candidate("int8", 105, 4.1, 0.1, images_drop=0.0),
    ]
    assert auto.choose(frontier, 0.5).recipe == "int8"


def test_the_table_lists_every_recipe_smallest_first_and_marks_the_choice():
    frontier = [Candidate(**vars(c)) for c in FRONTIER]
    chosen = auto.choose(frontier, 0.1)
    table = auto.frontier_table(frontier, chosen, "accuracy drop <= 0.1 pp")
    rows = [line.split()[0] for line in table.splitlines()[3:]]
    assert rows == ["int4", "dynamic", "int8", "float16", "none"]
    assert "dynamic" in next(line for line in table.splitlines() if "CHOSEN" in line)


def test_the_validation_split_never_holds_a_calibration_image(mnist):
    from mnist_edge import data
    from mnist_edge.export import ExportConfig

    config = ExportConfig()
    calibration = data.balanced_sample(mnist.y_train, config.calibration_samples, config.seed)
    split = auto.validation_split(mnist, config)
    assert len(split) == 5000 and not set(split) & set(calibration)


def write_digits(folder, mnist, n=20):
    folder.mkdir()
    for k in range(n):
        image = 255 - mnist.x_test[k]  # dark ink on white paper, as a photo or scan would be
        Image.fromarray(np.kron(image, np.ones((3, 3), np.uint8))).save(
            folder / f"d{k}_{mnist.y_test[k]}.png"
        )
    return folder


@pytest.mark.slow
def test_auto_exports_the_smallest_recipe_and_records_why(runner, tmp_path, full_model, mnist, mnist_dir):
    images = write_digits(tmp_path / "mine", mnist)
    out = tmp_path / "out"
    args = ["export", "--model", str(full_model[0]), "--quantize", "auto", "--max-drop", "100"]
    result = runner.invoke(
        main, args + ["--images", str(images), "--data-dir", str(mnist_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "CHOSEN" in result.stdout and "img acc" in result.stdout
    sidecar = json.loads((out / "mnist_mlp_int4w.json").read_text())  # int4 is the smallest file
    chosen_by = sidecar["recipe"]["chosen_by"]
    assert chosen_by["max_drop_pp"] == 100 and str(images) in chosen_by["measured_on"]
    assert {c["recipe"] for c in chosen_by["candidates"]} == set(auto.constants.RECIPES)
    assert (out / "mnist_mlp_frontier.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "mnist_mlp_frontier.csv").read_text().count("\n") == 1 + len(auto.constants.RECIPES)


@pytest.mark.slow
def test_auto_with_nothing_inside_the_budget_exits_3_with_the_table(runner, tmp_path, full_model, mnist_dir):
    out = tmp_path / "out"
    args = ["export", "--model", str(full_model[0]), "--quantize", "auto", "--max-kb", "10"]
    result = runner.invoke(main, args + ["--data-dir", str(mnist_dir), "--out", str(out)])
    assert result.exit_code == 3
    assert "over budget" in result.stdout and "no recipe meets the budget" in result.stderr
    assert "Traceback" not in result.output and not list(out.glob("*.tflite"))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--quantize", "auto", "--quantize", "int8"], "give it alone"),
        (["--quantize", "int8", "--max-kb", "50"], "apply to --quantize auto"),
        (["--quantize", "auto", "--micro"], "apply to the int8 export"),
    ],
)
def test_auto_usage_errors(runner, small_model, extra, message):
    result = runner.invoke(main, ["export", "--model", str(small_model)] + extra)
    assert result.exit_code == 2 and message in result.output

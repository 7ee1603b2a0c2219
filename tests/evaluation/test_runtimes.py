"""One .tflite on every interpreter here (evaluation/runtimes.py, eval --across-runtimes)."""

import json

import numpy as np
import pytest
from helpers import FIXTURES, heavy, modules_after, require_extra

from mnist_edge.cli import main
from mnist_edge.evaluation import runtimes

INT8 = FIXTURES / "mnist_cnn_int8.tflite"
FLOAT = FIXTURES / "mnist_mlp_float32.tflite"

PAIRS = [
    # (case, a's outputs, b's outputs, agreement, max difference, images differing, label changes)
    ("identical", [[0, 9], [9, 0]], [[0, 9], [9, 0]], 1.0, 0, 0, 0),
    ("a step apart, same labels", [[0, 9], [9, 0]], [[1, 9], [9, 0]], 1.0, 1, 1, 0),
    ("a label changes", [[0, 9], [9, 0]], [[0, 9], [0, 9]], 0.5, 9, 1, 1),
]


@pytest.mark.parametrize("name,a,b,agreement,diff,differ,changes", PAIRS, ids=[p[0] for p in PAIRS])
def test_compare(name, a, b, agreement, diff, differ, changes):
    (row,) = runtimes.compare({"a": np.array(a, np.int8), "b": np.array(b, np.int8)}, True)
    assert row["pair"] == ["a", "b"] and row["top1_agreement"] == agreement
    assert row["max_difference"] == diff and row["images_differing"] == differ
    assert len(row["label_changes"]) == changes


def test_every_pair_of_interpreters_is_compared(mnist):
    report = runtimes.across_runtimes(INT8, mnist.x_test[:200])
    names = [e["name"] for e in report["engines"]]
    assert {"litert-xnnpack", "litert-reference", "tflm"} <= set(names)  # the micro extra is installed
    assert len(report["pairs"]) == len(names) * (len(names) - 1) // 2
    for row in report["pairs"]:
        assert row["top1_agreement"] >= 0.99 and row["difference_unit"] == "output steps"


def test_a_float_model_skips_tflm_and_reports_probability(mnist):
    report = runtimes.across_runtimes(FLOAT, mnist.x_test[:50])
    assert "tflm" not in [e["name"] for e in report["engines"]]
    assert all(row["difference_unit"] == "probability" for row in report["pairs"])


def test_eval_across_runtimes_json(runner, mnist_dir):
    result = runner.invoke(
        main,
        [
            "eval",
            "--across-runtimes",
            "--model",
            str(INT8),
            "--data-dir",
            str(mnist_dir),
            "--test-images",
            "100",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["n"] == 100 and doc["pairs"]


def test_eval_across_runtimes_on_a_folder_names_the_images(runner, tmp_path, mnist):
    from PIL import Image

    for k in range(3):
        Image.fromarray(255 - np.kron(mnist.x_test[k], np.ones((4, 4), np.uint8))).save(
            tmp_path / f"d{k}.png"
        )
    result = runner.invoke(main, ["eval", "--across-runtimes", "--images", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 3


def test_interpreters_that_disagree_on_a_label_exit_3(runner, mnist_dir, monkeypatch):
    def fake_engines(predictor):
        return [
            runtimes.Engine("one", "1", lambda x: np.array([9, 0], np.int8)),
            runtimes.Engine("other", "1", lambda x: np.array([0, 9], np.int8)),
        ]

    monkeypatch.setattr(runtimes, "engines", fake_engines)
    result = runner.invoke(
        main,
        [
            "eval",
            "--across-runtimes",
            "--model",
            str(INT8),
            "--data-dir",
            str(mnist_dir),
            "--test-images",
            "100",
        ],
    )
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    assert "interpreters disagree on labels: one vs other (100)" in result.stderr


def test_across_runtimes_wants_a_tflite(runner):
    result = runner.invoke(main, ["eval", "--across-runtimes", "--model", "m.keras"])
    assert result.exit_code == 2 and "give it a .tflite" in result.output


def test_onnx_runtime_joins_on_the_converted_model_where_the_peer_tools_are(mnist):
    require_extra("tf2onnx", "dev")
    report = runtimes.across_runtimes(INT8, mnist.x_test[:100])
    pairs = {tuple(row["pair"]): row for row in report["pairs"]}
    row = pairs[("litert-reference", "onnxruntime")]
    assert row["top1_agreement"] >= 0.99 and row["difference_unit"] == "output steps"


def test_the_onnx_engine_keeps_tensorflow_out_of_the_process():
    require_extra("tf2onnx", "dev")
    code = (
        "from mnist_edge.evaluation import runtimes\n"
        "from mnist_edge.runtime import Predictor\n"
        f"assert 'onnxruntime' in [e.name for e in runtimes.engines(Predictor({str(INT8)!r}))]"
    )
    assert heavy(modules_after(code)) == []


def disagreeing_engines(predictor):
    """Two interpreters that label every image with an even index differently."""
    calls = {"one": 0, "other": 0}

    def engine(name, flip):
        def run(x):
            k = calls[name]
            calls[name] += 1
            return np.array([9, 0], np.int8) if (flip and k % 2 == 0) else np.array([0, 9], np.int8)

        return runtimes.Engine(name, "1", run)

    return [engine("one", False), engine("other", True)]


def test_the_report_names_each_disagreement_with_every_interpreters_label(monkeypatch, mnist):
    monkeypatch.setattr(runtimes, "engines", disagreeing_engines)
    report = runtimes.across_runtimes(INT8, mnist.x_test[:6])
    assert [d["index"] for d in report["disagreements"]] == [0, 2, 4]
    assert report["disagreements"][0]["labels"] == {"one": 1, "other": 0}


def test_report_dir_writes_the_json_and_a_gallery_of_the_disagreements(
    runner, tmp_path, mnist_dir, monkeypatch
):
    monkeypatch.setattr(runtimes, "engines", disagreeing_engines)
    args = ["eval", "--across-runtimes", "--model", str(INT8), "--data-dir", str(mnist_dir)]
    result = runner.invoke(main, args + ["--test-images", "100", "--report", str(tmp_path / "r")])
    assert result.exit_code == 3 and "wrote" in result.stdout
    assert len(json.loads((tmp_path / "r" / "runtimes.json").read_text())["disagreements"]) == 50
    assert (tmp_path / "r" / "runtimes.png").read_bytes()[:4] == b"\x89PNG"


def test_no_gallery_when_every_interpreter_agrees(mnist):
    report = {"engines": [{"name": "a"}], "disagreements": []}
    assert runtimes.disagreement_gallery(mnist.x_test[:3], report) is None

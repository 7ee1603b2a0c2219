"""The device measures itself: bench and eval on .tflite files without TensorFlow, --compare, the
missing-extra message, and the reference record. (Runs in the runtime-only CI venv too.)"""

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import FIXTURES

from mnist_edge import runtime
from mnist_edge.cli import main
from mnist_edge.runtime import reference

INT8 = FIXTURES / "mnist_mlp_int8_uint8io.tflite"
CNN = FIXTURES / "mnist_cnn_int8.tflite"
HAS_TF = importlib.util.find_spec("tensorflow") is not None


@pytest.fixture(scope="module")
def bench_doc(mnist_dir):
    from click.testing import CliRunner

    result = CliRunner().invoke(
        main,
        [
            "bench",
            "--model",
            str(INT8),
            "--model",
            str(CNN),
            "--data-dir",
            str(mnist_dir),
            "--runs",
            "50",
            "--warmup",
            "5",
            "--json",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_bench_reports_benchmark_model_figures(bench_doc):
    for m in bench_doc["models"]:
        assert m["init_ms"] > 0 and m["first_inference_us"] > 0 and m["warmup_mean_us"] > 0
        lat = m["latency_us"]
        assert set(lat) >= {"p50", "p90", "p99", "mean", "std", "min", "runs"}
        assert lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] and lat["runs"] >= 50
        assert m["invoke_latency_us"]["p50"] > 0 and m["throughput_ips"] > 100
        assert m["peak_rss_bytes"] > 10e6 and len(m["sweep"]) == 2


def test_bench_parity_comes_from_the_reference_record(bench_doc, mnist):
    """Agreement and max |dp| recomputed here from the record and a bare interpreter."""
    Interpreter = runtime.load_interpreter_class()[0]
    for m in bench_doc["models"]:
        record = reference.load(
            Path(m["path"]).parent
            / json.loads(Path(m["path"]).with_suffix(".json").read_text())["reference"]["file"]
        )
        it = Interpreter(model_path=m["path"])
        inp, out = it.get_input_details()[0], it.get_output_details()[0]
        it.resize_tensor_input(inp["index"], [100, 28, 28])
        it.allocate_tensors()
        labels = []
        for start in range(0, 10000, 100):
            x = mnist.x_test[start : start + 100]
            scale, zero = inp["quantization"]
            q = np.clip(
                np.round(x / 255.0 / scale) + zero, np.iinfo(inp["dtype"]).min, np.iinfo(inp["dtype"]).max
            ).astype(inp["dtype"])
            it.set_tensor(inp["index"], q)
            it.invoke()
            labels.append(it.get_tensor(out["index"]).argmax(1))
        labels = np.concatenate(labels)
        assert m["accuracy"] == float(np.mean(labels == mnist.y_test))
        assert m["agreement"] == float(np.mean(labels == record.top1))
        assert m["reference"] == f"record {record.path.name}" and m["max_abs_diff"] is not None


def test_bench_table_on_the_device_names_each_file_and_each_failure(runner, mnist_dir, tmp_path):
    args = ["bench", "--data-dir", str(mnist_dir), "--runs", "20", "--warmup", "2"]
    result = runner.invoke(main, args + ["--model", str(INT8), "--model", str(tmp_path / "gone.tflite")])
    assert result.exit_code == 4, result.output
    rows = result.stdout.splitlines()
    assert any(row.startswith(INT8.stem) and " int8 " in row for row in rows)
    assert any(row.startswith("gone.tflite") and "model file not found" in row for row in rows)
    assert "Traceback" not in result.output


def test_bench_on_the_first_test_images_keeps_parity_with_the_record(runner, mnist_dir):
    args = ["bench", "--model", str(CNN), "--data-dir", str(mnist_dir), "--test-images", "300"]
    result = runner.invoke(main, args + ["--runs", "20", "--warmup", "2", "--json", "-q"])
    assert result.exit_code == 0, result.output
    model = json.loads(result.stdout)["models"][0]
    assert model["n"] == 300 and model["agreement"] is not None and model["reference"].startswith("record ")


def test_eval_on_the_first_test_images(runner, mnist_dir):
    args = ["eval", "--model", str(CNN), "--data-dir", str(mnist_dir), "--test-images", "200", "--json"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["n"] == 200 and sum(map(sum, doc["confusion_matrix"])) == 200 and doc["agreement"] is not None


def test_eval_tflite_without_tensorflow(runner, mnist_dir):
    result = runner.invoke(main, ["eval", "--model", str(CNN), "--data-dir", str(mnist_dir), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["n"] == 10000 and len(doc["per_class_accuracy"]) == 10
    assert np.asarray(doc["confusion_matrix"]).sum() == 10000
    assert doc["test_accuracy"] == json.loads(CNN.with_suffix(".json").read_text())["parity"]["accuracy"]
    assert doc["agreement"] is not None and doc["reference"] == "record mnist_cnn.reference.npz"


def test_a_record_that_is_not_the_models_is_refused(tmp_path, mnist_dir, runner):
    for name in ("mnist_cnn_int8.tflite", "mnist_cnn_int8.json"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    shutil.copy(FIXTURES / "mnist_mlp.reference.npz", tmp_path / "mnist_cnn.reference.npz")
    result = runner.invoke(
        main, ["eval", "--model", str(tmp_path / "mnist_cnn_int8.tflite"), "--data-dir", str(mnist_dir)]
    )
    assert result.exit_code == 1 and "not a usable reference record" in result.stderr
    assert "SHA-256" in result.stderr


def test_bench_compare(tmp_path, bench_doc, runner):
    other = json.loads(json.dumps(bench_doc))
    other["environment"]["emulated"] = "qemu cortex-a72"
    for m in other["models"]:
        m["latency_us"]["p50"] *= 4
    (tmp_path / "x86.json").write_text(json.dumps(bench_doc))
    (tmp_path / "pi.json").write_text(json.dumps(other))
    result = runner.invoke(
        main,
        ["bench", "--compare", str(tmp_path / "x86.json"), "--compare", str(tmp_path / "pi.json"), "--json"],
    )
    assert result.exit_code == 0, result.output
    rows = [r for r in json.loads(result.stdout)["rows"] if r["figure"] == "p50 µs"]
    assert len(rows) == 2 and all(r["ratios"] == [1.0, 4.0] for r in rows)
    table = runner.invoke(
        main, ["bench", "--compare", str(tmp_path / "x86.json"), "--compare", str(tmp_path / "pi.json")]
    ).stdout
    assert "r2/r1" in table and "4.000" in table and "qemu cortex-a72" in table


def test_bench_compare_takes_the_files_after_one_option(tmp_path, bench_doc, runner):
    (tmp_path / "a.json").write_text(json.dumps(bench_doc))
    (tmp_path / "b.json").write_text(json.dumps(bench_doc))
    (tmp_path / "c.json").write_text(json.dumps(bench_doc))
    one = runner.invoke(
        main, ["bench", "--compare", *(str(tmp_path / n) for n in ("a.json", "b.json", "c.json"))]
    )
    repeated = runner.invoke(
        main,
        ["bench"] + [arg for n in ("a.json", "b.json", "c.json") for arg in ("--compare", str(tmp_path / n))],
    )
    assert one.exit_code == 0, one.output
    assert one.output == repeated.output and "run 3:" in one.output


def test_bench_files_without_compare_are_a_usage_error(tmp_path, runner):
    result = runner.invoke(main, ["bench", str(tmp_path / "a.json")])
    assert result.exit_code == 2 and "--compare A.json B.json" in result.output


def test_bench_compare_refuses_a_non_bench_file(tmp_path, runner):
    (tmp_path / "a.json").write_text("{}")
    result = runner.invoke(
        main, ["bench", "--compare", str(tmp_path / "a.json"), "--compare", str(tmp_path / "a.json")]
    )
    assert result.exit_code == 1 and "not a bench --json document" in result.stderr


def test_missing_tensorflow_is_one_line_naming_the_extra(runner, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else real(name, *a)
    )
    for args in (["train"], ["export"], ["bench", "--keras", "m.keras"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.strip().splitlines() == [
            f"Error: mnist-edge {args[0]}{' --keras' if args[0] == 'bench' else ''} needs TensorFlow, "
            'which is not installed here; install the train extra: pip install "mnist-edge[train]"'
        ]


@pytest.mark.skipif(HAS_TF, reason="the real thing runs in the runtime-only venv")
def test_train_without_tensorflow_installed(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "mnist_edge", "train", "--out", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert 'pip install "mnist-edge[train]"' in result.stderr


def test_the_shipped_model_ships_its_reference_record():
    predictor = runtime.Predictor(runtime.default_model_path())
    record = reference.for_model(predictor)
    assert record is not None and len(record.top1) == 10000
    assert record.path.stat().st_size <= 250_000


BENCH_DEFAULT_CASES = [
    # (--model files, --keras beside these .tflite files, expected: names measured)
    ([], None, ["DEFAULT"]),
    (["a.tflite"], None, ["a.tflite"]),
    ([], ["x_int8.tflite", "x_float32.tflite"], ["x_float32.tflite", "x_int8.tflite"]),
    ([], [], ["DEFAULT"]),
]


@pytest.mark.parametrize("named,beside,expected", BENCH_DEFAULT_CASES)
def test_bench_measures_by_one_rule_whatever_the_current_folder(
    tmp_path, monkeypatch, named, beside, expected
):
    from mnist_edge.bench import default_models

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "demo_mlp_int8.tflite").write_bytes(b"x")  # the current folder never decides
    monkeypatch.chdir(tmp_path)
    keras = None
    if beside is not None:
        (tmp_path / "k").mkdir()
        keras = tmp_path / "k" / "x.keras"
        for name in beside:
            (tmp_path / "k" / name).write_bytes(b"x")
    found = default_models(named, keras)
    names = [runtime.default_model_path() if n == "DEFAULT" else n for n in expected]
    assert [p if p == runtime.default_model_path() else p.name for p in found] == names


def test_bench_compare_warns_when_one_name_is_two_models(tmp_path, bench_doc, runner):
    other = json.loads(json.dumps(bench_doc))
    other["models"][0]["sha256"] = "f" * 64
    (tmp_path / "a.json").write_text(json.dumps(bench_doc))
    (tmp_path / "b.json").write_text(json.dumps(other))
    result = runner.invoke(main, ["bench", "--compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    key = other["models"][0]["format"]
    assert f"warning: '{key}' is not the same model in every run (sha256 run 1 " in result.stdout
    same = runner.invoke(main, ["bench", "--compare", str(tmp_path / "a.json"), str(tmp_path / "a.json")])
    assert "warning" not in same.stdout


def test_a_model_bench_cannot_load_is_said_once(tmp_path, runner, mnist_dir):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    args = ["bench", "--model", str(bad), "--data-dir", str(mnist_dir), "--test-images", "100"]
    result = runner.invoke(main, args)
    assert result.exit_code == 4, result.output
    said = [line for line in result.output.splitlines() if "not a TFLite model" in line]
    assert said == [
        f"bad.tflite                         error: {bad}: not a TFLite model (no TFL3 identifier)"
    ]
    assert "windows" not in result.output
    assert (
        result.stderr.strip().splitlines()[-1] == "Error: 1 of 1 models could not be benchmarked: bad.tflite"
    )

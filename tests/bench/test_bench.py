"""`mnist-edge bench`: figures, honesty against an independent evaluation, report, bad input."""

import json
import shutil

import numpy as np
import pytest
from helpers import FIXTURES, require_extra

require_extra("tensorflow", "train")

from mnist_edge.cli import main


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory, exported, full_model, mnist_dir):
    from click.testing import CliRunner

    out, _ = exported
    folder = tmp_path_factory.mktemp("bench")
    shutil.copy(full_model[0], folder / "mnist_mlp.keras")
    for p in out.glob("mnist_mlp_*"):
        shutil.copy(p, folder / p.name)
    report = folder / "report"
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "--keras",
            str(folder / "mnist_mlp.keras"),
            "--data-dir",
            str(mnist_dir),
            "--threads",
            "1,2",
            "--runs",
            "200",
            "--warmup",
            "20",
            "--json",
            "--report",
            str(report),
        ],
    )
    return folder, result


@pytest.mark.slow
def test_bench_json_document(bench_run):
    folder, result = bench_run
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    env = doc["environment"]
    for key in (
        "cpu",
        "cores",
        "os",
        "python",
        "numpy",
        "interpreter",
        "interpreter_version",
        "threads",
        "delegate",
    ):
        assert key in env
    assert env["threads"] == [1, 2]
    formats = [m["format"] for m in doc["models"]]
    assert formats == ["keras", "dynamic", "float16", "float32", "int8"]
    for m in doc["models"]:
        for key in (
            "path",
            "format",
            "quantization",
            "size_bytes",
            "accuracy",
            "agreement",
            "latency_us",
            "invoke_latency_us",
            "throughput_ips",
            "peak_rss_bytes",
        ):
            assert key in m, (m["format"], key)
        assert set(m["latency_us"]) >= {"p50", "p90", "p99", "mean", "std", "runs"}
        assert m["latency_us"]["p50"] <= m["latency_us"]["p90"] <= m["latency_us"]["p99"]
        if m["format"] != "keras":
            assert m["latency_us"]["runs"] >= 200 and m["invoke_latency_us"]["runs"] >= 200
            assert m["peak_rss_bytes"] > 10e6 and m["load_ms"]["cold"] > 0
            assert len(m["sweep"]) == 4  # 2 thread counts x XNNPACK on/off
            assert {(r["threads"], r["xnnpack"]) for r in m["sweep"]} == {
                (1, True),
                (1, False),
                (2, True),
                (2, False),
            }
            assert len(m["per_class_accuracy_diff"]) == 10
            assert m["throughput_ips"] > 1000
    int8 = next(m for m in doc["models"] if m["format"] == "int8")
    assert int8["size_bytes"] == (folder / "mnist_mlp_int8.tflite").stat().st_size


@pytest.mark.slow
def test_bench_figures_equal_an_independent_evaluation(bench_run, mnist):
    """Accuracy and agreement recomputed with a bare interpreter and Keras, not the bench code."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    folder, result = bench_run
    doc = json.loads(result.stdout)
    model = keras.models.load_model(folder / "mnist_mlp.keras", compile=False)
    ref = model.predict(mnist.x_test / 255.0, batch_size=500, verbose=0).argmax(1)
    for m in doc["models"][1:]:
        it = Interpreter(model_path=m["path"])
        inp, out = it.get_input_details()[0], it.get_output_details()[0]
        it.resize_tensor_input(inp["index"], [10000, 28, 28])
        it.allocate_tensors()
        x = mnist.x_test / 255.0
        if inp["dtype"] == np.int8:
            scale, zero = inp["quantization"]
            x = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)
        it.set_tensor(inp["index"], x.astype(inp["dtype"]))
        it.invoke()
        pred = it.get_tensor(out["index"]).argmax(1)
        assert m["accuracy"] == float(np.mean(pred == mnist.y_test)), m["format"]
        assert m["agreement"] == float(np.mean(pred == ref)), m["format"]
    assert doc["models"][0]["accuracy"] == float(np.mean(ref == mnist.y_test))


@pytest.mark.slow
def test_bench_report(bench_run):
    folder, _ = bench_run
    report = folder / "report"
    names = sorted(p.name for p in report.iterdir())
    assert {"report.md", "latency.png", "size_vs_accuracy.png"} <= set(names)
    text = (report / "report.md").read_text()
    assert "![latency](latency.png)" in text and "Size vs accuracy" in text
    for name in names:
        if name.endswith(".png"):
            assert (report / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_bench_report_counts_float32_int8_disagreements(bench_run, mnist):
    """The gallery's count, recomputed with the Predictor on the two files (not the bench code)."""
    from mnist_edge.runtime import Predictor

    folder, _ = bench_run
    f32 = Predictor(folder / "mnist_mlp_float32.tflite").probabilities(mnist.x_test).argmax(1)
    i8 = Predictor(folder / "mnist_mlp_int8.tflite").probabilities(mnist.x_test).argmax(1)
    differ = int(np.sum(f32 != i8))
    text = (folder / "report" / "report.md").read_text()
    if differ:
        assert f"disagree on {differ} of 10000 test images" in text
        assert (folder / "report" / "disagreements.png").is_file()
    else:
        assert "agree on every one of the 10000 test images" in text
        assert not (folder / "report" / "disagreements.png").exists()


@pytest.mark.slow  # an end-to-end run: the README command and CI run it, the fast tier does not
def test_bench_bad_files_still_benchmarks_the_rest(runner, tmp_path, small_model, mnist_dir):
    shutil.copy(small_model, tmp_path / "mnist_mlp.keras")
    good = FIXTURES / "mnist_mlp_int8_uint8io.tflite"
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(good.read_bytes()[:3000])
    args = [
        "bench",
        "--keras",
        str(tmp_path / "mnist_mlp.keras"),
        "--data-dir",
        str(mnist_dir),
        "--runs",
        "20",
        "--warmup",
        "2",
        "--tflite",
        str(tmp_path / "missing.tflite"),
        "--tflite",
        str(corrupt),
        "--tflite",
        str(FIXTURES / "wrong_shape_32x32_to_5.tflite"),
        "--tflite",
        str(good),
    ]
    result = runner.invoke(main, args)
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output
    # Each failure is said once, as its row of the table; the closing error names all three.
    errors = [line for line in result.stdout.splitlines() if "  error: " in line]
    assert len(errors) == 3
    closing = result.stderr.strip().splitlines()[-1]
    assert closing.startswith("Error: 3 of 4 models could not be benchmarked: missing.tflite, ")
    assert "model file not found" in errors[0]
    assert "corrupt or truncated TFLite model" in errors[1]
    assert "not a 28x28 image" in errors[2]
    table = result.stdout
    assert "int8 (uint8 io)" in table and "keras" in table and "vs Keras" in table


def test_bench_missing_reference(runner, tmp_path):
    result = runner.invoke(main, ["bench", "--keras", str(tmp_path / "nope.keras")])
    assert result.exit_code == 1 and "model file not found" in result.stderr

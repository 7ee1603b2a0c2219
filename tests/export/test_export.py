"""`mnist-edge export`: formats, op graph, calibration, sidecars, parity gate, bad input."""

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import require_extra

require_extra("tensorflow", "train")

from mnist_edge import export, runtime
from mnist_edge.cli import main
from mnist_edge.export import pipeline


def _ops(path):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    return [op["op_name"] for op in it._get_ops_details()], it


@pytest.mark.slow
def test_export_all_meets_targets(exported):
    out, result = exported
    arts = {a["quantization"]: a for a in result["artifacts"]}
    assert set(arts) == {"none", "float16", "dynamic", "int8"}
    assert result["passed"] and all(a["passed"] for a in arts.values())
    assert [Path(a["path"]).name for a in result["artifacts"]] == [
        "mnist_mlp_float32.tflite",
        "mnist_mlp_float16.tflite",
        "mnist_mlp_dynamic.tflite",
        "mnist_mlp_int8.tflite",
    ]
    assert arts["none"]["agreement"] == 1.0
    assert arts["int8"]["size_bytes"] <= 0.27 * arts["none"]["size_bytes"]
    assert arts["int8"]["agreement"] >= 0.995
    assert arts["int8"]["accuracy_drop_pp"] <= 0.2
    assert arts["int8"]["io_dtype"] == "int8"
    for a in arts.values():
        assert Path(a["path"]).stat().st_size == a["size_bytes"]
    # Nothing else was left behind (no staging folders or temp files): the
    # models, their sidecars and the one reference record they share.
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [Path(a["path"]).name for a in arts.values()]
        + [Path(a["path"]).stem + ".json" for a in arts.values()]
        + ["mnist_mlp.reference.npz"]
    )


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["float32", "int8"])
def test_static_graph_resizes_to_a_batch(exported, mnist, fmt):
    out, _ = exported
    ops, it = _ops(out / f"mnist_mlp_{fmt}.tflite")
    assert ops == ["RESHAPE", "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]
    detail = it.get_input_details()[0]
    assert detail["shape"].tolist() == [1, 28, 28]
    assert detail["shape_signature"].tolist() == [-1, 28, 28]
    it.resize_tensor_input(detail["index"], [10000, 28, 28])
    it.allocate_tensors()
    assert it.get_output_details()[0]["shape"].tolist() == [10000, 10]


@pytest.mark.slow
def test_sidecar_describes_the_file(exported, full_model):
    out, result = exported
    int8 = next(a for a in result["artifacts"] if a["quantization"] == "int8")
    meta = json.loads((out / "mnist_mlp_int8.json").read_text())
    content = (out / "mnist_mlp_int8.tflite").read_bytes()
    assert meta["format"] == runtime.METADATA_FORMAT
    assert meta["labels"] == [str(i) for i in range(10)]
    assert meta["tflite_sha256"] == hashlib.sha256(content).hexdigest()
    assert meta["input"]["normalization"]["scale"] == pytest.approx(1 / 255)
    assert meta["input"]["dtype"] == "int8" and meta["output"]["dtype"] == "int8"
    assert meta["input"]["quantization"]["scale"] == pytest.approx(1 / 255, rel=1e-6)
    assert meta["input"]["quantization"]["zero_point"] == -128
    assert meta["output"]["quantization"]["scale"] == pytest.approx(1 / 256)
    assert meta["source_model"]["sha256"] == hashlib.sha256(full_model[0].read_bytes()).hexdigest()
    assert meta["source_model"]["dataset"] == "mnist"
    assert meta["calibration"]["samples"] == 500
    assert meta["calibration"]["value_range"][1] <= 1.0
    assert meta["parity"]["agreement"] == int8["agreement"] and meta["parity"]["passed"]


@pytest.mark.slow
def test_sidecar_names_the_source_model_without_the_build_machines_path(exported, full_model):
    meta = json.loads((exported[0] / "mnist_mlp_int8.json").read_text())
    assert meta["source_model"]["name"] == full_model[0].name
    assert "path" not in meta["source_model"] and str(full_model[0].parent) not in json.dumps(meta)


@pytest.mark.slow
def test_parity_matches_an_independent_evaluation(exported, mnist):
    """Recompute int8 accuracy with a bare interpreter and hand-written quantisation."""
    from ai_edge_litert.interpreter import Interpreter

    out, result = exported
    int8 = next(a for a in result["artifacts"] if a["quantization"] == "int8")
    it = Interpreter(model_path=str(out / "mnist_mlp_int8.tflite"))
    inp, outd = it.get_input_details()[0], it.get_output_details()[0]
    it.resize_tensor_input(inp["index"], [10000, 28, 28])
    it.allocate_tensors()
    scale, zp = inp["quantization"]
    x = np.clip(np.round(mnist.x_test / 255.0 / scale) + zp, -128, 127).astype(np.int8)
    it.set_tensor(inp["index"], x)
    it.invoke()
    pred = it.get_tensor(outd["index"]).argmax(1)
    assert np.mean(pred == mnist.y_test) == int8["accuracy"]


@pytest.mark.slow
@pytest.mark.parametrize("io_type,dtype", [("uint8", "uint8"), ("float", "float32")])
def test_int8_io_variants(tmp_path, full_model, mnist, io_type, dtype):
    result = export.export(
        full_model[0], tmp_path, export.ExportConfig(("int8",), io_type=io_type), dataset=mnist
    )
    art = result["artifacts"][0]
    assert art["passed"] and art["io_dtype"] == dtype
    assert Path(art["path"]).name == f"mnist_mlp_int8_{io_type}io.tflite"
    ops, it = _ops(art["path"])
    assert "FULLY_CONNECTED" in ops
    assert it.get_input_details()[0]["dtype"].__name__ == dtype
    # Every FULLY_CONNECTED runs on int8 tensors, whatever the I/O type.
    for op in it._get_ops_details():
        if op["op_name"] == "FULLY_CONNECTED":
            assert it._get_tensor_details(op["inputs"][0], 0)["dtype"].__name__ == "int8"


@pytest.mark.slow
def test_calibrating_on_0_255_data_is_caught(tmp_path, full_model, mnist):
    """The classic mistake: calibrate on raw pixels, infer on /255 data."""
    wrong = export.representative_images(mnist, 500, 0) * 255.0
    result = export.export(
        full_model[0], tmp_path, export.ExportConfig(("int8",)), dataset=mnist, calibration_images=wrong
    )
    art = result["artifacts"][0]
    assert art["accuracy"] < 0.2  # ~9-10 %: every image looks almost black
    assert not art["passed"] and not result["passed"]
    assert art["path"] is None and not list(tmp_path.glob("*.tflite"))


def test_failed_gate_exit_code_and_keep_failed(runner, tmp_path, small_model, mnist_dir):
    args = [
        "export",
        "--model",
        str(small_model),
        "--quantize",
        "int8",
        "--data-dir",
        str(mnist_dir),
        "--min-agreement",
        "1.0",
        "--max-drop",
        "0",
        "--json",
    ]
    result = runner.invoke(main, args + ["--out", str(tmp_path / "a")])
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    assert doc["artifacts"][0]["passed"] is False and doc["artifacts"][0]["path"] is None
    assert "parity gate failed" in result.stderr
    assert not list((tmp_path / "a").glob("*.tflite"))
    kept = runner.invoke(main, args + ["--out", str(tmp_path / "b"), "--keep-failed"])
    assert kept.exit_code == 3
    assert (tmp_path / "b" / "mnist_mlp_int8.tflite").is_file()
    meta = json.loads((tmp_path / "b" / "mnist_mlp_int8.json").read_text())
    assert meta["parity"]["passed"] is False


def test_quick_export_table_and_json(runner, tmp_path, small_model, mnist_dir):
    result = runner.invoke(
        main,
        [
            "export",
            "--model",
            str(small_model),
            "--quantize",
            "none",
            "--quantize",
            "int8",
            "--data-dir",
            str(mnist_dir),
            "--out",
            str(tmp_path),
            "--json",
            "--c-array",
            "--debug",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [a["quantization"] for a in doc["artifacts"]] == ["none", "int8"]
    for a in doc["artifacts"]:
        for key in (
            "path",
            "quantization",
            "io_dtype",
            "size_bytes",
            "accuracy",
            "agreement",
            "max_abs_diff",
            "passed",
        ):
            assert key in a
    assert "format" in result.stderr and "agreement" in result.stderr and "pass" in result.stderr
    assert "INFO:" not in result.stderr and "fully_quantize" not in result.stderr
    # --debug: per-layer CSV and chart.
    csv_text = (tmp_path / "mnist_mlp_int8_debug.csv").read_text()
    assert csv_text.count("FULLY_CONNECTED") == 2 and "rmse_over_scale" in csv_text
    assert (tmp_path / "mnist_mlp_int8_debug.png").read_bytes()[:4] == b"\x89PNG"


def test_c_array_compiles_to_the_same_bytes(tmp_path, small_model, mnist):
    config = export.ExportConfig(("int8",), c_array=True, max_drop_pp=100, min_agreement=0)
    result = export.export(small_model, tmp_path, config, dataset=mnist)
    tflite = (tmp_path / "mnist_mlp_int8.tflite").read_bytes()
    header = (tmp_path / "mnist_mlp_int8.h").read_text()
    assert "extern const unsigned char g_mnist_mlp_int8_model[];" in header
    assert "alignas(16)" in (tmp_path / "mnist_mlp_int8.cc").read_text()
    main_cc = tmp_path / "dump.cc"
    main_cc.write_text(
        '#include <cstdio>\n#include <cstdint>\n#include "mnist_mlp_int8.h"\n'
        "int main() { if (reinterpret_cast<uintptr_t>(g_mnist_mlp_int8_model) % 16) return 2;\n"
        "  fwrite(g_mnist_mlp_int8_model, 1, g_mnist_mlp_int8_model_len, stdout); return 0; }\n"
    )
    exe = tmp_path / "dump"
    subprocess.run(
        [
            "g++",
            "-std=c++11",
            "-o",
            str(exe),
            str(main_cc),
            str(tmp_path / "mnist_mlp_int8.cc"),
            "-I",
            str(tmp_path),
        ],
        check=True,
    )
    assert subprocess.run([str(exe)], capture_output=True, check=True).stdout == tflite
    assert result["artifacts"][0]["extra_files"][0].endswith(".h")


def _save_model(path, in_shape, classes):
    import keras

    model = keras.Sequential(
        [keras.Input(in_shape), keras.layers.Flatten(), keras.layers.Dense(classes, activation="softmax")]
    )
    model.save(path)
    return path


@pytest.mark.parametrize("case", ["missing", "corrupt", "text", "input", "output"])
def test_bad_model_one_line_no_partial_file(runner, tmp_path, mnist_dir, case):
    out = tmp_path / "out"
    if case == "missing":
        model, expect = tmp_path / "nope.keras", "model file not found"
    elif case == "corrupt":
        good = _save_model(tmp_path / "good.keras", (28, 28), 10).read_bytes()
        model = tmp_path / "corrupt.keras"
        model.write_bytes(good[: len(good) // 2])
        expect = "not a Keras model"
    elif case == "text":
        model = tmp_path / "notes.keras"
        model.write_text("this is not a model\n")
        expect = "not a Keras model"
    elif case == "input":
        model, expect = _save_model(tmp_path / "big.keras", (32, 32), 10), "expected (None, 28, 28)"
    else:
        model, expect = _save_model(tmp_path / "five.keras", (28, 28), 5), "expected (None, 10)"
    result = runner.invoke(
        main, ["export", "--model", str(model), "--out", str(out), "--data-dir", str(mnist_dir)]
    )
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert not list(out.glob("*")) if out.exists() else True


def test_unwritable_out(runner, tmp_path, small_model):
    blocker = tmp_path / "f"
    blocker.write_text("")
    result = runner.invoke(main, ["export", "--model", str(small_model), "--out", str(blocker / "sub")])
    assert result.exit_code == 1, result.output
    assert "cannot create output folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_ctrl_c_mid_export_leaves_no_partial_file(runner, tmp_path, small_model, mnist_dir, monkeypatch):
    calls = {"n": 0}
    real = export.validate_model_outputs

    def interrupt_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "validate_model_outputs", interrupt_second)  # where export() calls it
    result = runner.invoke(
        main,
        [
            "export",
            "--model",
            str(small_model),
            "--out",
            str(tmp_path),
            "--data-dir",
            str(mnist_dir),
            "--quantize",
            "none",
            "--quantize",
            "float16",
        ],
    )
    assert result.exit_code == 130 and "interrupted" in result.stderr
    assert "Traceback" not in result.output
    # The first format completed and passed; the interrupted one left nothing.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "mnist_mlp.reference.npz",
        "mnist_mlp_float32.json",
        "mnist_mlp_float32.tflite",
    ]
    assert "kept 3 finished files" in result.stderr


def _limit_file_size():
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, writes fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))


def export_argv(model, out, mnist_dir, quantize):
    """``mnist-edge export`` of one model into ``out``, quietly, as a child process runs it."""
    import sys

    return [sys.executable, "-m", "mnist_edge", "export", "--model", str(model), "--out", str(out)] + [
        "--data-dir",
        str(mnist_dir),
        "--quantize",
        quantize,
        "-q",
    ]


@pytest.mark.slow  # an end-to-end run: the README command and CI run it, the fast tier does not
def test_export_onto_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, small_model, mnist_dir):
    import subprocess

    out = tmp_path / "out"
    result = subprocess.run(
        export_argv(small_model, out, mnist_dir, "none"),
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size,
        timeout=600,
    )
    assert result.returncode == 1, result.stderr
    lines = [
        line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("W0", "I0"))
    ]
    assert len(lines) == 1 and "cannot write" in lines[0] and "Traceback" not in result.stderr
    assert not list(out.iterdir())  # no partial file, no staging folder


@pytest.mark.slow  # an end-to-end run: the README command and CI run it, the fast tier does not
def test_sigterm_mid_export_cleans_up_and_exits_143(tmp_path, small_model, mnist_dir):
    import signal
    import subprocess
    import time

    out = tmp_path / "out"
    proc = subprocess.Popen(
        export_argv(small_model, out, mnist_dir, "all"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (
        out.exists() and any(p.name.startswith(".mnist-edge-tmp-") for p in out.iterdir())
    ):
        time.sleep(0.05)  # wait until the export is staging files
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert "terminated; nothing half-written was left" in stderr and "Traceback" not in stderr
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no hidden staging folder


def test_export_micro_writes_the_tflm_record_and_prints_the_fit(runner, tmp_path, small_model, mnist_dir):
    require_extra("tflite_micro", "micro")
    args = ["export", "--model", str(small_model), "--quantize", "int8", "--micro"]
    args += ["--data-dir", str(mnist_dir)]
    result = runner.invoke(main, args + ["--out", str(tmp_path), "--max-drop", "100", "--min-agreement", "0"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "mnist_mlp_int8.micro.json").read_text())
    assert record["model_bytes"] == (tmp_path / "mnist_mlp_int8.tflite").stat().st_size
    assert record["arena_bytes"] > 0 and record["n"] == 10000 and record["agreement_with_litert"] >= 0.999
    assert (tmp_path / "mnist_mlp_int8.h").is_file() and (tmp_path / "mnist_mlp_int8.cc").is_file()
    assert "TensorFlow Lite Micro:" in result.stderr and "Cortex-M4" in result.stderr


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--quantize", "none"], "add --quantize int8"),
        (["--quantize", "int8", "--io", "float"], "--micro needs integer input and output"),
    ],
)
def test_export_micro_usage_errors(runner, small_model, extra, message):
    result = runner.invoke(main, ["export", "--model", str(small_model), "--micro"] + extra)
    assert result.exit_code == 2 and message in result.output


def test_the_export_table_is_a_result_on_stdout(runner, tmp_path, small_model, mnist_dir):
    args = ["export", "--model", str(small_model), "--quantize", "none", "--data-dir", str(mnist_dir)]
    result = runner.invoke(main, args + ["--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "size KB" in result.stdout and "float32" in result.stdout  # the table's header and row
    assert "size KB" not in result.stderr


@pytest.mark.parametrize("keep_failed, kept", [(False, False), (True, True)])
def test_tflm_disagreeing_with_litert_fails_the_micro_gate(tmp_path, keep_failed, kept):
    final = tmp_path / "m_int8.tflite"
    files = [final, tmp_path / "m_int8.json", tmp_path / "m_int8.h", tmp_path / "m_int8.micro.json"]
    for f in files:
        f.write_bytes(b"x")
    outcome = pipeline._Outcome("m_int8.tflite", "int8", b"x", {}, [], final, files[2:], 0.0)
    config = export.ExportConfig(min_agreement=0.99, keep_failed=keep_failed)
    pipeline._gate_on_micro(outcome, {"agreement_with_litert": 0.95}, config)
    assert [f.kind for f in outcome.failures] == ["micro_agreement"] and not outcome.passed
    assert all(f.exists() == kept for f in files)


def test_tflm_agreeing_passes_the_micro_gate(tmp_path):
    outcome = pipeline._Outcome("m.tflite", "int8", b"x", {}, [], None, [], 0.0)
    pipeline._gate_on_micro(outcome, {"agreement_with_litert": 0.999}, export.ExportConfig())
    assert outcome.passed

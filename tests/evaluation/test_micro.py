"""The microcontroller target: TensorFlow Lite Micro's real kernels on the host (no TensorFlow)."""

import json
from pathlib import Path

import pytest
from helpers import FIXTURES, require_extra

require_extra("tflite_micro", "micro")

from mnist_edge.evaluation import micro

CNN = FIXTURES / "mnist_cnn_int8.tflite"
MLP = FIXTURES / "mnist_mlp_int8_uint8io.tflite"


@pytest.fixture(scope="module")
def cnn_result(mnist):
    return micro.check(CNN, mnist.x_test[:300])


@pytest.fixture(scope="module")
def mlp_result(mnist):
    return micro.check(MLP, mnist.x_test[:300])


def test_the_cnn_runs_on_tflm_like_on_litert(cnn_result):
    assert cnn_result["agreement_with_litert"] >= 0.999 and cnn_result["n"] == 300
    assert {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED"} <= set(cnn_result["ops"])
    assert cnn_result["tflm_supports_all_ops"] is True


def test_the_mlp_runs_on_tflm_like_on_litert(mlp_result):
    assert mlp_result["agreement_with_litert"] >= 0.999
    assert "FULLY_CONNECTED" in mlp_result["ops"]


def test_the_arena_is_what_tflm_recorded_and_a_cnn_needs_more_than_an_mlp(cnn_result, mlp_result):
    assert 1024 < mlp_result["arena_bytes"] < cnn_result["arena_bytes"] < 256 * 1024


def test_model_bytes_are_the_files_size(cnn_result):
    assert cnn_result["model_bytes"] == CNN.stat().st_size


def test_the_fit_table_subtracts_model_arena_and_reserves(cnn_result):
    for board in cnn_result["boards"]:
        assert (
            board["flash_headroom_bytes"]
            == board["flash_bytes"] - cnn_result["model_bytes"] - micro.FLASH_RESERVE
        )
        assert (
            board["ram_headroom_bytes"] == board["ram_bytes"] - cnn_result["arena_bytes"] - micro.RAM_RESERVE
        )
        assert board["fits"] == (board["flash_headroom_bytes"] >= 0 and board["ram_headroom_bytes"] >= 0)


def test_a_board_too_small_does_not_fit():
    rows = micro.fit_table(model_bytes=200 * 1024, arena=60 * 1024)
    assert rows[0]["fits"] is False and rows[-1]["fits"] is True


@pytest.mark.parametrize("fixture", ["mnist_mlp_float32.tflite", "mnist_mlp_int8_floatio.tflite"])
def test_a_float_model_is_one_line(fixture, mnist):
    with pytest.raises(micro.MicroError, match="needs a full-int8 model") as info:
        micro.check(FIXTURES / fixture, mnist.x_test[:10])
    assert "\n" not in str(info.value)


def test_an_operator_tflm_lacks_is_named():
    with pytest.raises(micro.MicroError, match=r"cannot run this model .*SIGN"):
        micro.load((FIXTURES / "sign_op_float.tflite").read_bytes(), 1 << 20, "sign_op_float.tflite")


def test_the_result_is_json(cnn_result):
    assert json.loads(json.dumps(cnn_result)) == cnn_result


def test_the_micro_command_checks_an_existing_model(runner, mnist_dir, tmp_path):
    from mnist_edge.cli import main

    args = ["micro", str(CNN), "--data-dir", str(mnist_dir), "--test-images", "300"]
    result = runner.invoke(main, [*args, "--json", "--c-array", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["n"] == 300 and doc["agreement_with_litert"] >= 0.999 and doc["arena_bytes"] > 1024
    assert sorted(p.rsplit("/", 1)[-1] for p in doc["c_array"]) == ["mnist_cnn_int8.cc", "mnist_cnn_int8.h"]
    table = runner.invoke(main, args).stdout
    assert "TensorFlow Lite Micro: mnist_cnn_int8.tflite" in table and "Raspberry Pi Pico" in table


def test_the_micro_command_refuses_a_float_model_in_one_line(runner, mnist_dir):
    from mnist_edge.cli import main

    result = runner.invoke(
        main, ["micro", str(FIXTURES / "mnist_mlp_float32.tflite"), "--data-dir", str(mnist_dir)]
    )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].endswith("export it with --quantize int8")


def test_the_micro_command_never_imports_tensorflow(mnist_dir):
    from helpers import heavy, modules_after

    code = (
        "import sys\n"
        "from mnist_edge.cli import main\n"
        f"sys.argv = ['mnist-edge', 'micro', {str(CNN)!r}, '--data-dir', {str(mnist_dir)!r},"
        " '--test-images', '100']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
    )
    assert heavy(modules_after(code)) == []


TINY = Path(__file__).resolve().parents[2] / "models" / "tiny" / "mnist_tiny_qat_int8.tflite"


def test_the_shipped_tiny_model_fits_16_kb_of_flash_and_arena_at_99_2_percent(mnist):
    from mnist_edge.runtime import Predictor

    result = micro.check(TINY, mnist.x_test[:2000])  # TFLM image by image: 2,000 say enough of agreement
    # the accuracy claim is on the full test set
    accuracy = float((Predictor(TINY).probabilities(mnist.x_test).argmax(1) == mnist.y_test).mean())
    assert result["model_bytes"] <= 16 * 1024 and result["arena_bytes"] <= 16 * 1024
    assert accuracy >= 0.992 and result["agreement_with_litert"] >= 0.999
    assert result["multiply_adds"] < 2_000_000

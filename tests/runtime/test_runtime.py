"""mnist_edge.runtime.Predictor on committed .tflite fixtures (no TensorFlow needed)."""

import json
import shutil
import threading

import numpy as np
import pytest
from helpers import FIXTURES

from mnist_edge import runtime

DEFAULT = runtime.default_model_path()
MODELS = {
    "int8": DEFAULT,
    "float32": FIXTURES / "mnist_mlp_float32.tflite",
    "int8_uint8io": FIXTURES / "mnist_mlp_int8_uint8io.tflite",
    "int8_floatio": FIXTURES / "mnist_mlp_int8_floatio.tflite",
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def predictor(request):
    return runtime.Predictor(MODELS[request.param])


def test_default_model_is_shipped_int8_with_metadata():
    p = runtime.Predictor(DEFAULT)
    info = p.describe()
    assert info["input_dtype"] == "int8" and info["output_dtype"] == "int8"
    assert info["has_metadata"] and p.labels == [str(i) for i in range(10)]
    assert p.runtime == runtime.load_interpreter_class()[1] and p.resizable


def test_full_test_set_accuracy_equals_the_export_parity_figure(predictor, mnist):
    """Exactly on LiteRT, which export measures with; another interpreter's int8
    kernels round differently on a few images (tflite-runtime 2.14 reads one
    more of the CNN's 10,000 right)."""
    probs = predictor.probabilities(mnist.x_test)
    accuracy = float(np.mean(probs.argmax(1) == mnist.y_test))
    exported = predictor.metadata["parity"]["accuracy"]
    if predictor.runtime == "litert":
        assert accuracy == exported
    else:
        assert abs(accuracy - exported) <= 0.001, (predictor.runtime, accuracy, exported)
    assert accuracy >= 0.975


def test_batch_equals_single_exactly(predictor, mnist):
    images = mnist.x_test[:300]
    batch = predictor.predict_batch(images)
    for image, b in zip(images, batch):
        single = predictor.predict(image)
        assert single.label == b.label
        assert np.array_equal(single.probabilities, b.probabilities)


def test_uint8_and_float01_inputs_agree_and_0_255_floats_are_refused(predictor, mnist):
    images = mnist.x_test[:50]
    as_u8 = predictor.probabilities(images)
    as_float = predictor.probabilities(images.astype(np.float32) / 255.0)
    assert np.array_equal(as_u8.argmax(1), as_float.argmax(1))
    assert np.abs(as_u8 - as_float).max() < 1e-6
    assert np.array_equal(predictor.probabilities(images.astype(np.int64)), as_u8)
    with pytest.raises(runtime.InputError, match=r"\[0, 1\].*divide by 255"):
        predictor.predict(images[0].astype(np.float32))  # 0..255 floats: the classic mistake
    with pytest.raises(runtime.InputError, match=r"0\.\.255"):
        predictor.predict(images[0].astype(np.int32) * 2)
    with pytest.raises(runtime.InputError, match="shape"):
        predictor.predict(np.zeros((32, 32), np.uint8))
    with pytest.raises(runtime.InputError, match="one image"):
        predictor.predict(images[:2])


def test_quantisation_matches_the_tensor_parameters(mnist):
    """The Predictor's LUTs equal a hand-written quantise/dequantise."""
    Interpreter = runtime.load_interpreter_class()[0]

    path = MODELS["int8_uint8io"]
    p = runtime.Predictor(path)
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert inp["dtype"] == np.uint8
    s_in, z_in = inp["quantization"]
    s_out, z_out = out["quantization"]
    for image in mnist.x_test[:20]:
        q = np.clip(np.round(image / 255.0 / s_in) + z_in, 0, 255).astype(np.uint8)
        it.set_tensor(inp["index"], q[None])
        it.invoke()
        expected = (it.get_tensor(out["index"])[0].astype(np.float32) - z_out) * s_out
        np.testing.assert_allclose(p.predict(image).probabilities, expected, rtol=0, atol=1e-7)


def test_thread_safe(mnist):
    p = runtime.Predictor(DEFAULT)
    images = mnist.x_test[:200]
    expected = [p.predict(im).label for im in images]
    results, errors = {}, []

    def worker(k):
        try:
            results[k] = [p.predict(im).label for im in images]
            results[f"batch{k}"] = [r.label for r in p.predict_batch(images)]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(v == expected for v in results.values()) and len(results) == 8


def test_xnnpack_off_and_threads_give_the_same_labels_but_on_near_ties(mnist):
    """XNNPACK's int8 kernels round differently from the built-in ones (DEVELOPERS.md: up to
    18 output steps of 1/256): labels may differ only where the built-in kernels see a near tie."""
    a = runtime.Predictor(DEFAULT).probabilities(mnist.x_test[:2000])
    b = runtime.Predictor(DEFAULT, xnnpack=False, num_threads=2).probabilities(mnist.x_test[:2000])
    differ = np.flatnonzero(a.argmax(1) != b.argmax(1))
    assert len(differ) <= 2  # 1 of the 10,000 test digits on the shipped model
    top_two = np.sort(b[differ], axis=1)[:, -2:]
    assert np.all((top_two[:, 1] - top_two[:, 0]) * 256 <= 18)


def test_stale_sidecar_is_refused(tmp_path):
    model = tmp_path / "m.tflite"
    shutil.copy(MODELS["float32"], model)
    meta = json.loads((FIXTURES / "mnist_mlp_int8_uint8io.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(runtime.RuntimeModelError, match="different model file"):
        runtime.Predictor(model)
    (tmp_path / "m.json").unlink()
    assert runtime.Predictor(model).metadata is None  # no sidecar: defaults (1/255)


@pytest.mark.parametrize("case", ["missing", "empty", "text", "truncated", "wrong_shape"])
def test_bad_model_files(tmp_path, case):
    path = tmp_path / "bad.tflite"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("not a model at all\n")
    elif case == "truncated":
        path.write_bytes(DEFAULT.read_bytes()[:5000])
    elif case == "wrong_shape":
        path = FIXTURES / "wrong_shape_32x32_to_5.tflite"
    with pytest.raises(runtime.RuntimeModelError) as err:
        runtime.Predictor(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_runtime_selection():
    with pytest.raises(runtime.RuntimeModelError, match="unknown runtime"):
        runtime.load_interpreter_class("onnx")
    _, name, version = runtime.load_interpreter_class("auto")
    assert version[0].isdigit()
    available = []
    for candidate, module in (("litert", "ai_edge_litert"), ("tflite-runtime", "tflite_runtime")):
        try:
            __import__(module)
            available.append(candidate)
        except ImportError:
            with pytest.raises(runtime.RuntimeModelError, match="pip install"):
                runtime.load_interpreter_class(candidate)
    assert name == available[0]  # LiteRT first, then tflite-runtime


def test_one_rule_names_a_models_sidecar(tmp_path):
    assert runtime.sidecar_path(tmp_path / "m.tflite") == tmp_path / "m.json"
    assert runtime.sidecar_path(tmp_path / "m.keras") == tmp_path / "m.json"
    assert runtime.metadata_path is runtime.sidecar_path  # the name it had before


def test_the_fast_path_still_finds_the_interpreters_native_wrapper():
    """The one private LiteRT / tflite-runtime attribute we use: fail loudly if it goes away."""
    from mnist_edge.runtime import fastpath

    Interpreter = runtime.load_interpreter_class()[0]
    interpreter = Interpreter(model_path=str(runtime.default_model_path()))
    interpreter.allocate_tensors()
    assert fastpath.native_wrapper(interpreter) is not None, (
        "Interpreter._interpreter (SetTensor/Invoke/GetTensor) is gone: the single-image fast path "
        "has fallen back to the public API; re-measure benchmarks/predict_speed.py"
    )


def test_the_fast_path_gives_what_the_general_path_gives(mnist):
    p = runtime.Predictor(runtime.default_model_path())
    for image in mnist.x_test[:200]:
        fast = p.predict(image)
        general = p.predict(image.astype(np.float32) / 255.0)  # float input takes the general path
        assert (fast.label, fast.probabilities) == (general.label, general.probabilities)


def test_a_dynamically_shaped_model_predicts_through_the_general_path():
    # tf.keras exports reshape through SHAPE/STRIDED_SLICE/PACK: the output has no
    # buffer until the first invoke, and the fast path's views once crashed on it.
    p = runtime.Predictor(FIXTURES / "dynamic_reshape_float32.tflite")
    assert "SHAPE" in p.facts.op_names
    image = np.zeros((28, 28), np.uint8)
    image[8:20, 12:16] = 255
    single = p.predict(image)
    batch = p.probabilities(np.stack([image, image]))
    np.testing.assert_allclose(batch[0], single.probabilities, rtol=1e-6)
    assert single.label == int(batch[0].argmax())

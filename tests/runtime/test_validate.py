"""Case tables for the pure checks: the model validator's tensor, quantisation and I/O rules,
and export's parity gate. (Whole corrupt files are in test_hostile_inputs and the fuzz suite.)"""

import dataclasses

import pytest
from helpers import FIXTURES

from mnist_edge.errors import RuntimeModelError
from mnist_edge.export import GateFailure, gate
from mnist_edge.runtime import validate


def tensor(**changes):
    """A valid int8 [1, 10] activation tensor with no data, changed as asked."""
    base = validate.TensorFacts(
        index=3,
        name="t",
        dtype="int8",
        itemsize=1,
        shape=[1, 10],
        signature=[-1, 10],
        buffer=0,
        scales=[0.5],
        zero_points=[-128],
        quantized_dimension=0,
    )
    return dataclasses.replace(base, **changes)


def facts(tensors=(), spans=((0, 0), (100, 40)), inputs=(0,), outputs=(1,)):
    return validate.ModelFacts(list(tensors), [], list(inputs), list(outputs), list(spans), reader=None)


TENSOR_CASES = [
    ("valid", {}, None),
    ("unsupported type", {"itemsize": 0, "dtype": "string"}, "which this toolkit does not run"),
    ("zero dimension", {"shape": [1, 0]}, "has shape [1, 0]"),
    ("negative dimension", {"shape": [1, -10]}, "has shape [1, -10]"),
    ("rank over 6", {"shape": [1] * 7, "signature": []}, "has shape"),
    ("too many elements", {"shape": [4096, 4096], "signature": []}, "16777216 elements"),
    ("signature of another rank", {"signature": [-1, 10, 1]}, "shape signature"),
    ("signature unlike shape", {"signature": [-1, 11]}, "shape signature"),
    ("buffer past the list", {"buffer": 9}, "names buffer 9 of 2"),
    ("data of the wrong size", {"buffer": 1}, "40 bytes of data for 10 int8 values"),
    ("float32 data of the right size", {"buffer": 1, "dtype": "float32", "itemsize": 4}, None),
    ("negative scale", {"scales": [-0.5]}, "not a positive number"),
    ("nan scale", {"scales": [float("nan")]}, "not a positive number"),
    ("infinite scale", {"scales": [float("inf")]}, "not a positive number"),
    ("zero point count", {"zero_points": [0, 0]}, "1 scales and 2 zero points"),
    ("int8 zero point 128", {"zero_points": [128]}, "outside the int8 range"),
    ("uint8 zero point 256", {"dtype": "uint8", "zero_points": [256]}, "outside the uint8 range"),
    ("uint8 zero point 255", {"dtype": "uint8", "zero_points": [255]}, None),
    (
        "per-channel on the right axis",
        {"shape": [1, 10], "scales": [0.5] * 10, "zero_points": [0] * 10, "quantized_dimension": 1},
        None,
    ),
    (
        "per-channel length unlike the axis",
        {"scales": [0.5] * 3, "zero_points": [0] * 3, "quantized_dimension": 1},
        "per-channel quantisation",
    ),
    (
        "per-channel axis outside the shape",
        {"scales": [0.5] * 10, "zero_points": [0] * 10, "quantized_dimension": 5},
        "per-channel quantisation",
    ),
    ("not quantised", {"scales": [], "zero_points": []}, None),
]


@pytest.mark.parametrize("name,changes,problem", TENSOR_CASES, ids=[c[0] for c in TENSOR_CASES])
def test_tensor_rules(name, changes, problem):
    found = validate._check_tensor(tensor(**changes), facts())
    if problem is None:
        assert found is None
    else:
        assert problem in found


IMAGE = tensor(index=0, shape=[1, 28, 28], signature=[-1, 28, 28])
SCORES = tensor(index=1)
IO_CASES = [
    ("image in, ten scores out", [IMAGE, SCORES], (0,), (1,), None),
    ("flat 784 input", [tensor(index=0, shape=[1, 784]), SCORES], (0,), (1,), None),
    ("NHWC input", [tensor(index=0, shape=[1, 28, 28, 1]), SCORES], (0,), (1,), None),
    ("two inputs", [IMAGE, SCORES], (0, 0), (1,), "one input and one output, got 2 and 1"),
    ("no output", [IMAGE, SCORES], (0,), (), "got 1 and 0"),
    ("input outside the model", [IMAGE, SCORES], (5,), (1,), "outside it"),
    ("negative input", [IMAGE, SCORES], (-1,), (1,), "outside it"),
    ("32x32 input", [tensor(index=0, shape=[1, 32, 32]), SCORES], (0,), (1,), "not a 28x28 image"),
    ("batch of 2", [tensor(index=0, shape=[2, 28, 28]), SCORES], (0,), (1,), "not a 28x28 image"),
    ("eleven classes", [IMAGE, tensor(index=1, shape=[1, 11])], (0,), (1,), "not 10 classes"),
]


@pytest.mark.parametrize("name,tensors,inputs,outputs,problem", IO_CASES, ids=[c[0] for c in IO_CASES])
def test_io_rules(name, tensors, inputs, outputs, problem):
    found = validate._check_io(facts(tensors, inputs=inputs, outputs=outputs))
    if problem is None:
        assert found is None
    else:
        assert problem in found


def op(inputs, outputs):
    """An operator (FULLY_CONNECTED's code; dataflow ignores the kind) reading and writing tensors."""
    return validate.OpFacts(code=9, inputs=list(inputs), outputs=list(outputs), table=None)


# Tensors: 0 input, 1 output, 2 weights (buffer 1 holds data), 3 an activation, 4 a variable.
FLOW = [
    IMAGE,
    SCORES,
    tensor(index=2, buffer=1, shape=[40]),
    tensor(index=3),
    tensor(index=4, variable=True),
]
DATAFLOW_CASES = [
    ("input and weights, then the activation", [op([0, 2], [3]), op([3], [1])], None),
    ("an optional input left out (-1)", [op([0, 2, -1], [3]), op([3], [1])], None),
    ("a variable tensor", [op([0, 4], [3]), op([3], [1])], None),
    ("reads an activation nobody wrote", [op([0, 3], [1])], "reads tensor 3 (t), which has no data"),
    ("reads a later operator's output", [op([3], [1]), op([0, 2], [3])], "reads tensor 3 (t)"),
    ("output never written", [op([0, 2], [3])], "output tensor 1 is never written"),
]


@pytest.mark.parametrize("name,ops,problem", DATAFLOW_CASES, ids=[c[0] for c in DATAFLOW_CASES])
def test_dataflow_rules(name, ops, problem):
    model = facts(FLOW)
    model.ops = ops
    found = validate._check_dataflow(model)
    if problem is None:
        assert found is None
    else:
        assert problem in found


WRONG_SHAPE = "wrong_shape_32x32_to_5.tflite"


MODEL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.tflite") if p.name != WRONG_SHAPE)


@pytest.mark.parametrize("fixture", MODEL_FIXTURES)
def test_every_committed_model_fixture_passes(fixture):
    content = (FIXTURES / fixture).read_bytes()
    assert validate.validate(content, fixture).op_names


def test_the_wrong_shape_fixture_is_refused_for_its_input():
    with pytest.raises(RuntimeModelError, match=r"input shape \[1, 32, 32\] is not a 28x28 image"):
        validate.validate((FIXTURES / WRONG_SHAPE).read_bytes(), WRONG_SHAPE)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("empty", b"", "corrupt or truncated"),
        ("only a header", b"\x18\0\0\0TFL3", "corrupt or truncated"),
        ("root offset past the end", b"\xff\xff\0\0TFL3" + b"\0" * 16, "corrupt or truncated"),
    ],
)
def test_broken_flatbuffers_are_one_line(name, content, message):
    with pytest.raises(RuntimeModelError, match=message) as info:
        validate.validate(content, "x.tflite")
    assert "\n" not in str(info.value) and str(info.value).startswith("x.tflite: ")


def stats(agreement=1.0, drop=0.0, disagreements=0):
    return {"agreement": agreement, "accuracy_drop_pp": drop, "disagreements": disagreements}


GATE_CASES = [
    ("float32 identical", "none", stats(), []),
    ("float32 one image differs", "none", stats(0.9999, 0.0, 1), ["float32_mismatch"]),
    ("int8 within bounds", "int8", stats(0.995, 0.2), []),
    ("int8 at the bounds", "int8", stats(0.99, 0.5), []),
    ("int8 accuracy drop", "int8", stats(0.995, 0.6), ["accuracy_drop"]),
    ("int8 agreement", "int8", stats(0.98, 0.1), ["agreement"]),
    ("int8 both", "int8", stats(0.98, 0.9), ["accuracy_drop", "agreement"]),
    ("float16 agreement", "float16", stats(0.985, 0.0), ["agreement"]),
    ("dynamic accuracy gain", "dynamic", stats(0.999, -0.1), []),
]


@pytest.mark.parametrize("name,quantization,figures,kinds", GATE_CASES, ids=[c[0] for c in GATE_CASES])
def test_parity_gate(name, quantization, figures, kinds):
    failures = gate(quantization, figures, max_drop_pp=0.5, min_agreement=0.99)
    assert [f.kind for f in failures] == kinds
    assert all(isinstance(f, GateFailure) and "\n" not in f.message for f in failures)

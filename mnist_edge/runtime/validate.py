"""Validating a ``.tflite`` file before any interpreter touches it.

A model file is user input: one changed byte can make an interpreter
segfault (an out-of-range zero point), ask for gigabytes (a reshape to a
batch of 16 million), or raise deep inside a kernel. Every check here reads
the FlatBuffer through :mod:`mnist_edge.runtime.flatbuf`, bounds-checked:

* buffers and tensors lie inside the file; constant data has exactly the
  size its tensor's shape and type say;
* every tensor's type is a fixed-size one, its shape small and positive;
* quantisation parameters are finite, scales positive, zero points within
  their type's range, per-channel lengths consistent;
* operator codes are known builtins (no custom operators), tensor
  references are in range;
* one input shaped ``[1, 28, 28]`` (or ``[1, 784]``, ``[1, 28, 28, 1]``), one
  output ``[1, 10]``; a constant RESHAPE target agrees with its tensors;
* the tensors' total size (an upper bound of the arena) is bounded.
"""

from __future__ import annotations

import dataclasses
import math
from typing import List, Optional, Tuple

from mnist_edge.errors import RuntimeModelError
from mnist_edge.runtime import flatbuf
from mnist_edge.runtime.tflite_ops import BUILTIN_OPS, CUSTOM, op_name

MAX_TENSOR_ELEMENTS = 4_000_000
MAX_RANK = 6
MAX_TOTAL_BYTES = 256 << 20  # all tensors together: an arena bound for a 28x28 classifier
ACCEPTED_INPUT_SHAPES = ([1, 28, 28], [1, 784], [1, 28, 28, 1])
ZERO_POINT_RANGE = {
    "int8": (-128, 127),
    "uint8": (0, 255),
    "int16": (-32768, 32767),
    "int32": (-(2**31), 2**31 - 1),
    "uint16": (0, 65535),
}
RESHAPE = BUILTIN_OPS.index("RESHAPE")
PACKED_PER_BYTE = {"int4": 2}  # sub-byte types (ai-edge-quantizer's int4 weights)


@dataclasses.dataclass
class TensorFacts:
    """One tensor as the file declares it."""

    index: int
    name: str
    dtype: str
    itemsize: int
    shape: List[int]
    signature: List[int]
    buffer: int
    scales: List[float]
    zero_points: List[int]
    quantized_dimension: int
    variable: bool = False

    @property
    def nbytes(self) -> int:
        """Bytes its values take: int4 weights are packed two to a byte."""
        if self.dtype in PACKED_PER_BYTE:
            return -(-self.elements // PACKED_PER_BYTE[self.dtype])
        return self.elements * self.itemsize

    @property
    def elements(self) -> int:
        """The number of elements (the shape's product)."""
        return math.prod(self.shape) if self.shape else 1


@dataclasses.dataclass
class OpFacts:
    """One operator: its builtin code, tensor references and options table."""

    code: int
    inputs: List[int]
    outputs: List[int]
    table: flatbuf.Table

    @property
    def name(self) -> str:
        """The operator's name."""
        return op_name(self.code)


@dataclasses.dataclass
class ModelFacts:
    """What the validator read: tensors, operators and I/O of the main subgraph."""

    tensors: List[TensorFacts]
    ops: List[OpFacts]
    inputs: List[int]
    outputs: List[int]
    buffer_spans: List[Tuple[int, int]]
    reader: flatbuf.Reader
    total_bytes: int = 0

    @property
    def op_names(self) -> List[str]:
        """The operators in execution order."""
        return [op.name for op in self.ops]

    def constant(self, tensor: int) -> bool:
        """True when the tensor's data is in the file."""
        return self.buffer_spans[self.tensors[tensor].buffer][1] > 0


def _buffer_spans(reader, model) -> List[Tuple[int, int]]:
    spans = []
    for k, buf in enumerate(model.tables(4)):
        span = buf.bytes_span(0)
        offset, size = buf.scalar(1, "Q"), buf.scalar(2, "Q")
        if offset and size:  # large models keep weights after the FlatBuffer
            if offset + size > reader.size:
                raise flatbuf.FlatBufferError(f"weight buffer {k} lies past the end of the file")
            span = (offset, size)
        spans.append(span or (0, 0))
    return spans


def _tensor(k: int, table) -> TensorFacts:
    code = table.scalar(1, "b")
    if code not in flatbuf.TENSOR_TYPES:
        raise RuntimeModelError(f"tensor {k} has unknown type {code}")
    dtype, itemsize = flatbuf.TENSOR_TYPES[code]
    quant = table.table(4)
    return TensorFacts(
        index=k,
        name=(table.string(3) or "")[:80],
        dtype=dtype,
        itemsize=itemsize,
        shape=table.vector(0, "i"),
        signature=table.vector(7, "i"),
        buffer=table.scalar(2, "I"),
        scales=quant.vector(2, "f") if quant else [],
        zero_points=quant.vector(3, "q") if quant else [],
        quantized_dimension=quant.scalar(6, "i") if quant else 0,
        variable=bool(table.scalar(5, "B")),
    )


def _opcode(table) -> int:
    # Codes above 127 live in builtin_code; older files only fill the deprecated byte.
    return max(table.scalar(0, "b"), table.scalar(3, "i"))


def parse(content: bytes) -> ModelFacts:
    """Reads the main subgraph's facts (structure only; see :func:`validate` for the checks).

    Raises:
        flatbuf.FlatBufferError: the layout is broken.
        RuntimeModelError: an unknown tensor type.
    """
    reader = flatbuf.Reader(content)
    model = reader.root()
    opcodes = [_opcode(t) for t in model.tables(1)]
    subgraphs = model.tables(2)
    if not subgraphs:
        raise RuntimeModelError("the model has no subgraph")
    graph = subgraphs[0]
    tensors = [_tensor(k, t) for k, t in enumerate(graph.tables(0))]
    ops = []
    for op in graph.tables(3):
        index = op.scalar(0, "I")
        if index >= len(opcodes):
            raise RuntimeModelError(f"an operator names opcode {index} of {len(opcodes)}")
        ops.append(OpFacts(opcodes[index], op.vector(1, "i"), op.vector(2, "i"), op))
    return ModelFacts(
        tensors, ops, graph.vector(1, "i"), graph.vector(2, "i"), _buffer_spans(reader, model), reader
    )


def _check_tensor(t: TensorFacts, facts: ModelFacts) -> Optional[str]:
    if t.itemsize == 0 and t.dtype not in PACKED_PER_BYTE:
        return f"tensor {t.index} ({t.name}) has type {t.dtype}, which this toolkit does not run"
    if len(t.shape) > MAX_RANK or any(d < 1 for d in t.shape):
        return f"tensor {t.index} ({t.name}) has shape {t.shape}"
    if t.elements > MAX_TENSOR_ELEMENTS:
        return f"tensor {t.index} ({t.name}) has {t.elements} elements (shape {t.shape})"
    if t.signature and (
        len(t.signature) != len(t.shape) or any(d != s and d != -1 for d, s in zip(t.signature, t.shape))
    ):
        return f"tensor {t.index} ({t.name}) has a shape signature {t.signature} unlike its shape"
    if t.buffer >= len(facts.buffer_spans):
        return f"tensor {t.index} ({t.name}) names buffer {t.buffer} of {len(facts.buffer_spans)}"
    size = facts.buffer_spans[t.buffer][1]
    if size and size != t.nbytes:
        return f"tensor {t.index} ({t.name}) has {size} bytes of data for {t.elements} {t.dtype} values"
    return _check_quantization(t)


def _check_quantization(t: TensorFacts) -> Optional[str]:
    if not t.scales and not t.zero_points:
        return None
    if not all(math.isfinite(s) and s > 0 for s in t.scales):
        return f"tensor {t.index} ({t.name}) has a quantisation scale that is not a positive number"
    if t.zero_points and len(t.zero_points) != len(t.scales):
        return f"tensor {t.index} ({t.name}) has {len(t.scales)} scales and {len(t.zero_points)} zero points"
    if len(t.scales) > 1 and not (
        0 <= t.quantized_dimension < len(t.shape) and len(t.scales) == t.shape[t.quantized_dimension]
    ):
        return f"tensor {t.index} ({t.name}) has per-channel quantisation that does not fit its shape"
    low, high = ZERO_POINT_RANGE.get(t.dtype, (-(2**63), 2**63 - 1))
    if any(not low <= z <= high for z in t.zero_points):
        return f"tensor {t.index} ({t.name}) has a zero point outside the {t.dtype} range"
    return None


def _check_ops(facts: ModelFacts) -> Optional[str]:
    n = len(facts.tensors)
    for op in facts.ops:
        if op.code == CUSTOM or not 0 <= op.code < len(BUILTIN_OPS):
            return f"operator {op.name} is not a builtin this toolkit runs"
        if any(not -1 <= k < n for k in op.inputs + op.outputs):
            return f"operator {op.name} names a tensor outside the model"
    return _check_dataflow(facts) or _check_reshapes(facts)


def _check_dataflow(facts: ModelFacts) -> Optional[str]:
    """Every tensor an operator reads must hold data by then.

    That is the model's input, a constant, a variable, or an earlier
    operator's output. (Found by the fuzzer: one byte moved a weight tensor
    to an empty buffer; LiteRT allocated the model and then raised "Tensor
    data is null" / "Input tensor 2 lacks data" at the first inference.)
    """
    ready = set(facts.inputs)
    ready.update(t.index for t in facts.tensors if t.variable or facts.constant(t.index))
    for op in facts.ops:
        for k in op.inputs:
            if k >= 0 and k not in ready:
                t = facts.tensors[k]
                return (
                    f"operator {op.name} reads tensor {k} ({t.name}), which has no data:"
                    " not the input, a constant or an earlier operator's output"
                )
        ready.update(k for k in op.outputs if k >= 0)
    missing = [k for k in facts.outputs if 0 <= k < len(facts.tensors) and k not in ready]
    if missing:
        return f"the model's output tensor {missing[0]} is never written"
    return None


def _reshape_target(facts: ModelFacts, op: OpFacts) -> Optional[List[int]]:
    """The constant target shape of a RESHAPE, from its second input or its options."""
    if len(op.inputs) > 1 and op.inputs[1] >= 0 and facts.constant(op.inputs[1]):
        t = facts.tensors[op.inputs[1]]
        if t.dtype not in ("int32", "int64"):
            return None
        start, length = facts.buffer_spans[t.buffer]
        fmt = "i" if t.dtype == "int32" else "q"
        return [facts.reader.scalar(fmt, start + k * t.itemsize) for k in range(length // t.itemsize)]
    options = op.table.table(4) if op.table.scalar(3, "B") else None
    return options.vector(0, "i") if options else None


def _check_reshapes(facts: ModelFacts) -> Optional[str]:
    for op in facts.ops:
        if op.code != RESHAPE or not op.inputs or not op.outputs or op.inputs[0] < 0 or op.outputs[0] < 0:
            continue
        target = _reshape_target(facts, op)
        if not target:
            continue
        source, out = facts.tensors[op.inputs[0]], facts.tensors[op.outputs[0]]
        known = math.prod(d for d in target if d != -1)
        if target.count(-1) > 1 or any(d < -1 or d == 0 for d in target) or known > source.elements:
            return f"a RESHAPE asks for shape {target} from {source.elements} values"
        resolved = [source.elements // known if d == -1 else d for d in target]
        if math.prod(resolved) != source.elements or resolved != out.shape:
            return f"a RESHAPE asks for shape {target}, unlike its output {out.shape}"
    return None


def _check_io(facts: ModelFacts) -> Optional[str]:
    if len(facts.inputs) != 1 or len(facts.outputs) != 1:
        return f"expected one input and one output, got {len(facts.inputs)} and {len(facts.outputs)}"
    if not all(0 <= k < len(facts.tensors) for k in facts.inputs + facts.outputs):
        return "the model's input or output names a tensor outside it"
    inp, out = facts.tensors[facts.inputs[0]], facts.tensors[facts.outputs[0]]
    if inp.shape not in ACCEPTED_INPUT_SHAPES:
        return f"input shape {inp.shape} is not a 28x28 image (expected [1, 28, 28])"
    if out.shape != [1, 10]:
        return f"output shape {out.shape} is not 10 classes"
    return None


def validate(content: bytes, where: str) -> ModelFacts:
    """Checks a model's bytes; returns what was read.

    Args:
        content: the ``.tflite`` bytes.
        where: the file name, for messages.

    Returns:
        The :class:`ModelFacts`.

    Raises:
        RuntimeModelError: one line saying what is wrong.
    """
    try:
        facts = parse(content)
        problem = None
        for t in facts.tensors:
            problem = problem or _check_tensor(t, facts)
        problem = problem or _check_ops(facts) or _check_io(facts)
    except flatbuf.FlatBufferError as exc:
        raise RuntimeModelError(f"{where}: corrupt or truncated TFLite model ({exc})") from None
    except RuntimeModelError as exc:
        raise RuntimeModelError(f"{where}: invalid TFLite model ({exc})") from None
    if problem:
        raise RuntimeModelError(f"{where}: invalid TFLite model ({problem})")
    facts.total_bytes = sum(t.nbytes for t in facts.tensors)
    if facts.total_bytes > MAX_TOTAL_BYTES:
        raise RuntimeModelError(
            f"{where}: invalid TFLite model (its tensors need "
            f"{facts.total_bytes >> 20} MB, more than {MAX_TOTAL_BYTES >> 20} MB)"
        )
    return facts

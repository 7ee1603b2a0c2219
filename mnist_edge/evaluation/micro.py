"""The microcontroller target: checking an int8 model with the real TensorFlow Lite Micro kernels.

``mnist-edge micro MODEL.tflite`` (the device side's install plus the ``micro``
extra, no TensorFlow) and ``export --micro`` run the model through the ``tflite-micro`` package (the
TFLM interpreter compiled for the host): it must load (every operator
supported), it labels the 10,000 test images like LiteRT does, and TFLM's own
recording allocator says exactly how large the tensor arena must be. The
result, ``NAME.micro.json``, gives ``arena_bytes``, ``model_bytes``, the
operators, the agreement with LiteRT, and whether it fits common boards.

numpy and tflite-micro only (no TensorFlow).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from mnist_edge.errors import MissingExtraError, MnistEdgeError
from mnist_edge.evaluation import macs
from mnist_edge.runtime import Predictor
from mnist_edge.runtime.backends import dist_version

# Flash the application and the TFLM library itself take beside the model
# (the interpreter, the op resolver and these kernels): a reserve, not a
# measurement, stated in the fit table.
FLASH_RESERVE = 96 * 1024
# RAM for the stack, the interpreter object and the application beside the arena.
RAM_RESERVE = 16 * 1024
BOARDS = (
    {"name": "Cortex-M4, 256 KB flash / 64 KB RAM (e.g. STM32L432)", "flash": 256 * 1024, "ram": 64 * 1024},
    {
        "name": "Cortex-M4F, 1 MB flash / 256 KB RAM (Arduino Nano 33 BLE)",
        "flash": 1024 * 1024,
        "ram": 256 * 1024,
    },
    {"name": "RP2040, 2 MB flash / 264 KB RAM (Raspberry Pi Pico)", "flash": 2048 * 1024, "ram": 264 * 1024},
    {"name": "ESP32-S3, 8 MB flash / 512 KB RAM", "flash": 8192 * 1024, "ram": 512 * 1024},
)
ARENA_LIMIT = 8 << 20  # the arena TFLM may try while recording (a 28x28 model needs far less)


class MicroError(MnistEdgeError):
    """TensorFlow Lite Micro cannot run this model."""


def require_micro(command: str) -> None:
    """Raises :class:`MissingExtraError` when tflite-micro is missing (checked before any work).

    Args:
        command: what needs it, e.g. ``"search --max-arena-kb"``.
    """
    import importlib.util

    if importlib.util.find_spec("tflite_micro") is None:
        raise _micro_missing(command)


def _micro_missing(command: str) -> MissingExtraError:
    return MissingExtraError(
        f"{command} needs TensorFlow Lite Micro; install it with: "
        'pip install "mnist-edge[micro]" (or pip install tflite-micro)'
    )


def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        raise _micro_missing("export --micro") from None
    return runtime


@contextlib.contextmanager
def _captured_stderr():
    """Collects what C++ writes to file descriptor 2 (TFLM prints its allocations there)."""
    captured = {"text": ""}
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured["text"] = sink.read().decode("utf-8", "replace")


def load(content: bytes, arena: int, where: str):
    """A TFLM interpreter on model bytes with the given arena.

    Raises:
        MicroError: TFLM cannot build it (an operator it lacks, too small an arena ...).
    """
    return _interpreter(content, arena, where)


def _interpreter(content: bytes, arena: int, where: str):
    runtime = _runtime()
    try:
        with _captured_stderr() as log:
            interpreter = runtime.Interpreter.from_bytes(content, arena_size=arena)
    except (RuntimeError, ValueError) as exc:
        reason = _first_problem(log["text"]) or str(exc).splitlines()[0][:160]
        raise MicroError(f"{where}: TensorFlow Lite Micro cannot run this model ({reason})") from None
    return interpreter


def _first_problem(log: str) -> Optional[str]:
    for line in log.splitlines():
        if any(word in line for word in ("Didn't find op", "not supported", "Failed", "failed")):
            return line.strip()[:200]
    return None


def arena_bytes(interpreter) -> int:
    """The arena TFLM's recording allocator used (call after one invoke)."""
    with _captured_stderr() as log:
        interpreter.print_allocations()
    match = re.search(r"Arena allocation total (\d+) bytes", log["text"])
    if not match:
        raise MicroError("TensorFlow Lite Micro did not report its arena use")
    return int(match.group(1))


def measure_arena(content: bytes, first_input: np.ndarray, where: str) -> int:
    """The tensor arena TFLM needs for a model (any input type it runs), from one recorded invoke.

    Args:
        content: the model bytes.
        first_input: one input batch, already in the model's input type and scale.
        where: names the model in an error.

    Raises:
        MicroError: TFLM cannot load or run it.
    """
    interpreter = _interpreter(content, ARENA_LIMIT, where)
    try:
        interpreter.set_input(first_input, 0)
        with _captured_stderr() as log:
            interpreter.invoke()
    except (RuntimeError, ValueError) as exc:
        reason = _first_problem(log["text"]) or str(exc).splitlines()[0][:160]
        raise MicroError(f"{where}: TensorFlow Lite Micro cannot run this model ({reason})") from None
    return arena_bytes(interpreter)


def _labels(interpreter, inputs: np.ndarray) -> np.ndarray:
    out = np.empty(len(inputs), np.int64)
    for k in range(len(inputs)):
        interpreter.set_input(inputs[k : k + 1], 0)
        interpreter.invoke()
        out[k] = int(np.argmax(interpreter.get_output(0)))
    return out


def fit_table(model_bytes: int, arena: int) -> List[Dict]:
    """For each board in :data:`BOARDS`: fits or not, and the headroom left."""
    rows = []
    for board in BOARDS:
        flash_left = board["flash"] - model_bytes - FLASH_RESERVE
        ram_left = board["ram"] - arena - RAM_RESERVE
        rows.append(
            {
                "board": board["name"],
                "flash_bytes": board["flash"],
                "ram_bytes": board["ram"],
                "flash_headroom_bytes": flash_left,
                "ram_headroom_bytes": ram_left,
                "fits": flash_left >= 0 and ram_left >= 0,
            }
        )
    return rows


def check(model_path, x_test: np.ndarray, litert_labels: Optional[np.ndarray] = None) -> dict:
    """Runs a full-int8 model with TFLM and measures what a microcontroller needs.

    Args:
        model_path: the ``.tflite`` (int8 input and output).
        x_test: uint8 test images to compare labels on.
        litert_labels: LiteRT's labels on them (computed here when None).

    Returns:
        The ``NAME.micro.json`` document.

    Raises:
        MicroError: not full int8, or TFLM cannot load or run it.
        MissingExtraError: tflite-micro is not installed.
    """

    predictor = Predictor(model_path)
    where = str(model_path)
    if predictor.input_dtype.kind not in "iu" or "float32" in predictor.tensor_dtypes():
        raise MicroError(
            f"{where}: TensorFlow Lite Micro needs a full-int8 model (this one has "
            f"{predictor.input_dtype.name} input and computes in "
            f"{'float32' if 'float32' in predictor.tensor_dtypes() else 'int8'}); "
            "export it with --quantize int8"
        )
    content = predictor.content
    interpreter = _interpreter(content, ARENA_LIMIT, where)
    inputs = predictor.prepare(x_test)
    first = _labels(interpreter, inputs[:1])  # one invoke: the allocations are recorded
    arena = arena_bytes(interpreter)
    exact = _interpreter(content, arena, where)  # the reported arena really suffices
    labels = _labels(exact, inputs)
    if labels[0] != first[0]:
        raise MicroError(f"{where}: TensorFlow Lite Micro gave different answers with the exact arena")
    reference = litert_labels if litert_labels is not None else predictor.probabilities(x_test).argmax(1)

    return {
        "format": "mnist-edge/micro/1",
        "model": Path(model_path).name,
        "model_bytes": len(content),
        "arena_bytes": arena,
        "ops": sorted(set(predictor.facts.op_names)),
        "ops_in_order": predictor.facts.op_names,
        "tflm_supports_all_ops": True,
        "agreement_with_litert": float(np.mean(labels == reference)),
        "disagreements_with_litert": int(np.sum(labels != reference)),
        "n": int(len(labels)),
        "boards": fit_table(len(content), arena),
        "multiply_adds": macs.multiply_adds(predictor.facts),
        "cortex_m_estimate": macs.cortex_m_estimate(macs.multiply_adds(predictor.facts)),
        "cortex_m_estimate_source": macs.SOURCE,
        "reserve_note": f"fit assumes {FLASH_RESERVE // 1024} KB flash for TFLM and the application and "
        f"{RAM_RESERVE // 1024} KB RAM beside the arena",
        "tflite_micro_version": _tflm_version(),
    }


def _tflm_version() -> str:
    import tflite_micro

    return dist_version("tflite-micro", tflite_micro.__file__)


def format_fit(result: dict) -> str:
    """The fit table ``micro`` and ``export --micro`` print."""
    lines = [
        f"TensorFlow Lite Micro: {result['model']}  model {result['model_bytes'] / 1024:.1f} KB  "
        f"arena {result['arena_bytes'] / 1024:.1f} KB  agreement with LiteRT "
        f"{result['agreement_with_litert']:.4f} on {result['n']} images",
        f"ops: {', '.join(result['ops'])} (all supported by TFLM)",
        f"{'board':<58}{'fits':>6}{'flash left KB':>15}{'RAM left KB':>13}",
    ]
    for row in result["boards"]:
        lines.append(
            f"{row['board']:<58}{'yes' if row['fits'] else 'NO':>6}"
            f"{row['flash_headroom_bytes'] / 1024:15.1f}{row['ram_headroom_bytes'] / 1024:13.1f}"
        )
    lines.append(result["reserve_note"])
    if "cortex_m_estimate" in result:
        times = ", ".join(f"{e['core']} ~{e['estimated_ms']:g} ms" for e in result["cortex_m_estimate"])
        lines.append(f"{result['multiply_adds'] / 1e6:.2f} M multiply-adds: {times}")
        lines.append(f"({result['cortex_m_estimate_source']})")
    return "\n".join(lines)

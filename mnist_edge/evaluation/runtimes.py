"""The same ``.tflite`` on every interpreter here: do they give the same answer? (``eval --across-runtimes``)

Users of int8 models meet kernels that disagree: XNNPACK's, TFLite's
optimised built-ins, the reference kernels, TensorFlow Lite Micro's (what a
microcontroller runs). This runs one model on each interpreter available
here, image by image, on the same input tensors, and compares every pair:

* top-1 agreement;
* the largest output difference, in output steps for an integer output
  (one step is one quantum: 1/256 of probability for this project's
  exports), in probability for a float output;
* how many images differ at all, and which change label (with both labels).

Interpreters (each where installed; the device side's imports only, no TensorFlow):

* ``litert-xnnpack``: LiteRT as ``predict`` runs it (XNNPACK delegate);
* ``litert-builtin``: LiteRT's optimised built-in kernels, no delegate;
* ``litert-reference``: LiteRT's reference kernels (``OpResolverType.BUILTIN_REF``);
* ``tflite-runtime``: the standalone tflite-runtime wheel (XNNPACK);
* ``tflm``: TensorFlow Lite Micro's kernels on the host (``tflite-micro``,
  full-int8 models only);
* ``onnxruntime``: ONNX Runtime on the model converted by tf2onnx
  (``from_tflite``: int8 becomes QuantizeLinear/DequantizeLinear around
  float ops), where the peers benchmark's tools are installed (the dev
  extra). tf2onnx imports TensorFlow, so it converts in a subprocess: this
  process never imports it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import itertools
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from mnist_edge.runtime import Predictor, backends


@dataclasses.dataclass
class Engine:
    """One interpreter, ready to run one input tensor at a time."""

    name: str
    version: str
    run: Callable[[np.ndarray], np.ndarray]  # one input tensor (1, ...) -> raw output (10,)


def _tflite_engine(name: str, runtime: str, content: bytes, resolver: Optional[str]) -> Optional[Engine]:
    try:
        interpreter_class, _, version = backends.load_interpreter_class(runtime)
    except Exception:  # not installed: that interpreter is not here
        return None
    kwargs = {"model_content": content}
    if resolver is not None:
        if runtime == "litert":
            from ai_edge_litert.interpreter import OpResolverType
        else:
            from tflite_runtime.interpreter import OpResolverType
        kwargs["experimental_op_resolver_type"] = getattr(OpResolverType, resolver)
    with backends.quiet_native_stderr():
        interpreter = interpreter_class(**kwargs)
        interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]

    def run(x: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(inp, x)
        interpreter.invoke()
        return interpreter.get_tensor(out)[0].copy()

    return Engine(name, version, run)


def _tflm_engine(predictor: Predictor) -> Optional[Engine]:
    if predictor.input_dtype.kind not in "iu" or "float32" in predictor.tensor_dtypes():
        return None  # TFLM runs full-int8 models
    try:
        from mnist_edge.evaluation import micro

        probe = micro.load(predictor.content, micro.ARENA_LIMIT, str(predictor.model_path))
    except Exception:  # tflite-micro missing, or it cannot run this model
        return None

    def run(x: np.ndarray) -> np.ndarray:
        probe.set_input(x, 0)
        probe.invoke()
        return np.asarray(probe.get_output(0))[0].copy()

    return Engine("tflm", micro._tflm_version(), run)


def _onnx_engine(predictor: Predictor) -> Optional[Engine]:
    if importlib.util.find_spec("tf2onnx") is None or importlib.util.find_spec("onnxruntime") is None:
        return None  # the peer tools are not installed here
    import onnxruntime

    # tf2onnx imports TensorFlow: it converts in a process of its own, so this
    # one stays on the device side's numpy + Pillow + interpreters.
    with tempfile.TemporaryDirectory(prefix="mnist-edge-onnx-") as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tf2onnx.convert",
                "--tflite",
                str(predictor.model_path),
                "--output",
                str(onnx_path),
            ],
            capture_output=True,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        )
        if done.returncode != 0 or not onnx_path.is_file():
            return None  # an op tf2onnx cannot take: not comparable there
        try:
            session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        except Exception:  # an op ONNX Runtime cannot run
            return None
    name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {name: x})[0])[0].copy()

    return Engine(
        "onnxruntime", f"{onnxruntime.__version__} (tf2onnx {backends.dist_version('tf2onnx')})", run
    )


def engines(predictor: Predictor) -> List[Engine]:
    """Every interpreter available here that runs the model (LiteRT first)."""
    content = predictor.content
    found = [
        _tflite_engine("litert-xnnpack", "litert", content, None),
        _tflite_engine("litert-builtin", "litert", content, "BUILTIN_WITHOUT_DEFAULT_DELEGATES"),
        _tflite_engine("litert-reference", "litert", content, "BUILTIN_REF"),
        _tflite_engine("tflite-runtime", "tflite-runtime", content, None),
        _tflm_engine(predictor),
        _onnx_engine(predictor),
    ]
    return [e for e in found if e is not None]


def raw_outputs(engine: Engine, inputs: np.ndarray) -> np.ndarray:
    """The engine's raw output for each input tensor, image by image."""
    return np.stack([engine.run(inputs[k : k + 1]) for k in range(len(inputs))])


def compare(outputs: Dict[str, np.ndarray], integer_output: bool) -> List[dict]:
    """Every pair of engines: agreement, largest difference, images that differ, label changes."""
    rows = []
    for a, b in itertools.combinations(outputs, 2):
        x, y = outputs[a].astype(np.float64), outputs[b].astype(np.float64)
        diff = np.abs(x - y).max(axis=1)
        la, lb = x.argmax(axis=1), y.argmax(axis=1)
        changed = np.flatnonzero(la != lb)
        rows.append(
            {
                "pair": [a, b],
                "top1_agreement": float(np.mean(la == lb)),
                "max_difference": float(diff.max()) if len(diff) else 0.0,
                "difference_unit": "output steps" if integer_output else "probability",
                "images_differing": int(np.sum(diff > 0)),
                "label_changes": [{"index": int(k), a: int(la[k]), b: int(lb[k])} for k in changed],
            }
        )
    return rows


def across_runtimes(model_path, images: np.ndarray, names: Optional[List[str]] = None) -> dict:
    """Runs the model on every interpreter here and compares them pairwise.

    Args:
        model_path: the ``.tflite``.
        images: uint8 pixel arrays (N, 28, 28): MNIST test digits, or the
            user's images in MNIST form.
        names: what each image is (file names), for the report; None: indices.

    Returns:
        The JSON-ready report: engines (name, version), n, pairs.
    """
    predictor = Predictor(model_path, untrusted=True)
    inputs = predictor.prepare(images)
    found = engines(predictor)
    outputs = {e.name: raw_outputs(e, inputs) for e in found}
    integer = np.issubdtype(next(iter(outputs.values())).dtype, np.integer)
    pairs = compare(outputs, integer)
    for row in pairs:
        for change in row["label_changes"]:
            change["image"] = names[change["index"]] if names else change["index"]
    return {
        "model": str(model_path),
        "n": int(len(inputs)),
        "engines": [{"name": e.name, "version": e.version} for e in found],
        "pairs": pairs,
        "disagreements": disagreements(outputs, names),
    }


def disagreements(outputs: Dict[str, np.ndarray], names: Optional[List[str]] = None) -> List[dict]:
    """Every image some interpreters label differently, with each interpreter's label."""
    labels = {name: out.argmax(axis=1) for name, out in outputs.items()}
    stacked = np.stack(list(labels.values()))
    split = np.flatnonzero((stacked != stacked[0]).any(axis=0))
    return [
        {
            "index": int(k),
            "image": names[k] if names else int(k),
            "labels": {name: int(values[k]) for name, values in labels.items()},
        }
        for k in split
    ]


def disagreement_gallery(images: np.ndarray, report: dict, limit: int = 48) -> Optional[bytes]:
    """A PNG of the images interpreters label differently: the 28x28 each saw, every interpreter's label.

    Drawn with Pillow (the device side has no matplotlib). None when they all agree.
    """
    from PIL import Image, ImageDraw

    rows = report["disagreements"][:limit]
    if not rows:
        return None
    engines_here = [e["name"] for e in report["engines"]]
    cell, cols, text = 112, min(6, len(rows)), 12 * len(engines_here) + 14
    sheet = Image.new("L", (cols * cell, -(-len(rows) // cols) * (cell + text)), 255)
    draw = ImageDraw.Draw(sheet)
    for k, row in enumerate(rows):
        x, y = (k % cols) * cell, (k // cols) * (cell + text)
        digit = Image.fromarray(np.asarray(images[row["index"]], np.uint8)).resize(
            (cell - 16, cell - 16), Image.NEAREST
        )
        sheet.paste(digit, (x + 8, y + 8))
        draw.text((x + 4, y + cell - 6), str(row["image"])[-18:], fill=0)
        for j, name in enumerate(engines_here):
            draw.text((x + 4, y + cell + 6 + 12 * j), f"{name[:14]}: {row['labels'][name]}", fill=0)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def format_report(report: dict) -> str:
    """The table ``eval --across-runtimes`` prints."""
    engines_line = ", ".join(f"{e['name']} {e['version']}" for e in report["engines"])
    lines = [
        f"{report['n']} images on {len(report['engines'])} interpreters: {engines_line}",
        f"{'pair':<38}{'top-1 agree':>12}{'max difference':>16}{'images differ':>15}  label changes",
    ]
    for row in report["pairs"]:
        unit = "steps" if row["difference_unit"] == "output steps" else "prob."
        changes = ", ".join(
            f"{c['image']}: {c[row['pair'][0]]}/{c[row['pair'][1]]}" for c in row["label_changes"][:5]
        )
        more = len(row["label_changes"]) - 5
        changes += f" (+{more} more)" if more > 0 else ""
        lines.append(
            f"{' vs '.join(row['pair']):<38}{row['top1_agreement']:12.4f}"
            f"{row['max_difference']:>10.4g} {unit:<5}{row['images_differing']:>15}  {changes or '-'}"
        )
    return "\n".join(lines)

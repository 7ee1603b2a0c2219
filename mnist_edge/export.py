"""Export a Keras model to TensorFlow Lite, calibrated and gated on parity.

Formats:

* ``none`` (float32, no optimisation), ``float16`` (float16 weights),
  ``dynamic`` (int8 weights, float activations);
* ``int8``: full integer, ``TFLITE_BUILTINS_INT8`` only, int8 (default),
  uint8 or float input/output, calibrated on a class-balanced,
  deterministic sample of *training* images preprocessed exactly as at
  inference (float32 pixels / 255).

The graph is traced from a function with input ``[None, 28, 28]`` whose
Flatten/Reshape layers become a plain ``reshape(-1, ...)``: the file has a
static batch-1 input (RESHAPE -> FC -> FC -> SOFTMAX for the MLP, no
SHAPE/STRIDED_SLICE/PACK) and still resizes to any batch.

Each file is written to a staging name, run on the full test set with the
same :class:`mnist_edge.runtime.Predictor` a device uses, compared with Keras,
and only renamed into place when it passes the gate (or ``keep_failed``).
A sidecar ``<stem>.json`` records what a device needs (see
:func:`build_metadata`).
"""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import numpy as np

from mnist_edge import data as data_mod
from mnist_edge import fsutil, runtime
from mnist_edge.reporting import library_versions, save_figure
from mnist_edge.train import load_metadata

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
IO_TYPES = ("int8", "uint8", "float")
FORMAT_NAMES = {"none": "float32", "float16": "float16", "dynamic": "dynamic", "int8": "int8"}
DEFAULT_GATE = {"max_drop_pp": 0.5, "min_agreement": 0.99}


def artifact_name(stem: str, quantization: str, io_type: str = "int8") -> str:
    """The file name for an export, e.g. ``mnist_mlp_int8.tflite``."""
    name = f"{stem}_{FORMAT_NAMES[quantization]}"
    if quantization == "int8" and io_type != "int8":
        name += f"_{io_type}io"
    return name + ".tflite"


def frozen_forward(model):
    """Traces ``model`` into a frozen concrete function with a dynamic batch.

    Flatten and Reshape layers become ``tf.reshape(x, [-1, ...])`` so the
    converter sees a static per-image shape and no shape arithmetic; Dropout
    is dropped (it is the identity at inference).

    Args:
        model: a Keras Sequential model taking (N, 28, 28).

    Returns:
        A concrete function with all variables folded into constants.
    """
    from mnist_edge._tf import import_tf

    tf = import_tf()
    import keras
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]

    def forward(x):
        h = x
        for layer in layers:
            if isinstance(layer, keras.layers.Flatten):
                h = tf.reshape(h, [-1, int(np.prod(h.shape[1:]))])
            elif isinstance(layer, keras.layers.Reshape):
                h = tf.reshape(h, [-1] + [int(d) for d in layer.target_shape])
            elif isinstance(layer, keras.layers.Dropout):
                continue
            else:
                h = layer(h, training=False)
        return h

    spec = tf.TensorSpec([None, 28, 28], tf.float32, name="image")
    concrete = tf.function(forward, input_signature=[spec]).get_concrete_function()
    # Keras 3 variables stay READ_VARIABLE ops unless folded, which the
    # int8 calibrator cannot run.
    return convert_variables_to_constants_v2(concrete)


def representative_images(dataset: "data_mod.Dataset", samples: int, seed: int) -> np.ndarray:
    """Calibration images: a class-balanced, seeded sample of training images.

    Preprocessed exactly as at inference: float32 pixels / 255.

    Args:
        dataset: the training data.
        samples: how many images.
        seed: the sampling seed.

    Returns:
        ``(samples, 28, 28)`` float32 in [0, 1].
    """
    idx = data_mod.balanced_sample(dataset.y_train, samples, seed)
    return data_mod.normalize(dataset.x_train[idx])


def make_converter(concrete, quantization: str, io_type: str = "int8",
                   calibration: Optional[np.ndarray] = None):
    """Configures a TFLiteConverter for one format.

    Args:
        concrete: the frozen concrete function from :func:`frozen_forward`.
        quantization: one of :data:`QUANTIZATIONS`.
        io_type: for int8, the input/output type: int8, uint8 or float.
        calibration: float32 images for the int8 representative dataset.

    Returns:
        The configured converter.
    """
    from mnist_edge._tf import import_tf

    tf = import_tf()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    if quantization == "none":
        return converter
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        if calibration is None or len(calibration) == 0:
            raise ValueError("int8 export needs calibration images")
        images = np.asarray(calibration, dtype=np.float32)

        def representative():
            for i in range(len(images)):
                yield [images[i:i + 1]]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_dtype = {"int8": tf.int8, "uint8": tf.uint8, "float": tf.float32}[io_type]
        converter.inference_input_type = io_dtype
        converter.inference_output_type = io_dtype
    return converter


def convert(converter) -> bytes:
    """Runs a converter with the C++ calibration chatter silenced."""
    with runtime.quiet_native_stderr():
        return converter.convert()


def parity(predictor: "runtime.Predictor", keras_probs: np.ndarray, x_test_u8: np.ndarray,
           y_test: np.ndarray) -> dict:
    """Compares a TFLite file with the Keras model on the whole test set.

    The TFLite side runs through :class:`mnist_edge.runtime.Predictor`, the
    same code (and quantisation) a device uses, fed uint8 pixels.

    Args:
        predictor: a Predictor on the file to check.
        keras_probs: ``(n, 10)`` Keras probabilities on the test set.
        x_test_u8: the test images, uint8.
        y_test: the test labels.

    Returns:
        accuracy, keras_accuracy, accuracy_drop_pp, agreement, max_abs_diff,
        mean_abs_diff, n, predict_seconds.
    """
    started = time.perf_counter()
    probs = predictor.probabilities(x_test_u8)
    seconds = time.perf_counter() - started
    pred, ref = probs.argmax(1), keras_probs.argmax(1)
    diff = np.abs(probs.astype(np.float64) - keras_probs.astype(np.float64))
    accuracy = float(np.mean(pred == y_test))
    keras_accuracy = float(np.mean(ref == y_test))
    return {
        "n": int(len(y_test)),
        "accuracy": accuracy,
        "keras_accuracy": keras_accuracy,
        "accuracy_drop_pp": round((keras_accuracy - accuracy) * 100, 4),
        "agreement": float(np.mean(pred == ref)),
        "disagreements": int(np.sum(pred != ref)),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "predict_seconds": round(seconds, 4),
    }


def gate(quantization: str, stats: dict, max_drop_pp: float, min_agreement: float) -> List[str]:
    """Checks parity figures; returns the reasons for failing (empty = pass).

    float32 must agree with Keras on every image. The quantised formats may
    lose at most ``max_drop_pp`` accuracy points and must agree on at least
    ``min_agreement`` of the images.
    """
    reasons = []
    if quantization == "none":
        if stats["agreement"] < 1.0:
            reasons.append(f"float32 disagrees with Keras on {stats['disagreements']} images")
        return reasons
    if stats["accuracy_drop_pp"] > max_drop_pp:
        reasons.append(f"accuracy drop {stats['accuracy_drop_pp']:.2f} pp > {max_drop_pp} pp")
    if stats["agreement"] < min_agreement:
        reasons.append(f"agreement {stats['agreement']:.4f} < {min_agreement}")
    return reasons


def build_metadata(tflite_bytes: bytes, predictor: "runtime.Predictor", quantization: str,
                   io_type: Optional[str], source: dict, calibration: Optional[dict],
                   stats: dict, gate_info: dict, abstain: Optional[dict] = None) -> dict:
    """The sidecar document a device reads (``<stem>.json``).

    Args:
        tflite_bytes: the model file's bytes.
        predictor: a Predictor on the file (for tensor facts).
        quantization: the format.
        io_type: int8 I/O type or None.
        source: source model facts (path, sha256, dataset).
        calibration: calibration facts or None.
        stats: the parity figures.
        gate_info: thresholds and the pass/fail verdict.
        abstain: the calibrated "not a digit" threshold from training, if any.

    Returns:
        The JSON-ready metadata.
    """
    import hashlib

    info = predictor.describe()
    return {
        "format": runtime.METADATA_FORMAT,
        "labels": [str(i) for i in range(10)],
        "tflite_sha256": hashlib.sha256(tflite_bytes).hexdigest(),
        "size_bytes": len(tflite_bytes),
        "quantization": quantization,
        "format_name": FORMAT_NAMES[quantization],
        "io_type": io_type,
        "input": {
            "shape": [1, 28, 28],
            "shape_signature": [-1, 28, 28],
            "layout": "white digit on black, 28x28, MNIST-centred",
            "normalization": {"scale": 1.0 / 255.0, "offset": 0.0,
                              "formula": "value = pixel * scale + offset, pixel in 0..255"},
            "dtype": info["input_dtype"],
            "quantization": info["input_quantization"],
        },
        "output": {
            "shape": [1, 10],
            "kind": "probabilities (softmax)",
            "dtype": info["output_dtype"],
            "quantization": info["output_quantization"],
        },
        "source_model": source,
        "calibration": calibration,
        "parity": dict(stats, **gate_info),
        "abstain": abstain,
        "exported_unix": int(time.time()),
        "versions": library_versions(),
    }


def write_c_array(tflite_bytes: bytes, out_dir: Path, stem: str) -> List[Path]:
    """Writes a C source/header pair for TensorFlow Lite Micro targets.

    The array is ``alignas(16) const unsigned char`` (TFLM needs aligned
    model data) with a ``const unsigned int`` length beside it.

    Args:
        tflite_bytes: the model.
        out_dir: destination folder.
        stem: file stem and symbol base, e.g. ``mnist_mlp_int8``.

    Returns:
        The header and source paths.
    """
    symbol = "g_" + "".join(c if c.isalnum() else "_" for c in stem) + "_model"
    guard = symbol.upper() + "_H_"
    header = (
        f"// {stem}.h: generated by mnist-edge export --c-array. Do not edit.\n"
        f"#ifndef {guard}\n#define {guard}\n\n"
        f"extern const unsigned char {symbol}[];\n"
        f"extern const unsigned int {symbol}_len;\n\n#endif  // {guard}\n"
    )
    lines = []
    for start in range(0, len(tflite_bytes), 12):
        chunk = tflite_bytes[start:start + 12]
        lines.append("  " + ", ".join(f"0x{b:02x}" for b in chunk) + ",")
    source = (
        f"// {stem}.cc: generated by mnist-edge export --c-array. Do not edit.\n"
        f"#include \"{stem}.h\"\n\n"
        f"// TensorFlow Lite Micro reads the model in place: keep it 16-byte aligned.\n"
        f"alignas(16) const unsigned char {symbol}[] = {{\n" + "\n".join(lines) + "\n};\n"
        f"const unsigned int {symbol}_len = {len(tflite_bytes)};\n"
    )
    h_path = fsutil.write_bytes_atomic(out_dir / f"{stem}.h", header.encode())
    cc_path = fsutil.write_bytes_atomic(out_dir / f"{stem}.cc", source.encode())
    return [h_path, cc_path]


def quantization_debug_report(concrete, calibration: np.ndarray, out_dir: Path,
                              stem: str) -> List[Path]:
    """Per-layer int8 error report via ``tf.lite.experimental.QuantizationDebugger``.

    Writes ``<stem>_debug.csv`` (one row per quantised tensor: op, tensor,
    scale, zero point, RMSE, max abs error, RMSE/scale) and ``<stem>_debug.png``
    (RMSE / scale per layer: values well above ~0.3 mean the layer loses more
    than rounding alone would).

    Args:
        concrete: the frozen concrete function.
        calibration: the calibration images (also the debug dataset).
        out_dir: destination folder.
        stem: file stem.

    Returns:
        The CSV and PNG paths.
    """
    from mnist_edge._tf import import_tf

    tf = import_tf()
    # The debugger needs float I/O around the int8 core to compare with float.
    converter = make_converter(concrete, "int8", "float", calibration)
    images = np.asarray(calibration, dtype=np.float32)

    def dataset():
        for i in range(len(images)):
            yield [images[i:i + 1]]

    with runtime.quiet_native_stderr():
        debugger = tf.lite.experimental.QuantizationDebugger(converter=converter,
                                                             debug_dataset=dataset)
        debugger.run()
    buffer = io.StringIO()
    debugger.layer_statistics_dump(buffer)
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    for row in rows:
        scale = float(row.get("scale") or 0) or float("nan")
        rmse = float(row.get("mean_squared_error") or 0) ** 0.5
        row["rmse"] = f"{rmse:.6g}"
        row["rmse_over_scale"] = f"{rmse / scale:.6g}"
    fields = list(rows[0].keys()) if rows else ["op_name", "tensor_name", "rmse", "rmse_over_scale"]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    csv_path = fsutil.write_bytes_atomic(out_dir / f"{stem}_debug.csv", text.getvalue().encode())

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"{r.get('op_name', '?')}\ntensor {r.get('tensor_idx', '?').split('.')[0]}" for r in rows]
    values = [float(r["rmse_over_scale"]) for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(rows)), 4.5))
    ax.bar(range(len(rows)), values, color="tab:orange")
    ax.axhline(1 / np.sqrt(12), color="grey", linestyle="--", label="pure rounding (1/sqrt(12))")
    ax.set_xticks(range(len(rows)), names, fontsize=7)
    ax.set_ylabel("RMSE / scale")
    ax.set_title(f"{stem}: int8 quantisation error per layer")
    ax.legend()
    return [csv_path, save_figure(fig, out_dir / f"{stem}_debug.png")]


def export(
    model_path: os.PathLike,
    out_dir: os.PathLike,
    quantizations: Sequence[str] = QUANTIZATIONS,
    io_type: str = "int8",
    dataset: Optional["data_mod.Dataset"] = None,
    calibration_samples: int = 500,
    seed: int = 0,
    max_drop_pp: float = DEFAULT_GATE["max_drop_pp"],
    min_agreement: float = DEFAULT_GATE["min_agreement"],
    keep_failed: bool = False,
    debug: bool = False,
    c_array: bool = False,
    calibration_images: Optional[np.ndarray] = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> dict:
    """Exports, checks and writes every requested format.

    Args:
        model_path: the ``.keras`` model.
        out_dir: the output folder.
        quantizations: formats from :data:`QUANTIZATIONS`.
        io_type: int8 input/output type (int8, uint8 or float).
        dataset: the data (test set for parity, training set for calibration).
        calibration_samples: representative images for int8.
        seed: the calibration sampling seed.
        max_drop_pp: gate: largest accuracy drop allowed for quantised formats.
        min_agreement: gate: smallest top-1 agreement allowed for them.
        keep_failed: keep files that fail the gate (marked failed).
        debug: also write the int8 per-layer error report.
        c_array: also write the int8 model as a C source/header pair.
        calibration_images: override the representative data (float32 as
            fed to the model); for experiments and tests.
        log: progress lines.

    Returns:
        ``{"model", "out_dir", "artifacts": [...], "passed", "seconds", ...}``.

    Raises:
        mnist_edge.keras_model.ModelError: bad model file.
        mnist_edge.fsutil.OutputError: unwritable output folder.
    """
    from mnist_edge import evaluate, keras_model

    started = time.perf_counter()
    out_dir = fsutil.ensure_writable_dir(out_dir)
    model_path = Path(model_path)
    model = keras_model.load_keras_model(model_path)
    dataset = dataset if dataset is not None else data_mod.load()
    source_sha = fsutil.sha256_file(model_path)
    stem = model_path.stem

    x_test01 = data_mod.normalize(dataset.x_test)
    keras_probs = evaluate.keras_probabilities(model, x_test01)
    concrete = frozen_forward(model)

    calibration = None
    if "int8" in quantizations:
        if calibration_images is None:
            calibration_images = representative_images(dataset, calibration_samples, seed)
        calibration = {
            "samples": int(len(calibration_images)),
            "seed": seed,
            "source": "training set, class-balanced",
            "preprocessing": "float32 pixels / 255 (as at inference)",
            "value_range": [float(np.min(calibration_images)), float(np.max(calibration_images))],
        }

    # The file's name, not the build machine's path to it (which means nothing on a device).
    source = {"name": model_path.name, "sha256": source_sha,
              "dataset": dataset.name, "dataset_md5": dataset.md5}
    abstain = (load_metadata(model_path) or {}).get("abstain")
    artifacts = []
    with fsutil.staging_dir(out_dir) as stage:
        for quant in quantizations:
            this_io = io_type if quant == "int8" else None
            name = artifact_name(stem, quant, io_type)
            t0 = time.perf_counter()
            converter = make_converter(concrete, quant, io_type,
                                       calibration_images if quant == "int8" else None)
            content = convert(converter)
            staged = stage / name
            staged.write_bytes(content)
            predictor = runtime.Predictor(staged)
            stats = parity(predictor, keras_probs, dataset.x_test, dataset.y_test)
            reasons = gate(quant, stats, max_drop_pp, min_agreement)
            passed = not reasons
            gate_info = {"passed": passed, "reasons": reasons,
                         "gate": ({"agreement": 1.0} if quant == "none" else
                                  {"max_drop_pp": max_drop_pp, "min_agreement": min_agreement})}
            meta = build_metadata(content, predictor, quant, this_io, source,
                                  calibration if quant == "int8" else None, stats, gate_info, abstain)
            final = out_dir / name
            kept = passed or keep_failed
            if kept:
                fsutil.write_json_atomic(stage / (Path(name).stem + ".json"), meta)
                fsutil.commit(staged, final)
                fsutil.commit(stage / (Path(name).stem + ".json"), runtime.metadata_path(final))
            else:
                staged.unlink()
            extras = []
            if quant == "int8" and kept and c_array:
                extras += write_c_array(content, out_dir, Path(name).stem)
            if quant == "int8" and debug:
                extras += quantization_debug_report(concrete, calibration_images, out_dir,
                                                    Path(name).stem)
            record = {
                "path": str(final) if kept else None,
                "name": name,
                "format": FORMAT_NAMES[quant],
                "quantization": quant,
                "io_dtype": meta["input"]["dtype"],
                "size_bytes": len(content),
                "accuracy": stats["accuracy"],
                "keras_accuracy": stats["keras_accuracy"],
                "accuracy_drop_pp": stats["accuracy_drop_pp"],
                "agreement": stats["agreement"],
                "max_abs_diff": stats["max_abs_diff"],
                "mean_abs_diff": stats["mean_abs_diff"],
                "passed": passed,
                "kept": kept,
                "reasons": reasons,
                "seconds": round(time.perf_counter() - t0, 3),
                "extra_files": [str(p) for p in extras],
            }
            artifacts.append(record)
            log(f"{name}: {'pass' if passed else 'FAIL'} "
                f"({len(content) / 1024:.1f} KB, accuracy {stats['accuracy']:.4f}, "
                f"agreement {stats['agreement']:.4f}){'' if passed else ' - ' + '; '.join(reasons)}")
    float_size = next((a["size_bytes"] for a in artifacts if a["quantization"] == "none"), None)
    for a in artifacts:
        a["size_ratio_vs_float32"] = round(a["size_bytes"] / float_size, 4) if float_size else None
    return {
        "model": str(model_path),
        "model_sha256": source_sha,
        "dataset": dataset.name,
        "out_dir": str(out_dir),
        "keras_accuracy": float(np.mean(keras_probs.argmax(1) == dataset.y_test)),
        "artifacts": artifacts,
        "passed": all(a["passed"] for a in artifacts),
        "seconds": round(time.perf_counter() - started, 3),
    }


def format_table(result: dict) -> str:
    """An Ultralytics-style table: format, size, accuracy, agreement, status."""
    header = f"{'format':<22}{'size KB':>9}{'x f32':>7}{'accuracy':>10}{'drop pp':>9}" \
             f"{'agreement':>11}{'max|dp|':>9}  status"
    lines = [f"Keras reference: {result['model']}  accuracy {result['keras_accuracy']:.4f}", header,
             "-" * len(header)]
    for a in result["artifacts"]:
        fmt = a["format"] + (f" ({a['io_dtype']} io)" if a["quantization"] == "int8" else "")
        ratio = f"{a['size_ratio_vs_float32']:.3f}" if a["size_ratio_vs_float32"] else "-"
        status = "pass" if a["passed"] else ("FAIL (kept)" if a["kept"] else "FAIL (removed)")
        lines.append(f"{fmt:<22}{a['size_bytes'] / 1024:9.1f}{ratio:>7}{a['accuracy']:10.4f}"
                     f"{a['accuracy_drop_pp']:9.2f}{a['agreement']:11.4f}{a['max_abs_diff']:9.4f}"
                     f"  {status}")
    lines.append(f"total {result['seconds']:.1f} s")
    return "\n".join(lines)

"""The export pipeline: convert, validate_model_outputs (the parity gate), write_artifacts.

See :mod:`mnist_edge.export` for the steps; :class:`~mnist_edge.export.config.ExportConfig` says what to do.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np

from mnist_edge import constants, fsutil
from mnist_edge import data as data_mod
from mnist_edge.evaluation import evaluate, micro, parity
from mnist_edge.export.artifacts import build_sidecar
from mnist_edge.export.c_array import write_c_array
from mnist_edge.export.config import ExportConfig
from mnist_edge.export.convert import (
    FORMAT_NAMES,
    artifact_name,
    frozen_forward,
    representative_images,
)
from mnist_edge.export.debug import quantization_debug_report
from mnist_edge.export.recipes import CALIBRATED, convert_recipe
from mnist_edge.runtime import Predictor, reference
from mnist_edge.runtime.sidecar import sidecar_path
from mnist_edge.training import keras_model
from mnist_edge.training.keras_model import load_metadata

DEFAULT_GATE = {
    "max_drop_pp": constants.DEFAULT_MAX_DROP_PP,
    "min_agreement": constants.DEFAULT_MIN_AGREEMENT,
}


@dataclasses.dataclass(frozen=True)
class GateFailure:
    """One reason a converted model fails the parity gate.

    Attributes:
        kind: ``float32_mismatch``, ``accuracy_drop``, ``agreement`` or ``micro_agreement``.
        message: the one-line explanation.
    """

    kind: str
    message: str

    def __str__(self) -> str:
        return self.message


def convert_model(
    concrete, quantization: str, io_type: str = "int8", calibration: Optional[np.ndarray] = None
) -> bytes:
    """Step 1: the TFLite bytes of one recipe (:func:`mnist_edge.export.recipes.convert_recipe`)."""
    return convert_recipe(concrete, quantization, io_type, calibration)[0]


def gate(quantization: str, stats: dict, max_drop_pp: float, min_agreement: float) -> List[GateFailure]:
    """The parity gate: float32 agrees on every image; quantised formats stay within bounds."""
    if quantization == "none":
        if stats["agreement"] < 1.0:
            return [
                GateFailure(
                    "float32_mismatch", f"float32 disagrees with Keras on {stats['disagreements']} images"
                )
            ]
        return []
    failures = []
    if stats["accuracy_drop_pp"] > max_drop_pp:
        failures.append(
            GateFailure(
                "accuracy_drop", f"accuracy drop {stats['accuracy_drop_pp']:.2f} pp > {max_drop_pp} pp"
            )
        )
    if stats["agreement"] < min_agreement:
        failures.append(GateFailure("agreement", f"agreement {stats['agreement']:.4f} < {min_agreement}"))
    return failures


def validate_model_outputs(
    predictor, keras_probs: np.ndarray, dataset, quantization: str, max_drop_pp: float, min_agreement: float
):
    """Step 2: parity with Keras on the whole test set, and the gate's verdict.

    Returns:
        ``(stats, failures)``: the :func:`mnist_edge.evaluation.parity.compare` figures
        (with ``keras_accuracy`` and ``predict_seconds``) and the gate failures.
    """
    started = time.perf_counter()
    probs = predictor.probabilities(dataset.x_test)
    stats = parity.compare(probs, keras_probs, dataset.y_test)
    stats["keras_accuracy"] = stats["reference_accuracy"]
    stats["predict_seconds"] = round(time.perf_counter() - started, 4)
    return stats, gate(quantization, stats, max_drop_pp, min_agreement)


def write_artifacts(
    stage: Path, out_dir: Path, name: str, content: bytes, sidecar: dict, keep: bool
) -> Optional[Path]:
    """Step 3: the model and its sidecar under their final names (or nothing when not kept)."""
    if not keep:
        return None
    staged = fsutil.write_bytes_atomic(stage / name, content)
    staged_json = fsutil.write_json_atomic(sidecar_path(staged), sidecar)
    final = out_dir / name
    fsutil.commit(staged, final)
    fsutil.commit(staged_json, sidecar_path(final))
    return final


@dataclasses.dataclass
class _Context:
    """What every format of one export shares."""

    config: ExportConfig
    concrete: object
    keras_probs: np.ndarray
    dataset: object
    out_dir: Path
    stem: str
    source: dict
    calibration_images: Optional[np.ndarray]
    calibration: Optional[dict]
    abstain: Optional[dict]
    reference: Optional[dict]


def _calibration_facts(images: np.ndarray, seed: int) -> dict:
    return {
        "samples": int(len(images)),
        "seed": seed,
        "source": "training set, class-balanced",
        "preprocessing": "float32 pixels / 255 (as at inference)",
        "value_range": [float(np.min(images)), float(np.max(images))],
    }


def _write_reference(ctx: _Context, stage: Path, source_sha: str) -> dict:
    """One reference record per source model (all formats share it)."""
    content = reference.encode(ctx.keras_probs, source_sha, ctx.dataset.md5["test_images"])
    name = reference.record_name(ctx.stem)
    fsutil.commit(fsutil.write_bytes_atomic(stage / name, content), ctx.out_dir / name)
    import hashlib

    return {
        "file": name,
        "sha256": hashlib.sha256(content).hexdigest(),
        "n": int(len(ctx.keras_probs)),
        "source_sha256": source_sha,
        "test_images_md5": ctx.dataset.md5["test_images"],
    }


def _micro(final: Path, ctx: _Context, predictor, log):
    """The TFLM check of a written int8 model, and its ``NAME.micro.json``."""

    log(f"{final.name}: checking with TensorFlow Lite Micro on {len(ctx.dataset.x_test)} images")
    result = micro.check(final, ctx.dataset.x_test, predictor.probabilities(ctx.dataset.x_test).argmax(1))
    log(micro.format_fit(result))
    return result, fsutil.write_json_atomic(final.with_suffix(".micro.json"), result)


@dataclasses.dataclass
class _Outcome:
    """One format's conversion and check, before it becomes an artifact entry."""

    name: str
    quantization: str
    content: bytes
    stats: dict
    failures: List[GateFailure]
    final: Optional[Path]
    extras: List[Path]
    started: float

    @property
    def passed(self) -> bool:
        return not self.failures


def _extras(ctx: _Context, outcome: _Outcome, predictor, log) -> Optional[dict]:
    """The int8 extras the config asks for (C array, TFLM check, debug report); the TFLM result."""
    config, stem = ctx.config, Path(outcome.name).stem
    micro_result = None
    if outcome.final and (config.c_array or config.micro):
        outcome.extras += write_c_array(outcome.content, ctx.out_dir, stem)
    if outcome.final and config.micro:
        micro_result, micro_path = _micro(outcome.final, ctx, predictor, log)
        outcome.extras.append(micro_path)
    if config.debug:
        outcome.extras += quantization_debug_report(ctx.concrete, ctx.calibration_images, ctx.out_dir, stem)
    return micro_result


def _export_one(ctx: _Context, stage: Path, quant: str, log) -> dict:

    config, started = ctx.config, time.perf_counter()
    io_type = config.io_type
    name = artifact_name(ctx.stem, quant, io_type)
    content, recipe = convert_recipe(ctx.concrete, quant, io_type, ctx.calibration_images)
    if config.chosen_by is not None:
        recipe["chosen_by"] = config.chosen_by
    predictor = Predictor(fsutil.write_bytes_atomic(stage / f"probe-{name}", content))
    stats, failures = validate_model_outputs(
        predictor, ctx.keras_probs, ctx.dataset, quant, **config.gate_bounds
    )
    validation = dict(
        stats,
        passed=not failures,
        reasons=[str(f) for f in failures],
        gate={"agreement": 1.0} if quant == "none" else config.gate_bounds,
    )
    sidecar = build_sidecar(
        content,
        predictor,
        quant,
        io_type if quant == "int8" else None,
        ctx.source,
        ctx.calibration if quant in CALIBRATED else None,
        validation,
        ctx.abstain,
        ctx.reference,
        recipe,
    )
    final = write_artifacts(stage, ctx.out_dir, name, content, sidecar, not failures or config.keep_failed)
    outcome = _Outcome(name, quant, content, stats, failures, final, [], started)
    micro_result = _extras(ctx, outcome, predictor, log) if quant == "int8" else None
    if micro_result is not None:
        _gate_on_micro(outcome, micro_result, config)
    log(
        f"{name}: {'pass' if outcome.passed else 'FAIL'} ({len(content) / 1024:.1f} KB, accuracy "
        f"{stats['accuracy']:.4f}, agreement {stats['agreement']:.4f})"
        + ("" if outcome.passed else " - " + "; ".join(str(f) for f in failures))
    )
    entry = _artifact_entry(outcome, sidecar)
    if micro_result is not None:
        entry["micro"] = micro_result
    return entry


def _gate_on_micro(outcome: _Outcome, micro_result: dict, config: ExportConfig) -> None:
    """With --micro, TFLM's labels must agree with LiteRT's like any format with Keras (--min-agreement).

    A microcontroller runs TFLM's kernels, not LiteRT's: a model whose int8
    arithmetic rounds differently there fails here, and its files go unless
    ``keep_failed``.
    """
    agreement = micro_result["agreement_with_litert"]
    if agreement >= config.min_agreement:
        return
    outcome.failures.append(
        GateFailure("micro_agreement", f"TFLM agrees with LiteRT on {agreement:.4f} < {config.min_agreement}")
    )
    if not config.keep_failed and outcome.final is not None:
        for path in [outcome.final, sidecar_path(outcome.final), *outcome.extras]:
            Path(path).unlink(missing_ok=True)
        outcome.final, outcome.extras = None, []


def _artifact_entry(outcome: _Outcome, sidecar: dict) -> dict:
    stats = outcome.stats
    return {
        "path": str(outcome.final) if outcome.final else None,
        "name": outcome.name,
        "format": FORMAT_NAMES[outcome.quantization],
        "quantization": outcome.quantization,
        "io_dtype": sidecar["input"]["dtype"],
        "size_bytes": len(outcome.content),
        "accuracy": stats["accuracy"],
        "keras_accuracy": stats["keras_accuracy"],
        "accuracy_drop_pp": stats["accuracy_drop_pp"],
        "agreement": stats["agreement"],
        "max_abs_diff": stats["max_abs_diff"],
        "mean_abs_diff": stats["mean_abs_diff"],
        "passed": outcome.passed,
        "kept": outcome.final is not None,
        "reasons": [str(f) for f in outcome.failures],
        "failures": [dataclasses.asdict(f) for f in outcome.failures],
        "seconds": round(time.perf_counter() - outcome.started, 3),
        "extra_files": [str(p) for p in outcome.extras],
    }


def export(
    model_path: os.PathLike,
    out_dir: os.PathLike,
    config: ExportConfig = ExportConfig(),
    dataset: Optional[data_mod.Dataset] = None,
    calibration_images: Optional[np.ndarray] = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> dict:
    """Exports, checks and writes every format ``config`` asks for.

    Args:
        model_path: the ``.keras`` model.
        out_dir: the output folder.
        config: formats, calibration, the parity gate and the extras.
        dataset: the data (test set for parity, training set for calibration).
        calibration_images: override the representative data (float32 as
            fed to the model); for experiments and tests.
        log: progress lines.

    Returns:
        ``{"model", "out_dir", "artifacts": [...], "passed", "seconds", ...}``.

    Raises:
        ModelError: bad model file.
        OutputError: unwritable output folder.
    """

    started = time.perf_counter()
    out_dir = fsutil.ensure_writable_dir(out_dir)
    model_path = Path(model_path)
    model = keras_model.load_keras_model(model_path)
    dataset = dataset if dataset is not None else data_mod.load()
    source_sha = fsutil.sha256_file(model_path)
    if set(CALIBRATED) & set(config.quantizations) and calibration_images is None:
        calibration_images = representative_images(dataset, config.calibration_samples, config.seed)
    ctx = _Context(
        config=config,
        concrete=frozen_forward(model),
        keras_probs=evaluate.keras_probabilities(model, data_mod.normalize(dataset.x_test)),
        dataset=dataset,
        out_dir=out_dir,
        stem=model_path.stem,
        # The file's name, not the build machine's path to it (meaningless on a device).
        source={
            "name": model_path.name,
            "sha256": source_sha,
            "dataset": dataset.name,
            "dataset_md5": dataset.md5,
        },
        calibration_images=calibration_images,
        calibration=(
            _calibration_facts(calibration_images, config.seed) if calibration_images is not None else None
        ),
        abstain=(load_metadata(model_path) or {}).get("abstain"),
        reference=None,
    )
    with fsutil.staging_dir(out_dir) as stage:
        ctx.reference = _write_reference(ctx, stage, source_sha)
        artifacts = [_export_one(ctx, stage, quant, log) for quant in config.quantizations]
    float_size = next((a["size_bytes"] for a in artifacts if a["quantization"] == "none"), None)
    for a in artifacts:
        a["size_ratio_vs_float32"] = round(a["size_bytes"] / float_size, 4) if float_size else None
    return {
        "model": str(model_path),
        "model_sha256": source_sha,
        "dataset": dataset.name,
        "out_dir": str(out_dir),
        "reference": str(out_dir / ctx.reference["file"]),
        "keras_accuracy": float(np.mean(ctx.keras_probs.argmax(1) == dataset.y_test)),
        "artifacts": artifacts,
        "passed": all(a["passed"] for a in artifacts),
        "seconds": round(time.perf_counter() - started, 3),
    }


def format_table(result: dict) -> str:
    """An Ultralytics-style table: format, size, accuracy, agreement, status."""
    header = (
        f"{'format':<22}{'size KB':>9}{'x f32':>7}{'accuracy':>10}{'drop pp':>9}"
        f"{'agreement':>11}{'max|dp|':>9}  status"
    )
    lines = [
        f"Keras reference: {result['model']}  accuracy {result['keras_accuracy']:.4f}",
        header,
        "-" * len(header),
    ]
    for a in result["artifacts"]:
        fmt = a["format"] + (f" ({a['io_dtype']} io)" if a["quantization"] == "int8" else "")
        ratio = f"{a['size_ratio_vs_float32']:.3f}" if a["size_ratio_vs_float32"] else "-"
        status = "pass" if a["passed"] else ("FAIL (kept)" if a["kept"] else "FAIL (removed)")
        lines.append(
            f"{fmt:<22}{a['size_bytes'] / 1024:9.1f}{ratio:>7}{a['accuracy']:10.4f}"
            f"{a['accuracy_drop_pp']:9.2f}{a['agreement']:11.4f}{a['max_abs_diff']:9.4f}"
            f"  {status}"
        )
    lines.append(f"total {result['seconds']:.1f} s")
    return "\n".join(lines)

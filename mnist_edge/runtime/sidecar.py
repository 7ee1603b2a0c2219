"""The sidecar ``<stem>.json`` that ``mnist-edge export`` writes beside a model, validated.

The sidecar tells a device what the tensors cannot: the class labels, the
input normalisation, the calibrated "not a digit" threshold, and the parity
figures measured at export. It is user-editable text, so nothing in it is
trusted blindly: its schema is checked, it must name the model file's own
SHA-256, and the quantisation it records must be the model's own (the
predictor always takes scale and zero point from the tensors themselves).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Optional, Tuple

from mnist_edge.constants import IO_TYPES, RECIPES
from mnist_edge.errors import RuntimeModelError

METADATA_FORMAT = "mnist-edge/tflite-metadata/1"
# Every model mnist-edge exports reads MNIST-form pixels as pixel / 255.
PIXEL_NORMALIZATION = (1.0 / 255.0, 0.0)
MAX_SIDECAR_BYTES = 4 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclasses.dataclass(frozen=True)
class Sidecar:
    """What a device needs from a model's sidecar, checked.

    Attributes:
        path: the sidecar file.
        document: the whole JSON document (for reports).
        labels: the 10 class labels.
        quantization: the export format (``none``, ``float16``, ``dynamic``, ``int8``) or None.
        format_name: its display name, or None.
        io_type: the int8 model's I/O type, or None.
        min_confidence: the calibrated "not a digit" threshold, or None.
        abstain_score: the score that threshold applies to (``top1`` when the
            sidecar names none: it was calibrated before scores had names).
        reference: ``(file name, SHA-256)`` of the Keras model's reference record, or None.
    """

    path: Path
    document: dict
    labels: Tuple[str, ...]
    quantization: Optional[str]
    format_name: Optional[str]
    io_type: Optional[str]
    min_confidence: Optional[float]
    reference: Optional[Tuple[str, str]] = None
    abstain_score: str = "top1"


def sidecar_path(model_path) -> Path:
    """The sidecar of a model (``.tflite`` or ``.keras``): same folder, same stem, ``.json``.

    The one place this rule is written: export, train and the predictor all use it.
    """
    return Path(model_path).with_suffix(".json")


def _fail(path: Path, problem: str) -> RuntimeModelError:
    return RuntimeModelError(f"{path}: invalid metadata ({problem}); re-export or remove it")


def _read_document(path: Path) -> Optional[dict]:
    """The JSON object in ``path``, or None when it is not an mnist-edge sidecar."""
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            raise _fail(path, f"larger than {MAX_SIDECAR_BYTES >> 20} MB")
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
        raise RuntimeModelError(f"{path}: unreadable metadata ({reason})") from None
    if not isinstance(document, dict) or document.get("format") != METADATA_FORMAT:
        return None  # some other JSON that happens to share the stem
    return document


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_hash(path: Path, document: dict, content: bytes) -> None:
    expected = document.get("tflite_sha256")
    if not isinstance(expected, str) or not _SHA256.fullmatch(expected):
        raise _fail(path, "tflite_sha256 must be the model's 64-digit SHA-256")
    if expected != hashlib.sha256(content).hexdigest():
        raise RuntimeModelError(
            f"{path}: metadata belongs to a different model file (sha256 mismatch); "
            "re-export or remove the stale .json"
        )


def _check_labels(path: Path, document: dict) -> Tuple[str, ...]:
    labels = document.get("labels", [str(i) for i in range(10)])
    if (
        not isinstance(labels, list)
        or len(labels) != 10
        or not all(isinstance(v, str) and 0 < len(v) <= 64 and "\n" not in v for v in labels)
        or len(set(labels)) != 10
    ):
        raise _fail(path, "labels must be 10 distinct one-line strings")
    return tuple(labels)


def _check_normalization(path: Path, document: dict) -> None:
    norm = _section(path, document, "input").get("normalization", {})
    if not isinstance(norm, dict):
        raise _fail(path, "input.normalization must be an object")
    scale, offset = norm.get("scale", PIXEL_NORMALIZATION[0]), norm.get("offset", 0.0)
    if not (_number(scale) and _number(offset)):
        raise _fail(path, "input.normalization scale and offset must be numbers")
    if abs(scale - PIXEL_NORMALIZATION[0]) > 1e-9 or abs(offset) > 1e-9:
        raise _fail(path, f"input.normalization {scale:g}, {offset:g} is not pixel / 255")


def _section(path: Path, document: dict, name: str) -> dict:
    value = document.get(name, {})
    if not isinstance(value, dict):
        raise _fail(path, f"{name} must be an object")
    return value


def _check_quantization(path: Path, document: dict, name: str, actual: Tuple[float, int]) -> None:
    """The recorded scale / zero point, when present, must be the tensor's own."""
    recorded = _section(path, document, name).get("quantization")
    if recorded is None:
        return
    if not isinstance(recorded, dict) or not (
        _number(recorded.get("scale")) and isinstance(recorded.get("zero_point"), int)
    ):
        raise _fail(path, f"{name}.quantization must have a numeric scale and an integer zero_point")
    scale, zero_point = actual
    if recorded["zero_point"] != zero_point or not math.isclose(
        recorded["scale"], scale, rel_tol=1e-6, abs_tol=1e-12
    ):
        raise _fail(path, f"{name}.quantization disagrees with the model's own tensor")


def _optional_str(path: Path, document: dict, key: str, choices=None) -> Optional[str]:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or (choices is not None and value not in choices):
        raise _fail(path, f"{key} must be {'one of ' + ', '.join(choices) if choices else 'a string'}")
    return value


def _min_confidence(path: Path, document: dict) -> Optional[float]:
    abstain = document.get("abstain")
    if abstain is None:
        return None
    if not isinstance(abstain, dict) or not _number(abstain.get("min_confidence")):
        raise _fail(path, "abstain.min_confidence must be a number")
    value = float(abstain["min_confidence"])
    if not 0.0 <= value < 1.0:
        raise _fail(path, "abstain.min_confidence must be in [0, 1)")
    return value


def _abstain_score(path: Path, document: dict) -> str:
    from mnist_edge.runtime.abstain import LEGACY_SCORE, SCORES

    abstain = document.get("abstain")
    if not isinstance(abstain, dict) or abstain.get("score") is None:
        return LEGACY_SCORE
    if abstain["score"] not in SCORES:
        raise _fail(path, f"abstain.score must be one of {', '.join(SCORES)}")
    return abstain["score"]


def _reference(path: Path, document: dict) -> Optional[Tuple[str, str]]:
    ref = document.get("reference")
    if ref is None:
        return None
    if (
        not isinstance(ref, dict)
        or not isinstance(ref.get("file"), str)
        or not isinstance(ref.get("sha256"), str)
        or not _SHA256.fullmatch(ref["sha256"])
    ):
        raise _fail(path, "reference must name a file and its SHA-256")
    name = ref["file"]
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise _fail(path, "reference.file must be a file name beside the model")
    return name, ref["sha256"]


def load_sidecar(
    model_path,
    content: bytes,
    input_quantization: Tuple[float, int],
    output_quantization: Tuple[float, int],
) -> Optional[Sidecar]:
    """Reads and validates a model's sidecar, if it has one.

    Args:
        model_path: the ``.tflite`` file.
        content: its bytes (the sidecar must name their SHA-256).
        input_quantization: the input tensor's own (scale, zero point).
        output_quantization: the output tensor's own (scale, zero point).

    Returns:
        The :class:`Sidecar`, or None when there is none (or the JSON beside
        the model is not an mnist-edge sidecar).

    Raises:
        RuntimeModelError: unreadable, malformed, stale, or disagreeing with the model.
    """
    path = sidecar_path(model_path)
    if not path.is_file():
        return None
    document = _read_document(path)
    if document is None:
        return None
    _check_hash(path, document, content)
    labels = _check_labels(path, document)
    _check_normalization(path, document)
    _check_quantization(path, document, "input", input_quantization)
    _check_quantization(path, document, "output", output_quantization)
    return Sidecar(
        path=path,
        document=document,
        labels=labels,
        quantization=_optional_str(path, document, "quantization", RECIPES),
        format_name=_optional_str(path, document, "format_name"),
        io_type=_optional_str(path, document, "io_type", IO_TYPES),
        min_confidence=_min_confidence(path, document),
        reference=_reference(path, document),
        abstain_score=_abstain_score(path, document),
    )

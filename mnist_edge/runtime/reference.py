"""The reference record: the Keras model's answers on the test set, for parity on a device.

``export`` writes ``<source stem>.reference.npz`` beside the ``.tflite`` files:
the Keras model's top-1 labels (exact) and probabilities (float16, ~0.001
apart at most) on the 10,000 test images, with the SHA-256 of the Keras
file and the MD5 of the test images it was computed on. Each sidecar names
the record and its own SHA-256, so a device without TensorFlow can measure
agreement and max |dp| against the original model, and knows the record
belongs to it. Probabilities are compared at float16 everywhere (also with
the live Keras model), so both give identical figures.

numpy only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from pathlib import Path
from typing import Optional

import numpy as np

from mnist_edge.errors import RuntimeModelError

FORMAT = "mnist-edge/reference/1"
MAX_RECORD_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class Reference:
    """A reference record, loaded and checked.

    Attributes:
        path: the record file.
        top1: ``(n,)`` the reference model's labels.
        probs: ``(n, 10)`` its probabilities, float16 values as float32.
        source_sha256: the SHA-256 of the reference model file.
        test_images_md5: the MD5 of the test images it was computed on.
    """

    path: Path
    top1: np.ndarray
    probs: np.ndarray
    source_sha256: str
    test_images_md5: str


def at_float16(probs: np.ndarray) -> np.ndarray:
    """Probabilities as the record keeps them (float16), back in float32."""
    return np.asarray(probs, dtype=np.float32).astype(np.float16).astype(np.float32)


def record_name(source_stem: str) -> str:
    """The record's file name for a source model, e.g. ``mnist_mlp.reference.npz``."""
    return f"{source_stem}.reference.npz"


def encode(probs: np.ndarray, source_sha256: str, test_images_md5: str) -> bytes:
    """The record's bytes (a compressed npz, about 150 KB for 10,000 images)."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        format=np.array(FORMAT),
        top1=probs.argmax(1).astype(np.uint8),
        probs=np.asarray(probs, np.float32).astype(np.float16),
        source_sha256=np.array(source_sha256),
        test_images_md5=np.array(test_images_md5),
    )
    return buffer.getvalue()


def _fail(path: Path, problem: str) -> RuntimeModelError:
    return RuntimeModelError(f"{path}: not a usable reference record ({problem})")


def load(path, expected_sha256: Optional[str] = None) -> Reference:
    """Loads a record, checking its SHA-256 (as named by a sidecar) and its layout.

    Raises:
        RuntimeModelError: missing, altered, or malformed.
    """
    path = Path(path)
    try:
        content = path.read_bytes()[: MAX_RECORD_BYTES + 1]
    except OSError as exc:
        raise _fail(path, exc.strerror or str(exc)) from None
    if len(content) > MAX_RECORD_BYTES:
        raise _fail(path, "larger than a record can be")
    if expected_sha256 and hashlib.sha256(content).hexdigest() != expected_sha256:
        raise _fail(path, "its SHA-256 is not the one the model's sidecar names")
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as npz:
            fields = {k: npz[k] for k in ("format", "top1", "probs", "source_sha256", "test_images_md5")}
    except Exception as exc:  # zip and npy errors of every kind: a damaged record
        raise _fail(path, str(exc)[:120]) from None
    top1, probs = fields["top1"], fields["probs"]
    if (
        str(fields["format"]) != FORMAT
        or probs.ndim != 2
        or probs.shape[1] != 10
        or top1.shape != (probs.shape[0],)
        or not np.isfinite(probs.astype(np.float32)).all()
    ):
        raise _fail(path, "unexpected layout")
    return Reference(
        path,
        top1.astype(np.int64),
        probs.astype(np.float32),
        str(fields["source_sha256"]),
        str(fields["test_images_md5"]),
    )


def for_model(predictor, test_images_md5: Optional[str] = None) -> Optional[Reference]:
    """The reference record a model's sidecar names, checked; None when it names none.

    Args:
        predictor: a Predictor (its sidecar names the record).
        test_images_md5: the test images about to be used; a record computed
            on other images is refused.

    Raises:
        RuntimeModelError: the record is missing, altered, or for other images.
    """
    sidecar = predictor.sidecar
    if sidecar is None or sidecar.reference is None:
        return None
    name, sha256 = sidecar.reference
    record = load(predictor.model_path.parent / name, sha256)
    if test_images_md5 and record.test_images_md5 != test_images_md5:
        raise _fail(record.path, "it was computed on other test images")
    return record

"""Loading and checking a trained ``.keras`` model (TensorFlow side only)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Optional

from mnist_edge import constants, fsutil
from mnist_edge.errors import ModelError
from mnist_edge.runtime.sidecar import sidecar_path
from mnist_edge.training._tf import import_tf

DEFAULT_MODELS_DIR = constants.DEFAULT_MODELS_DIR
DEFAULT_STEM = "mnist_mlp"


def default_model_path(models_dir: os.PathLike = DEFAULT_MODELS_DIR) -> Path:
    """Finds the trained model in ``models_dir``.

    Prefers ``mnist_mlp.keras`` (what ``mnist-edge train`` writes by default),
    otherwise the most recently written ``.keras`` file.

    Args:
        models_dir: the folder to look in.

    Returns:
        The model path.

    Raises:
        ModelError: when there is no ``.keras`` model there.
    """
    models_dir = Path(models_dir)
    preferred = models_dir / f"{DEFAULT_STEM}.keras"
    if preferred.is_file():
        return preferred
    found = sorted(models_dir.glob("*.keras"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ModelError(
            f"{models_dir}: no trained .keras model here; run `mnist-edge train` or pass --model"
        )
    return found[-1]


def load_keras_model(path: os.PathLike):
    """Loads a ``.keras`` model and checks it maps 28x28 images to 10 classes.

    Args:
        path: the ``.keras`` file.

    Returns:
        The loaded Keras model.

    Raises:
        ModelError: missing file, not a Keras archive, unreadable, or wrong
            input/output shape.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path}: not a Keras model (.keras files are zip archives)")

    import_tf()
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras raises many types for a bad archive
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: cannot load Keras model ({first[:200]})") from None
    check_model_shapes(model, path)
    return model


def check_model_shapes(model, path: Optional[os.PathLike] = None) -> None:
    """Raises ModelError unless the model takes (N, 28, 28) and returns (N, 10)."""
    where = f"{path}: " if path else ""
    try:
        in_shape = tuple(model.inputs[0].shape)
        out_shape = tuple(model.outputs[0].shape)
    except (AttributeError, IndexError, TypeError):
        raise ModelError(f"{where}model has no defined input/output") from None
    if len(model.inputs) != 1 or in_shape[1:] != (28, 28):
        raise ModelError(f"{where}model input is {in_shape}, expected (None, 28, 28)")
    if len(model.outputs) != 1 or out_shape[1:] != (10,):
        raise ModelError(f"{where}model output is {out_shape}, expected (None, 10)")


def load_metadata(model_path: os.PathLike) -> Optional[dict]:
    """Reads the metadata JSON beside a ``.keras`` model, if there is one."""
    meta_path = sidecar_path(model_path)
    if not meta_path.is_file():
        return None
    try:
        return json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None


def save_with_metadata(model, meta: dict, out_dir: Path, stem: str) -> Path:
    """Writes ``<stem>.keras`` and its metadata ``<stem>.json`` through a staging folder.

    Both appear under their final names only once both are complete; ``meta``
    gains the model's final path and SHA-256.
    """
    final_model = Path(out_dir) / f"{stem}.keras"
    meta["model"] = str(final_model)
    with fsutil.staging_dir(out_dir) as stage:
        staged_model = stage / final_model.name
        model.save(staged_model)
        meta["sha256"] = fsutil.sha256_file(staged_model)
        staged_meta = fsutil.write_json_atomic(sidecar_path(staged_model), meta)
        fsutil.commit(staged_model, final_model)
        fsutil.commit(staged_meta, sidecar_path(final_model))
    return final_model

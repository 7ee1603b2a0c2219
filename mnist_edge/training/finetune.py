"""Fine-tuning on the user's own labelled images, with MNIST rehearsal (``train --images DIR --from MODEL``).

How a user whose handwriting the model reads badly makes it theirs, on their
own machine:

1. the folder is read exactly as ``eval --images`` reads it (``labels.csv``,
   sub-folders named by label, or a ``_<label>`` file-name suffix), each image
   through the same front-end as ``predict``;
2. each class's images are split, seeded, into a part to train on and a part
   held back (:attr:`FineTuneConfig.held_back`) that the model never sees;
3. the source model (a ``.keras``, or an int8 ``.tflite`` rebuilt by
   :mod:`.rebuild`, or the shipped default) trains a few epochs at a low rate on
   the user's images, oversampled, mixed with MNIST training digits
   (rehearsal), so that what MNIST taught is kept;
4. before and after are measured on the held-back part and on MNIST's test set,
   and the model is saved with its metadata (the source's "not a digit"
   threshold included) for ``export`` as usual.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

from mnist_edge import data as data_mod
from mnist_edge import fsutil
from mnist_edge.errors import DataError, ModelError
from mnist_edge.evaluation.image_eval import labelled_forms
from mnist_edge.evaluation.reporting import library_versions
from mnist_edge.runtime import abstain as abstain_mod
from mnist_edge.runtime import default_model_path, sidecar_path
from mnist_edge.training import keras_model
from mnist_edge.training._tf import import_tf

LABELS = [str(i) for i in range(10)]
MIN_IMAGES = 10  # fewer cannot move a model without overfitting it
MIN_PER_CLASS = 2  # one to train on and one to hold back, for every class given


@dataclasses.dataclass(frozen=True)
class FineTuneConfig:
    """How to fine-tune.

    Attributes:
        epochs: passes over the mixed set.
        learning_rate: Adam's rate (a tenth of training from scratch).
        held_back: share of each class's images kept out to measure on.
        rehearsal: MNIST training digits mixed in per user image (after oversampling).
        oversample: copies of each user image per epoch.
        seed: the split, the rehearsal sample and the shuffle.
    """

    epochs: int = 4
    learning_rate: float = 1e-4
    held_back: float = 0.5
    rehearsal: int = 4
    oversample: int = 8
    seed: int = 0


@dataclasses.dataclass
class UserImages:
    """The user's images in MNIST form, split into a part to train on and a part held back."""

    train_x: np.ndarray
    train_y: np.ndarray
    held_x: np.ndarray
    held_y: np.ndarray
    held_paths: List[str]
    skipped: List[Tuple[str, str]]


def read_user_images(folder: os.PathLike, config: FineTuneConfig) -> UserImages:
    """The labelled folder through the front-end, split per class.

    Raises:
        DataError: no labelled images, too few, or a class with too few to split.
    """
    forms = labelled_forms(folder, LABELS)
    check_counts(folder, forms.y.tolist())
    rng = np.random.default_rng(config.seed)
    x, y, paths, skipped = forms.x, forms.y, forms.paths, forms.skipped
    held = np.zeros(len(y), bool)
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        held[members[: max(1, round(config.held_back * len(members)))]] = True
    return UserImages(x[~held], y[~held], x[held], y[held], [p for p, h in zip(paths, held) if h], skipped)


def check_counts(folder, labels: List[int], purpose: str = "fine-tuning") -> None:
    """Enough labelled images, and at least two of every class given (one to use, one to check).

    Raises:
        DataError: too few images, or a class with only one.
    """
    if len(labels) < MIN_IMAGES:
        raise DataError(
            f"{folder}: {len(labels)} readable labelled images; {purpose} needs at least {MIN_IMAGES}"
        )
    counts = np.bincount(labels, minlength=10)
    few = [str(c) for c in range(10) if 0 < counts[c] < MIN_PER_CLASS]
    if few:
        raise DataError(
            f"{folder}: class {', '.join(few)} has only one image; {purpose} needs at least "
            f"{MIN_PER_CLASS} of each class it is given (one to train on, one to check)"
        )


def load_source(source: str, dataset: data_mod.Dataset, log: Callable[[str], None]):
    """The model to start from: a ``.keras``, an int8 ``.tflite``, or ``default`` (the shipped one).

    Returns:
        ``(keras model, source path, the source's "not a digit" facts or None)``.

    Raises:
        ModelError: missing, unreadable, or a ``.tflite`` that cannot be rebuilt.
    """
    from mnist_edge.training import rebuild

    path = default_model_path() if source == "default" else Path(source)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    if path.suffix == ".keras":
        return (
            keras_model.load_keras_model(path),
            path,
            (keras_model.load_metadata(path) or {}).get("abstain"),
        )
    model = rebuild.keras_from_tflite(path)
    agreement = rebuild.check_rebuild(model, path, dataset.x_test[:2000])
    log(
        f"rebuilt {path.name} as a trainable model (agreement with it on 2,000 MNIST digits: {agreement:.4f})"
    )
    # The sidecar was checked when the model loaded; its "not a digit" block carries over.
    sidecar = json.loads(sidecar_path(path).read_text()) if sidecar_path(path).is_file() else {}
    return model, path, sidecar.get("abstain")


def _accuracy(model, x: np.ndarray, y: np.ndarray, threshold: float, score: str) -> float:
    """Right answers, "not a digit" (the score under ``threshold``) counted as a miss, as eval does."""
    if len(y) == 0:
        return float("nan")
    probs = model.predict(x.astype(np.float32) / 255.0, batch_size=1000, verbose=0)
    return float(np.mean((probs.argmax(1) == y) & (abstain_mod.score(probs, score) >= threshold)))


def _mixed_set(user: UserImages, dataset: data_mod.Dataset, config: FineTuneConfig):
    rng = np.random.default_rng(config.seed)
    ux = np.repeat(user.train_x, config.oversample, axis=0)
    uy = np.repeat(user.train_y, config.oversample)
    n = min(len(dataset.y_train), config.rehearsal * len(uy))
    pick = data_mod.balanced_sample(dataset.y_train, n, config.seed)
    x = np.concatenate([ux, dataset.x_train[pick]])
    y = np.concatenate([uy, dataset.y_train[pick]])
    order = rng.permutation(len(y))
    return x[order].astype(np.float32) / 255.0, y[order]


def _figures(
    model, user: UserImages, dataset: data_mod.Dataset, threshold: float, score: str
) -> Dict[str, float]:
    return {
        "held_back_accuracy": _accuracy(model, user.held_x, user.held_y, threshold, score),
        "mnist_test_accuracy": _accuracy(model, dataset.x_test, dataset.y_test, threshold, score),
    }


def fine_tune(
    source: str,
    images_dir: os.PathLike,
    dataset: data_mod.Dataset,
    out_dir: os.PathLike,
    config: FineTuneConfig = FineTuneConfig(),
    log: Callable[[str], None] = lambda _msg: None,
) -> dict:
    """Fine-tunes ``source`` on the labelled images in ``images_dir`` and saves the result.

    Returns:
        The metadata written beside the model: before/after figures, the split,
        the config, the source.

    Raises:
        DataError: unusable images folder; ModelError: unusable source model;
        OutputError: ``out_dir`` cannot be written.
    """
    out_dir = fsutil.ensure_writable_dir(out_dir)
    user = read_user_images(images_dir, config)
    log(
        f"images: {len(user.train_y)} to train on, {len(user.held_y)} held back"
        f"{f', {len(user.skipped)} unreadable (skipped)' if user.skipped else ''}"
    )
    tf = import_tf()
    import keras

    keras.utils.set_random_seed(config.seed)
    model, source_path, abstain = load_source(source, dataset, log)
    threshold = float((abstain or {}).get("min_confidence") or 0.0)
    score = (abstain or {}).get("score") or abstain_mod.LEGACY_SCORE
    before = _figures(model, user, dataset, threshold, score)
    log(f"before: held back {before['held_back_accuracy']:.4f}, MNIST {before['mnist_test_accuracy']:.4f}")
    x, y = _mixed_set(user, dataset, config)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    pipeline = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    for epoch in range(config.epochs):
        history = model.fit(pipeline, epochs=1, verbose=0, shuffle=False)  # shuffled above
        log(f"epoch {epoch + 1}/{config.epochs}: loss {history.history['loss'][-1]:.4f}")
    after = _figures(model, user, dataset, threshold, score)
    log(f"after: held back {after['held_back_accuracy']:.4f}, MNIST {after['mnist_test_accuracy']:.4f}")
    meta = _metadata(source_path, images_dir, user, config, before, after, abstain, dataset)
    meta["threshold"] = threshold
    keras_model.save_with_metadata(
        model, meta, Path(out_dir), f"{source_path.stem.removesuffix('_int8')}_finetuned"
    )
    return meta


def _metadata(source_path, images_dir, user, config, before, after, abstain, dataset) -> dict:
    return {
        "format": "mnist-edge/model-metadata/1",
        "model": None,
        "arch": "fine-tuned",
        "fine_tuned_from": {"name": source_path.name, "sha256": fsutil.sha256_file(source_path)},
        "images": str(images_dir),
        "split": {
            "train": int(len(user.train_y)),
            "held_back": int(len(user.held_y)),
            "held_back_files": user.held_paths,
            "skipped": [{"path": p, "error": e} for p, e in user.skipped],
        },
        "config": dataclasses.asdict(config),
        "before": before,
        "after": after,
        "test_accuracy": after["mnist_test_accuracy"],
        "dataset": dataset.describe(),
        "abstain": abstain,
        "versions": library_versions(),
    }


def format_table(meta: dict) -> str:
    """The before/after table ``train --images`` prints."""
    before, after, split = meta["before"], meta["after"], meta["split"]
    lines = [
        f"{'':24}{'before':>9}{'after':>9}{'change pp':>11}",
        f"{'your held-back images':<24}{before['held_back_accuracy']:9.4f}{after['held_back_accuracy']:9.4f}"
        f"{100 * (after['held_back_accuracy'] - before['held_back_accuracy']):+11.2f}",
        f"{'MNIST test set':<24}{before['mnist_test_accuracy']:9.4f}{after['mnist_test_accuracy']:9.4f}"
        f"{100 * (after['mnist_test_accuracy'] - before['mnist_test_accuracy']):+11.2f}",
        f"held back: {split['held_back']} of {split['held_back'] + split['train']} images "
        f"(never trained on); 'not a digit' (below {meta['threshold']:.2f}) counts as a miss",
    ]
    return "\n".join(lines)

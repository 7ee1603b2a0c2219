"""Where MNIST is looked for and how it is loaded (the order in :mod:`mnist_edge.data`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from mnist_edge.data.dataset import SPLIT_FILES, Dataset
from mnist_edge.data.idx import load_idx_dir
from mnist_edge.data.npz import load_npz
from mnist_edge.errors import DataError

ENV_VAR = "MNIST_EDGE_DATA"
KERAS_NPZ = Path("~/.keras/datasets/mnist.npz")


def load_path(path: os.PathLike) -> Dataset:
    """Loads a dataset from a folder of IDX files or an ``.npz`` file."""
    path = Path(path).expanduser()
    if path.is_file() and path.suffix == ".npz":
        return load_npz(path)
    has_idx = any((path / (s + e)).exists() for s in SPLIT_FILES.values() for e in ("", ".gz"))
    if path.is_dir() and not has_idx and (path / "mnist.npz").is_file():
        return load_npz(path / "mnist.npz")
    return load_idx_dir(path)


def _keras_download() -> Dataset:
    from mnist_edge.training._tf import import_tf  # heavy; only for this last resort

    import_tf()
    import contextlib
    import sys

    import keras

    # Keras prints download progress on stdout, which belongs to results.
    print("data: none found locally; downloading with keras.datasets.mnist.load_data()", file=sys.stderr)
    with contextlib.redirect_stdout(sys.stderr):
        keras.datasets.mnist.load_data()  # caches ~/.keras/datasets/mnist.npz
    print(file=sys.stderr)
    return load_npz(Path(KERAS_NPZ).expanduser())


def resolve_source(data_dir: Optional[os.PathLike] = None) -> Optional[Path]:
    """Returns where data would be read from, or None for "download".

    Args:
        data_dir: an explicit folder or ``.npz`` (wins over everything).

    Returns:
        The path chosen by the lookup order, or None when only the Keras
        download is left.
    """
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    if KERAS_NPZ.expanduser().is_file():
        return KERAS_NPZ.expanduser()
    return None


def load(data_dir: Optional[os.PathLike] = None, allow_download: bool = True) -> Dataset:
    """Loads the dataset following the documented lookup order.

    Args:
        data_dir: an explicit folder or ``.npz``; if None, ``$MNIST_EDGE_DATA``,
            then ``~/.keras/datasets/mnist.npz``, then a Keras download.
        allow_download: False on the device side (the download needs
            TensorFlow): no data found locally is then an error.

    Returns:
        The checked :class:`Dataset`.

    Raises:
        DataError: when the data is missing or bad.
    """
    source = resolve_source(data_dir)
    if source is None and not allow_download:
        raise DataError(
            f"no MNIST data found: run `mnist-edge data fetch`, or pass --data-dir or set "
            f"${ENV_VAR} to a folder with the four IDX files (or a Keras mnist.npz)"
        )
    if source is None:
        try:
            return _keras_download()
        except DataError:
            raise
        except Exception as exc:
            raise DataError(
                f"no data given (--data-dir, ${ENV_VAR}) and the Keras download failed: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None
    return load_path(source)


def normalize(images: np.ndarray) -> np.ndarray:
    """The tutorial's preprocessing, in float32: pixels / 255.

    Args:
        images: uint8 images of any shape.

    Returns:
        float32 values in [0, 1].
    """
    return images.astype(np.float32) / np.float32(255.0)


def balanced_sample(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Picks ``n`` indices with the classes as evenly represented as possible.

    Deterministic for a given seed. Used for calibration sets and test slices.

    Args:
        labels: integer labels.
        n: how many indices to return (at most ``len(labels)``).
        seed: the random seed.

    Returns:
        Sorted int64 indices into ``labels``.
    """
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    chosen = []
    # Round-robin over the classes so any n is as balanced as it can be.
    depth = 0
    while len(chosen) < n:
        added = False
        for c in classes:
            if depth < len(per_class[c]) and len(chosen) < n:
                chosen.append(per_class[c][depth])
                added = True
        if not added:
            break
        depth += 1
    return np.sort(np.asarray(chosen, dtype=np.int64))

"""Keras-style ``mnist.npz`` files, each member's ``.npy`` header checked before its data is read."""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from mnist_edge.data.dataset import MAX_IDX_BYTES, Dataset, checked_dataset
from mnist_edge.errors import DataError


def _npz_member(archive, name: str, path: Path) -> np.ndarray:
    """One uint8 array of an ``.npz``, its header checked before its data is read.

    Reads the ``.npy`` header inside the zip member, refuses other dtypes
    (pickles included) and sizes no MNIST-like array can have, then reads
    exactly the declared bytes: a small zip that expands to gigabytes
    stops at the header.
    """
    from numpy.lib import format as npy_format

    member = name + ".npy"
    if member not in archive.namelist():
        raise DataError(f"{path}: missing array(s) {name}")
    with archive.open(member) as stream:
        version = npy_format.read_magic(stream)
        read_header = (
            npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(stream)
        if dtype != np.uint8:
            raise DataError(f"{path}: {name} has dtype {dtype}, expected uint8")
        count = 1
        for dim in shape:
            count *= dim
        if count > MAX_IDX_BYTES:
            raise DataError(f"{path}: {name} declares shape {shape}, more than MNIST-like data can be")
        data = stream.read(count + 1)
    if len(data) != count:
        raise DataError(f"{path}: {name} holds {len(data)} bytes for shape {shape} (truncated or padded)")
    return np.frombuffer(data, np.uint8).reshape(shape, order="F" if fortran else "C")


def load_npz(path: os.PathLike) -> Dataset:
    """Loads a Keras-style ``mnist.npz`` (x_train, y_train, x_test, y_test).

    Args:
        path: the ``.npz`` file.

    Returns:
        The checked :class:`Dataset`.

    Raises:
        DataError: when the file is missing, unreadable, lacks a key, or
            fails the same checks as IDX files.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: missing")
    keys = {
        "train_images": "x_train",
        "train_labels": "y_train",
        "test_images": "x_test",
        "test_labels": "y_test",
    }
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = {key: _npz_member(archive, name, path) for key, name in keys.items()}
    except DataError:
        raise
    except (
        zipfile.BadZipFile,
        OSError,
        EOFError,
        zlib.error,
        ValueError,
        KeyError,
        NotImplementedError,
        RuntimeError,
    ) as exc:  # zipfile: unknown versions, encryption
        raise DataError(f"{path}: not a readable .npz ({str(exc)[:160]})") from None
    return checked_dataset(arrays, {k: f"{path}[{v}]" for k, v in keys.items()}, path)

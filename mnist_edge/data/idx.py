"""IDX files (MNIST's own format), gzip-compressed or not, read as streams bounded by their header."""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path
from typing import Tuple

import numpy as np

from mnist_edge.data.dataset import IDX_DTYPES, MAX_IDX_BYTES, SPLIT_FILES, Dataset, checked_dataset
from mnist_edge.errors import DataError


def _read_exact(stream, count: int, path: Path, what: str) -> bytes:
    data = stream.read(count)
    if len(data) < count:
        raise DataError(f"{path}: {what} truncated ({len(data)} of {count} bytes)")
    return data


def _idx_shape(stream, path: Path, ndim: int) -> Tuple[int, ...]:
    """Reads and checks an IDX header; returns the declared shape."""
    head = stream.read(4)
    if len(head) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(head)} bytes)")
    zero, dtype_code, dims = struct.unpack(">HBB", head)
    if zero != 0 or dtype_code not in IDX_DTYPES or dims != ndim:
        raise DataError(
            f"{path}: wrong magic number 0x{int.from_bytes(head, 'big'):08x} "
            f"(expected 0x{0x0800 + ndim:08x}, uint8 with {ndim} dimension(s))"
        )
    return struct.unpack(">" + "I" * dims, _read_exact(stream, 4 * dims, path, "header"))


def read_idx(stream, path: Path, ndim: int) -> np.ndarray:
    """Reads one IDX array from a byte stream, bounded by what its header declares.

    The declared size is checked (with exact integers: no overflow) against
    :data:`MAX_IDX_BYTES` before any payload is read, and at most one byte
    more than declared is read: a decompression bomb cannot grow past it.

    Args:
        stream: a binary stream (a file, or a ``GzipFile`` over one).
        path: the file name, for messages.
        ndim: the number of dimensions expected (3 for images, 1 for labels).

    Returns:
        The uint8 array described by the header.

    Raises:
        DataError: wrong magic number, a size no MNIST-like file can have,
            or a payload whose size does not match the header.
    """
    shape = _idx_shape(stream, path, ndim)
    expected = 1
    for dim in shape:
        expected *= dim
    if expected > MAX_IDX_BYTES:
        raise DataError(
            f"{path}: header declares {'x'.join(map(str, shape))} = {expected} bytes, "
            f"more than MNIST-like data can be (at most {MAX_IDX_BYTES >> 20} MB)"
        )
    payload = stream.read(expected + 1)
    if len(payload) != expected:
        raise DataError(
            f"{path}: header says {'x'.join(map(str, shape))} = {expected} bytes "
            f"but the file holds {len(payload) if len(payload) <= expected else 'more'} "
            "(truncated or padded)"
        )
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)


def read_idx_file(path: Path, ndim: int) -> np.ndarray:
    """Reads an IDX file, gzip-compressed or not (by magic, not by name), bounded."""
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            if not gzipped:
                return read_idx(raw, path, ndim)
            with gzip.GzipFile(fileobj=raw) as stream:
                return read_idx(stream, path, ndim)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def parse_idx(data: bytes, path: Path, ndim: int) -> np.ndarray:
    """Parses IDX bytes already in memory (see :func:`read_idx`)."""
    return read_idx(io.BytesIO(data), path, ndim)


def _find_split_file(folder: Path, stem: str) -> Path:
    for candidate in (folder / (stem + ".gz"), folder / stem):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder / (stem + '.gz')}: missing (nor is {stem} there)")


def load_idx_dir(folder: os.PathLike) -> Dataset:
    """Loads the four IDX files from a folder.

    Args:
        folder: a directory holding ``train-images-idx3-ubyte[.gz]`` and the
            three other canonical file names.

    Returns:
        The checked :class:`Dataset`.

    Raises:
        DataError: on a missing folder or file, corrupt gzip, wrong magic,
            size mismatch, count mismatch, labels out of range, or a damaged
            copy of a known dataset.
    """
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise DataError(f"{folder}: data folder does not exist")
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    arrays, where = {}, {}
    for key, stem in SPLIT_FILES.items():
        path = _find_split_file(folder, stem)
        arrays[key] = read_idx_file(path, 3 if key.endswith("images") else 1)
        where[key] = str(path)
    return checked_dataset(arrays, where, folder)

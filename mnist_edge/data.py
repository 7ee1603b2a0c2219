"""MNIST-style data loading with numpy only.

Reads the four IDX files (raw or ``.gz``) or a Keras-style ``mnist.npz`` and
checks them: IDX magic numbers, header dimensions against the payload size,
image/label counts, label range, and, for the known datasets (MNIST and
Fashion-MNIST), the canonical MD5 checksums of the uncompressed files.

Where data is looked for, in order: an explicit directory (``--data-dir``),
``$MNIST_EDGE_DATA``, ``~/.keras/datasets/mnist.npz`` and, last,
``keras.datasets.mnist.load_data()``, which downloads (and needs TensorFlow).

Every problem a user can cause raises :class:`DataError` with one line that
names the file and the problem.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from mnist_edge.errors import DataError

ENV_VAR = "MNIST_EDGE_DATA"
KERAS_NPZ = Path("~/.keras/datasets/mnist.npz")

# The four files in the order (train images, train labels, test images, test labels).
SPLIT_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# Canonical MD5s of the *uncompressed* IDX files. The same bytes can be rebuilt
# from arrays (header + payload), so an ``mnist.npz`` is checked the same way.
KNOWN_MD5 = {
    "mnist": {
        "train_images": "6bbc9ace898e44ae57da46a324031adb",
        "train_labels": "a25bea736e30d166cdddb491f175f624",
        "test_images": "2646ac647ad5339dbf082846283269ea",
        "test_labels": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train_images": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train_labels": "9018921c3c673c538a1fc5bad174d6f9",
        "test_images": "8181f5470baa50b63fa0f6fddb340f0a",
        "test_labels": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

_IDX_DTYPES = {0x08: np.uint8}
# A file of more than this cannot be MNIST-like data (MNIST's training images are 47 MB).
MAX_IDX_BYTES = 256 << 20


@dataclasses.dataclass
class Dataset:
    """The four arrays of an MNIST-layout dataset and where they came from.

    Attributes:
        x_train: ``(n, 28, 28)`` uint8 training images.
        y_train: ``(n,)`` uint8 training labels in 0..9.
        x_test: ``(m, 28, 28)`` uint8 test images.
        y_test: ``(m,)`` uint8 test labels in 0..9.
        name: ``"mnist"``, ``"fashion-mnist"`` or ``"custom"``.
        source: the folder or file the arrays were read from.
        md5: MD5 of each split's uncompressed IDX bytes.
        verified: True when every MD5 matched a known dataset.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    source: str
    md5: Dict[str, str]
    verified: bool

    def describe(self) -> dict:
        """Returns a JSON-ready summary (name, source, sizes, checksums)."""
        return {
            "name": self.name,
            "source": self.source,
            "verified_checksums": self.verified,
            "md5": dict(self.md5),
            "train_size": int(len(self.y_train)),
            "test_size": int(len(self.y_test)),
        }


def idx_bytes_md5(array: np.ndarray) -> str:
    """MD5 of the IDX serialisation of a uint8 array (header + payload).

    Args:
        array: a uint8 array of 1 to 3 dimensions.

    Returns:
        The hex MD5, equal to ``md5sum`` of the uncompressed IDX file.
    """
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    digest = hashlib.md5(header)
    digest.update(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return digest.hexdigest()


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
    if zero != 0 or dtype_code not in _IDX_DTYPES or dims != ndim:
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


def _check_arrays(arrays: Dict[str, np.ndarray], where: Dict[str, str]) -> None:
    """Checks shapes, counts and label range of the four arrays."""
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        img_src, lbl_src = where[f"{split}_images"], where[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError(f"{img_src}: images are {'x'.join(map(str, images.shape))}, expected Nx28x28")
        if labels.ndim != 1:
            raise DataError(f"{lbl_src}: labels must be one-dimensional, got {labels.shape}")
        if len(images) != len(labels):
            raise DataError(f"{lbl_src}: {len(labels)} labels for {len(images)} images in {img_src}")
        if len(labels) == 0:
            raise DataError(f"{lbl_src}: no examples")
        top = int(labels.max())
        if top > 9:
            raise DataError(f"{lbl_src}: label {top} out of range 0..9")


def _identify(arrays: Dict[str, np.ndarray]) -> Tuple[str, Dict[str, str], bool]:
    md5 = {key: idx_bytes_md5(arr) for key, arr in arrays.items()}
    for name, sums in KNOWN_MD5.items():
        if md5 == sums:
            return name, md5, True
    # Same sizes as a known dataset but different bytes: most likely a
    # damaged copy, which must not silently train a model.
    for name, sums in KNOWN_MD5.items():
        matches = sum(md5[k] == sums[k] for k in sums)
        if matches >= 2:
            bad = next(k for k in sums if md5[k] != sums[k])
            raise DataError(
                f"{SPLIT_FILES[bad]}: MD5 {md5[bad]} does not match {name}'s canonical "
                f"{sums[bad]} (the other files are {name}); the file is damaged"
            )
    return "custom", md5, False


def _checked_dataset(arrays: Dict[str, np.ndarray], where: Dict[str, str], source) -> Dataset:
    """Checks the four arrays, identifies the dataset and builds the Dataset."""
    _check_arrays(arrays, where)
    name, md5, verified = _identify(arrays)
    return Dataset(
        arrays["train_images"],
        arrays["train_labels"],
        arrays["test_images"],
        arrays["test_labels"],
        name=name,
        source=str(source),
        md5=md5,
        verified=verified,
    )


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
    return _checked_dataset(arrays, where, folder)


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
    return _checked_dataset(arrays, {k: f"{path}[{v}]" for k, v in keys.items()}, path)


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
    from mnist_edge._tf import import_tf  # heavy; only for this last resort

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
            f"no MNIST data found: pass --data-dir or set ${ENV_VAR} to a folder "
            "with the four IDX files (or a Keras mnist.npz)"
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

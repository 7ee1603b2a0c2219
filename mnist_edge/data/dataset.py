"""The Dataset of four checked arrays, and the checks that identify MNIST and Fashion-MNIST."""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from typing import Dict, Tuple

import numpy as np

from mnist_edge.errors import DataError

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

IDX_DTYPES = {0x08: np.uint8}
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

    def test_head(self, n: int) -> Dataset:
        """The same dataset with only its first ``n`` test images (checksums still the full set's).

        For quick runs on slow devices; a reference record of the full test
        set still applies to its first ``n`` entries.
        """
        return dataclasses.replace(self, x_test=self.x_test[:n], y_test=self.y_test[:n])

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


def checked_dataset(arrays: Dict[str, np.ndarray], where: Dict[str, str], source) -> Dataset:
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

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

from mnist_edge.data.dataset import KNOWN_MD5, MAX_IDX_BYTES, SPLIT_FILES, Dataset, idx_bytes_md5
from mnist_edge.data.idx import load_idx_dir, parse_idx, read_idx, read_idx_file
from mnist_edge.data.lookup import (
    ENV_VAR,
    KERAS_NPZ,
    balanced_sample,
    load,
    load_path,
    normalize,
    resolve_source,
)
from mnist_edge.data.npz import load_npz
from mnist_edge.errors import DataError

__all__ = [
    "ENV_VAR",
    "KERAS_NPZ",
    "KNOWN_MD5",
    "MAX_IDX_BYTES",
    "SPLIT_FILES",
    "DataError",
    "Dataset",
    "balanced_sample",
    "idx_bytes_md5",
    "load",
    "load_idx_dir",
    "load_npz",
    "load_path",
    "normalize",
    "parse_idx",
    "read_idx",
    "read_idx_file",
    "resolve_source",
]

"""``mnist-edge data fetch``: MNIST onto a machine without TensorFlow (a Pi, a fresh laptop).

Downloads the same ``mnist.npz`` Keras downloads, with the standard library
only (no TensorFlow, no requests: a device install stays light), into
``~/.keras/datasets/mnist.npz``, the place the data lookup already checks.
The download is capped in size, checked with the canonical MNIST MD5s
before it is kept (a wrong or damaged file is never left behind), and
written through a synced temp file and a rename.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from mnist_edge.data.npz import load_npz
from mnist_edge.errors import DataError

KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"  # what Keras fetches
MAX_DOWNLOAD_BYTES = 64 << 20  # mnist.npz is 11 MB
CHUNK = 1 << 16
TIMEOUT_S = 60


def _download(url: str, handle) -> int:
    """Streams ``url`` into ``handle``; returns the byte count."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            total = 0
            while chunk := response.read(CHUNK):
                total += len(chunk)
                if total > MAX_DOWNLOAD_BYTES:
                    raise DataError(f"{url}: more than {MAX_DOWNLOAD_BYTES >> 20} MB; not MNIST")
                handle.write(chunk)
            return total
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(f"cannot download {url} ({reason})") from None


def fetch(dest: os.PathLike, url: str = KERAS_URL) -> Path:
    """Downloads MNIST to ``dest`` and keeps it only when its checksums are MNIST's.

    Args:
        dest: the ``.npz`` file to write (its folder is created).
        url: where to download from (an http(s) or file URL).

    Returns:
        ``dest``.

    Raises:
        DataError: the download failed, or what arrived is not MNIST.
    """
    dest = Path(dest).expanduser()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".mnist-edge-tmp-", suffix=".npz", dir=dest.parent)
    except OSError as exc:
        raise DataError(f"{dest.parent}: cannot write there ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            _download(url, handle)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            dataset = load_npz(tmp)
        except DataError as exc:  # name the URL, not the temp file
            raise DataError(f"{url}: not MNIST ({str(exc).split(': ', 1)[-1]})") from None
        if not (dataset.verified and dataset.name == "mnist"):
            raise DataError(f"{url}: the file is not MNIST (its checksums are not MNIST's)")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest

"""Atomic file output: write beside the target, then rename into place.

A crash, a Ctrl-C or a failed check never leaves a half-written artefact
under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from mnist_edge.errors import OutputError

# Files finished while a recording() is active (for "interrupted; kept ..." messages).
_recorders = []


def _completed(path: Path) -> Path:
    for recorder in _recorders:
        recorder.append(path)
    return path


@contextlib.contextmanager
def recording() -> Iterator[list]:
    """Collects the files finished (renamed into place) while the block runs."""
    finished: list = []
    _recorders.append(finished)
    try:
        yield finished
    finally:
        _recorders.remove(finished)


def ensure_writable_dir(path: os.PathLike) -> Path:
    """Creates ``path`` if needed and checks that files can be written in it.

    Args:
        path: the output folder.

    Returns:
        The folder as a Path.

    Raises:
        OutputError: when it cannot be created or written.
    """
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create output folder ({exc.strerror or exc})") from None
    if not path.is_dir():
        raise OutputError(f"{path}: not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".mnist-edge-probe-"):
            pass
    except OSError as exc:
        raise OutputError(f"{path}: output folder is not writable ({exc.strerror or exc})") from None
    return path


@contextlib.contextmanager
def staging_dir(final_dir: os.PathLike) -> Iterator[Path]:
    """A hidden temp folder inside ``final_dir``, removed whatever happens.

    Files are built in it and moved into ``final_dir`` with :func:`commit`;
    anything left behind (an exception, KeyboardInterrupt) is deleted.

    Args:
        final_dir: the folder the artefacts end up in (same filesystem, so the
            final rename is atomic).

    Yields:
        The staging folder.
    """
    stage = Path(tempfile.mkdtemp(prefix=".mnist-edge-tmp-", dir=final_dir))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def commit(staged: Path, final: Path) -> Path:
    """Renames a staged file onto its final name (atomic on one filesystem), durably.

    Raises:
        OutputError: the rename (or the sync before it) failed.
    """
    try:
        with open(staged, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(staged, final)
    except OSError as exc:
        raise _cannot_write(final, exc) from None
    sync_dir(final.parent)
    return _completed(final)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"{path}: cannot write ({exc.strerror or exc})")


def _staged_copy(path: Path, data: bytes) -> str:
    """Writes ``data`` to a synced temp file beside ``path``; returns its name.

    Raises:
        OutputError: the file cannot be written (full disk, permissions, ...).
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    with _removed_on_failure(tmp, path):
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
        # mkstemp creates 0600; give the file the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
    return tmp


@contextlib.contextmanager
def _removed_on_failure(tmp: str, path: Path):
    """Deletes the temp file if the block fails; an OSError becomes one OutputError for ``path``."""
    try:
        yield
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _cannot_write(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def sync_dir(folder: os.PathLike) -> None:
    """fsyncs a folder so a rename in it survives a crash (where the OS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync a directory; the rename is still atomic
    finally:
        os.close(fd)


def write_bytes_atomic(path: os.PathLike, data: bytes) -> Path:
    """Writes ``data`` to ``path`` through a synced temp file and a rename.

    Crash-safe: the temp file is fsynced before the rename and the folder
    after it, so ``path`` holds either its old content or all of the new.

    Args:
        path: the destination.
        data: the bytes to write.

    Returns:
        The destination path.
    """
    path = Path(path)
    tmp = _staged_copy(path, data)
    with _removed_on_failure(tmp, path):
        os.replace(tmp, path)
    sync_dir(path.parent)
    return _completed(path)


def write_bytes_new(path: os.PathLike, data: bytes) -> Path:
    """Like :func:`write_bytes_atomic`, but never replaces an existing file.

    The synced temp file is hard-linked to ``path`` (which fails if the name
    is taken) instead of renamed over it.

    Raises:
        OutputError: ``path`` exists, or the file cannot be written.
    """
    path = Path(path)
    tmp = _staged_copy(path, data)
    try:
        os.link(tmp, path)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    sync_dir(path.parent)
    return _completed(path)


def write_json_atomic(path: os.PathLike, document) -> Path:
    """Writes a JSON document atomically, pretty-printed, UTF-8."""
    text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"))


def sha256_file(path: os.PathLike) -> str:
    """Returns the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

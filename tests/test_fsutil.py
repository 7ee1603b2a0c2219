"""Durable writes: the bytes are synced before the rename, the folder after it."""

import os

import pytest

from mnist_edge import fsutil
from mnist_edge.errors import OutputError


@pytest.fixture
def calls(monkeypatch):
    """Records fsync (file or folder) and replace calls, in order, and still does them."""
    log = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        log.append(("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file", fd))
        real_fsync(fd)

    def replace(src, dst):
        log.append(("replace", os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return log


def kinds(log):
    return [kind for kind, _ in log]


def test_atomic_write_syncs_the_file_before_the_rename_and_the_folder_after(tmp_path, calls):
    fsutil.write_bytes_atomic(tmp_path / "out.bin", b"data")
    assert kinds(calls) == ["fsync-file", "replace", "fsync-dir"]


def test_commit_syncs_the_staged_file_before_the_rename_and_the_folder_after(tmp_path, calls):
    staged = tmp_path / "staged.bin"
    staged.write_bytes(b"data")
    fsutil.commit(staged, tmp_path / "final.bin")
    assert kinds(calls) == ["fsync-file", "replace", "fsync-dir"]
    assert (tmp_path / "final.bin").read_bytes() == b"data" and not staged.exists()


def test_atomic_write_keeps_the_old_content_when_the_sync_fails(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def failing_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OutputError, match="cannot write"):
        fsutil.write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]  # no temp file left


def test_atomic_write_gives_the_mode_a_plain_open_would(tmp_path):
    mask = os.umask(0o022)
    try:
        path = fsutil.write_bytes_atomic(tmp_path / "out.bin", b"data")
    finally:
        os.umask(mask)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)

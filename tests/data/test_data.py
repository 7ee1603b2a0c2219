"""mnist_edge.data on the real files and on each kind of bad data."""

import gzip
import importlib.util
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from helpers import FIXTURES

from mnist_edge import data
from mnist_edge.cli import main
from mnist_edge.data import lookup

FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_real_mnist_loads_and_verifies(mnist):
    assert mnist.name == "mnist" and mnist.verified
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.x_train.dtype == np.uint8
    # The sample check from the data README.
    assert mnist.y_train[2000] == 5
    assert list(mnist.x_train[2000][10][:13]) == [0] * 9 + [92, 255, 254, 254]
    assert mnist.md5 == data.KNOWN_MD5["mnist"]


def test_raw_uncompressed_files_load(tmp_path, mnist_dir):
    for src in mnist_dir.glob("*.gz"):
        (tmp_path / src.stem).write_bytes(gzip.decompress(src.read_bytes()))
    loaded = data.load(tmp_path)
    assert loaded.name == "mnist" and loaded.verified


def test_keras_npz_is_verified_by_the_same_md5(tmp_path, mnist):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=mnist.x_train, y_train=mnist.y_train, x_test=mnist.x_test, y_test=mnist.y_test)
    loaded = data.load(path)
    assert loaded.name == "mnist" and loaded.verified
    # A folder holding only mnist.npz works too.
    assert data.load(tmp_path).name == "mnist"


def test_lookup_order(tmp_path, monkeypatch, mnist_dir):
    monkeypatch.setenv("MNIST_EDGE_DATA", str(mnist_dir))
    assert data.resolve_source(None) == mnist_dir
    assert data.resolve_source(tmp_path) == tmp_path  # --data-dir wins
    monkeypatch.delenv("MNIST_EDGE_DATA")
    monkeypatch.setattr(lookup, "KERAS_NPZ", tmp_path / "nothing.npz")
    assert data.resolve_source(None) is None  # falls to the Keras download


@pytest.mark.skipif(
    not FASHION.exists(),
    reason="system package dataset-fashion-mnist missing (./scripts/test.sh installs it)",
)
def test_fashion_mnist_is_accepted():
    fashion = data.load(FASHION)
    assert fashion.name == "fashion-mnist" and fashion.verified
    assert fashion.x_train.shape == (60000, 28, 28)


def _write_idx(path, array):
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _custom_dataset(folder, n_train=50, n_test=20, train_labels=None):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    _write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28)))
    _write_idx(
        folder / "train-labels-idx1-ubyte.gz",
        train_labels if train_labels is not None else np.arange(n_train) % 10,
    )
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28)))
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(n_test) % 10)
    return folder


def test_other_dataset_in_idx_layout_is_custom(tmp_path):
    loaded = data.load(_custom_dataset(tmp_path / "custom"))
    assert loaded.name == "custom" and not loaded.verified
    assert len(loaded.y_train) == 50


def _copy_mnist(mnist_dir, dest):
    shutil.copytree(mnist_dir, dest)
    for p in dest.iterdir():
        p.chmod(0o644)
    dest.chmod(0o755)
    return dest


def _break_missing_file(d):
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    return "t10k-labels-idx1-ubyte.gz: missing"


def _break_truncated_gzip(d):
    p = d / "train-labels-idx1-ubyte.gz"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return "train-labels-idx1-ubyte.gz: corrupt or truncated gzip"


def _break_magic(d):
    p = d / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(p.read_bytes()))
    raw[3] = 0x01  # 0x00000801 is a label file's magic
    p.write_bytes(gzip.compress(bytes(raw)))
    return "t10k-images-idx3-ubyte.gz: wrong magic number 0x00000801"


def _break_count(d):
    p = d / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(p.read_bytes())
    labels = np.frombuffer(raw, np.uint8, offset=8)
    _write_idx(p, labels[:-1])
    return f"{len(labels) - 1} labels for {len(labels)} images"


def _break_payload_size(d):
    p = d / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(p.read_bytes())
    p.write_bytes(gzip.compress(raw[:-100]))
    return f"the file holds {len(raw) - 16 - 100}"  # the payload after the 16-byte header


def _break_one_byte(d):
    p = d / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(p.read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    p.write_bytes(gzip.compress(bytes(raw)))
    return "does not match mnist's canonical"


def _break_label_range(d):
    p = d / "train-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(p.read_bytes()))
    raw[8] = 42
    p.write_bytes(gzip.compress(bytes(raw)))
    return "label 42 out of range"


BREAKERS = [
    _break_missing_file,
    _break_truncated_gzip,
    _break_magic,
    _break_count,
    _break_payload_size,
    _break_one_byte,
    _break_label_range,
]


HAS_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None
needs_tensorflow = pytest.mark.skipif(
    not HAS_TENSORFLOW, reason="needs the train extra (tensorflow is not installed)"
)
# The commands that read MNIST: train (with TensorFlow) and eval of a .tflite (without).
DATA_COMMANDS = [
    pytest.param(["train"], marks=needs_tensorflow, id="train"),
    pytest.param(["eval", "--model", str(FIXTURES / "mnist_mlp_int8_uint8io.tflite")], id="eval-tflite"),
]


@pytest.mark.parametrize("command", DATA_COMMANDS)
@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__[7:])
def test_bad_data_one_clear_line(tmp_path, request, runner, breaker, command):
    # Any IDX dataset shows these faults; only a changed byte needs MNIST's own checksums.
    source = request.getfixturevalue("mnist_dir" if breaker is _break_one_byte else "small_idx_dir")
    d = _copy_mnist(source, tmp_path / "data")
    expected = breaker(d)
    with pytest.raises(data.DataError, match=expected.split(":")[-1].strip()[:20]):
        data.load(d)
    # Through the CLI: one line on stderr, exit 1, nothing on stdout, no traceback.
    out = ["--out", str(tmp_path / "out")] if command[0] == "train" else []
    result = runner.invoke(main, command + ["--data-dir", str(d)] + out)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_missing_folder_via_env(tmp_path, runner, monkeypatch, command):
    monkeypatch.setenv("MNIST_EDGE_DATA", str(tmp_path / "nope"))
    out = ["--out", str(tmp_path / "out")] if command[0] == "train" else []
    result = runner.invoke(main, command + out)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {tmp_path / 'nope'}: data folder does not exist"


def test_missing_folder_option_is_a_usage_error(tmp_path, runner):
    result = runner.invoke(main, ["train", "--data-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_corrupt_npz(tmp_path):
    p = tmp_path / "mnist.npz"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(data.DataError, match=r"not a readable \.npz"):
        data.load(p)


def test_balanced_sample_is_balanced_and_deterministic(mnist):
    a = data.balanced_sample(mnist.y_train, 500, seed=3)
    b = data.balanced_sample(mnist.y_train, 500, seed=3)
    c = data.balanced_sample(mnist.y_train, 500, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert len(a) == 500 and len(np.unique(a)) == 500
    assert np.bincount(mnist.y_train[a], minlength=10).tolist() == [50] * 10

"""Shared fixtures: the real MNIST folder, a CLI runner, trained models."""

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["skipguard"]  # under CI a skip fails the run unless it is allowed


def _mnist_dir() -> Path:
    env = os.environ.get("MNIST_EDGE_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data" / "mnist"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long end-to-end runs (CI still runs them)")
    config.addinivalue_line("markers", "tf: needs TensorFlow (the train extra)")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    path = _mnist_dir()
    if not (path / "train-images-idx3-ubyte.gz").exists():
        pytest.fail(f"MNIST not found at {path}; set MNIST_EDGE_DATA")
    return path


@pytest.fixture(scope="session")
def small_idx_dir(tmp_path_factory) -> Path:
    """A small synthetic dataset in MNIST's IDX layout (300 train / 100 test), for tests that need
    *a* dataset, not MNIST's accuracy: made once per session, copied in a moment."""
    import gzip
    import struct

    import numpy as np

    folder = tmp_path_factory.mktemp("small_idx")
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (300, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(300) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (100, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(100) % 10,
    }
    for name, array in arrays.items():
        header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
        (folder / name).write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
    return folder


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from mnist_edge import data

    return data.load(mnist_dir)


@pytest.fixture
def runner():
    return CliRunner()


def trained(tmp_path_factory, mnist, name: str, **config) -> dict:
    """Trains a model as `mnist-edge train` does (a TrainConfig of ``config``); its metadata."""
    from helpers import require_extra  # here, after pytest has loaded the skipguard plugin

    require_extra("tensorflow", "train")
    from mnist_edge.training import train
    from mnist_edge.training.config import TrainConfig

    return train.train(mnist, tmp_path_factory.mktemp(name), TrainConfig(seed=0, **config))


@pytest.fixture(scope="session")
def full_model(tmp_path_factory, mnist):
    """The default model trained exactly as `mnist-edge train` does (5 epochs)."""
    meta = trained(tmp_path_factory, mnist, "full_model")
    return Path(meta["model"]), meta


@pytest.fixture(scope="session")
def small_model(tmp_path_factory, mnist):
    """A quick model (1 epoch on 3000 images) for tests that need any model."""
    return Path(trained(tmp_path_factory, mnist, "small_model", epochs=1, train_limit=3000)["model"])


@pytest.fixture(scope="session")
def tiny_cnn(tmp_path_factory, mnist):
    """The microcontroller CNN (``--arch tiny``: batch norm, training-only augmentation), 2 quick epochs."""
    meta = trained(tmp_path_factory, mnist, "tiny_cnn", arch="tiny", epochs=2, train_limit=12000)
    return Path(meta["model"])


@pytest.fixture(scope="session")
def small_cnn(tmp_path_factory, mnist):
    """The small CNN (``--arch cnn``), 2 quick epochs: the CNN every export recipe is checked on."""
    return Path(
        trained(tmp_path_factory, mnist, "small_cnn", arch="cnn", epochs=2, train_limit=12000)["model"]
    )


@pytest.fixture(scope="session")
def exported(tmp_path_factory, full_model, mnist):
    """`mnist-edge export --quantize all` of the full model (the real thing)."""
    from mnist_edge import export

    out = tmp_path_factory.mktemp("exported")
    result = export.export(full_model[0], out, dataset=mnist)
    return out, result

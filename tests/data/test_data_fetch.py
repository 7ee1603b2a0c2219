"""`mnist-edge data fetch` / `data where`: MNIST onto a machine without TensorFlow, over real HTTP."""

import functools
import http.server
import threading

import numpy as np
import pytest

from mnist_edge import data
from mnist_edge.cli import main
from mnist_edge.data import lookup


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the server's log would mix with the command's stderr
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory, mnist):
    """A local HTTP server holding a real mnist.npz, a Fashion-MNIST-like one and junk."""
    root = tmp_path_factory.mktemp("www")
    np.savez_compressed(
        root / "mnist.npz",
        x_train=mnist.x_train,
        y_train=mnist.y_train,
        x_test=mnist.x_test,
        y_test=mnist.y_test,
    )
    np.savez_compressed(
        root / "other.npz",
        x_train=mnist.x_train[:100],
        y_train=mnist.y_train[:100],
        x_test=mnist.x_test[:10],
        y_test=mnist.y_test[:10],
    )
    (root / "junk.npz").write_bytes(b"<html>not found</html>")
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_saves_verified_mnist_where_the_lookup_finds_it(served, tmp_path, runner, monkeypatch):
    dest = tmp_path / "keras" / "mnist.npz"
    monkeypatch.setattr(lookup, "KERAS_NPZ", dest)
    monkeypatch.delenv("MNIST_EDGE_DATA", raising=False)
    result = runner.invoke(main, ["data", "fetch", "--url", f"{served}/mnist.npz"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"saved {dest} (MNIST, checksums verified)"
    assert data.resolve_source(None) == dest and data.load(None, allow_download=False).verified
    where = runner.invoke(main, ["data", "where"])
    assert where.stdout.strip() == f"{dest}: mnist, 60000 train / 10000 test (checksums verified)"


@pytest.mark.parametrize(
    "name,message",
    [
        ("other.npz", "the file is not MNIST"),
        ("junk.npz", "junk.npz: not MNIST (not a readable .npz"),
        ("missing.npz", "cannot download"),
    ],
)
def test_what_is_not_mnist_is_never_kept(served, tmp_path, runner, name, message):
    dest = tmp_path / "mnist.npz"
    result = runner.invoke(main, ["data", "fetch", "--url", f"{served}/{name}", "--to", str(dest)])
    assert result.exit_code == 1, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing half-written, nothing wrong kept


def test_no_data_says_how_to_get_it(runner, monkeypatch, tmp_path):
    monkeypatch.delenv("MNIST_EDGE_DATA", raising=False)
    monkeypatch.setattr(lookup, "KERAS_NPZ", tmp_path / "none.npz")
    assert "mnist-edge data fetch" in runner.invoke(main, ["data", "where"]).stdout
    result = runner.invoke(
        main, ["eval", "--model", str(__import__("mnist_edge.runtime").runtime.default_model_path())]
    )
    assert result.exit_code == 1 and "run `mnist-edge data fetch`" in result.stderr

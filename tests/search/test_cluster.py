"""The checks before Ray starts: the extra, the address, the cluster's token, TFLM for an arena limit."""

import importlib.util

import pytest

from mnist_edge.errors import InputError, MissingExtraError, RayClusterError, require_search_extra
from mnist_edge.search import cluster
from tests.helpers import free_port


@pytest.mark.parametrize(
    "absent,named", [({"ray"}, "ray, which is"), ({"ray", "optuna"}, "ray and optuna, which are")]
)
def test_a_missing_search_extra_is_one_line_naming_it(monkeypatch, absent, named):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in absent else real(name, *a)
    )
    with pytest.raises(
        MissingExtraError,
        match=f"needs {named} not installed here; install the search extra: "
        'pip install "mnist-edge\\[train,search\\]"',
    ):
        require_search_extra()


@pytest.mark.parametrize("address", ["6379", "host", "host:port", ":6379"])
def test_an_address_that_is_not_host_port_is_a_usage_line(address):
    with pytest.raises(InputError, match="expected HOST:PORT"):
        cluster.check_address(address)


def test_an_address_nothing_listens_at_names_the_fix():
    port = free_port()
    with pytest.raises(
        RayClusterError, match=f"no Ray cluster answers at 127.0.0.1:{port} .*ray start --head --port {port}"
    ):
        cluster.check_address(f"127.0.0.1:{port}")


@pytest.mark.parametrize(
    "env,token_file,mode",
    [
        ({}, False, None),
        ({}, True, "token"),
        ({"RAY_AUTH_TOKEN": "x"}, False, "token"),
        ({"RAY_AUTH_MODE": "disabled"}, True, "disabled"),
    ],
    ids=["no token", "ray start's token file", "token in the environment", "the user's own choice kept"],
)
def test_the_clusters_token_is_sent_when_one_is_at_hand(monkeypatch, tmp_path, env, token_file, mode):
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    token = tmp_path / "auth_token"
    if token_file:
        token.write_text("secret")
    monkeypatch.setattr(cluster, "TOKEN_FILE", token)
    cluster.use_cluster_token()
    import os

    assert os.environ.get("RAY_AUTH_MODE") == mode


def test_an_arena_limit_without_tflite_micro_is_one_line(monkeypatch):
    from mnist_edge.evaluation.micro import require_micro

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tflite_micro" else real(name, *a)
    )
    with pytest.raises(MissingExtraError, match="search --max-arena-kb needs TensorFlow Lite Micro"):
        require_micro("search --max-arena-kb")

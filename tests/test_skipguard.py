"""The CI skip guard (tests/skipguard.py): a skip fails CI unless it was decided to be right."""

import pytest
from skipguard import is_allowed

pytest_plugins = ["pytester"]

SKIPPING_TESTS = """
import pytest

def test_needs_httpx():
    pytest.importorskip("a_package_that_is_not_here_httpx")

def test_runs():
    pass
"""
EXTRA_SKIP = """
from helpers import require_extra

def test_needs_train():
    require_extra("a_package_that_is_not_here_tf", "train")
"""

GUARD_CASES = [
    # (test file, environment, exit code, listed as unexpected)
    (SKIPPING_TESTS, {"CI": "true"}, 1, True),
    (SKIPPING_TESTS, {"CI": ""}, 0, True),
    (SKIPPING_TESTS, {"CI": "", "MNIST_EDGE_NO_SKIPS": "1"}, 1, True),
    (EXTRA_SKIP, {"CI": "true"}, 1, True),
    (EXTRA_SKIP, {"CI": "true", "MNIST_EDGE_ABSENT_EXTRAS": "train,micro"}, 0, False),
    (EXTRA_SKIP, {"CI": "true", "MNIST_EDGE_ABSENT_EXTRAS": "micro"}, 1, True),
]


@pytest.mark.parametrize("source,env,code,listed", GUARD_CASES)
def test_an_unexpected_skip_fails_ci(pytester, monkeypatch, source, env, code, listed):
    for key in ("CI", "MNIST_EDGE_NO_SKIPS", "MNIST_EDGE_ABSENT_EXTRAS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYTHONPATH", str(__import__("pathlib").Path(__file__).parent))
    pytester.makepyfile(test_inner=source)
    result = pytester.runpytest_subprocess("-p", "skipguard", "-rs")
    assert result.ret == code, result.stdout.str()
    assert ("unexpected skips: 1" in result.stdout.str()) == listed


@pytest.mark.parametrize(
    "reason,absent,allowed",
    [
        ("root reads every file", set(), True),
        ("could not import 'httpx': No module named 'httpx'", set(), False),
        ("needs the train extra (tensorflow is not installed)", {"train"}, True),
        ("needs the train extra (tensorflow is not installed)", set(), False),
        ("system package dataset-fashion-mnist missing", {"train"}, False),
    ],
)
def test_allowed_reasons(reason, absent, allowed):
    assert is_allowed(reason, absent) == allowed

"""A pytest plugin: under CI a skipped test fails the run unless its reason is allowed.

A skip is a failure until someone decided it is not: a test skipped because
a package is missing is a missing install step (the serve tests once all
skipped on a clean install and CI stayed green). Under ``CI=true`` (or
``MNIST_EDGE_NO_SKIPS=1``) the session fails when any skip is not on
:data:`ALLOWED`, or is not a "needs the X extra" skip in a venv that leaves
out extra X on purpose (``MNIST_EDGE_ABSENT_EXTRAS=train,micro``, set by
.ci/run's runtime-only steps). Elsewhere the skips are listed loudly.
"""

from __future__ import annotations

import os
import re

# Reasons a test may skip in CI, each with why that is decided and right.
ALLOWED = {
    # Permission tests cannot take a file away from root, and CI runs as root.
    "root reads every file": "CI runs as root",
    # test_device's missing-extra message is checked for real in the runtime-only venv.
    "the real thing runs in the runtime-only venv": "checked in the TensorFlow-free venv",
}
EXTRA = re.compile(r"needs the (\w+) extra")  # helpers.require_extra's reason


def absent_extras() -> set:
    return {e.strip() for e in os.environ.get("MNIST_EDGE_ABSENT_EXTRAS", "").split(",") if e.strip()}


def is_allowed(reason: str, absent: set) -> bool:
    """Whether a skip with ``reason`` was decided to be right here."""
    if any(allowed in reason for allowed in ALLOWED):
        return True
    extra = EXTRA.search(reason)
    return bool(extra and extra.group(1) in absent)


def strict() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("MNIST_EDGE_NO_SKIPS") == "1"


_skips: list = []


def _reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skips.append((report.nodeid, _reason(report)))


def pytest_collectreport(report):
    if report.skipped:
        _skips.append((report.nodeid, _reason(report)))


def _unexpected():
    absent = absent_extras()
    return [(node, reason) for node, reason in _skips if not is_allowed(reason, absent)]


def pytest_terminal_summary(terminalreporter):
    unexpected = _unexpected()
    if not unexpected:
        return
    verdict = "FAIL the run (CI)" if strict() else "would fail CI"
    terminalreporter.section(f"unexpected skips: {len(unexpected)} ({verdict})", red=True)
    for node, reason in unexpected:
        terminalreporter.line(f"{node}: {reason}")
    terminalreporter.line(
        "Install what they need (./scripts/test.sh does), or allow them in tests/skipguard.py."
    )


def pytest_sessionfinish(session, exitstatus):
    if strict() and _unexpected() and exitstatus == 0:
        session.exitstatus = 1

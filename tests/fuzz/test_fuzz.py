"""Replaying every fuzz target's seeds and saved findings, and the fuzzing harness itself.

The test command only replays: the same inputs on every run, so a fresh
clone's first run and its second give the same result. Exploration (a
coverage-guided search, whose finds depend on time and luck) runs as its own
CI step, ``scripts/fuzz.sh``: a finding fails that step with the input saved,
and becomes a file in tests/fuzz/regressions/<target>/, replayed here.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import require_extra

FUZZ = Path(__file__).resolve().parent
TARGETS = ["model", "image", "npy", "idx", "npz", "sidecar"]
REGRESSIONS = sorted(p for p in (FUZZ / "regressions").glob("*/*") if p.is_file())


@pytest.mark.parametrize("path", REGRESSIONS, ids=[f"{p.parent.name}/{p.name}" for p in REGRESSIONS])
def test_saved_findings_stay_fixed(path):
    result = replay(path.parent.name, path)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


def replay(target, path):
    return subprocess.run(
        [sys.executable, str(FUZZ / "targets.py"), target, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_every_seed_input_is_handled(tmp_path, target):
    sys.path.insert(0, str(FUZZ))
    import targets

    for name, data in targets.seeds(target).items():
        (tmp_path / name).write_bytes(data)
        result = replay(target, tmp_path / name)
        assert result.returncode == 0 and result.stdout.strip().endswith("ok"), (name, result.stderr[-2000:])


@pytest.mark.slow
def test_the_harness_runs_a_repeatable_search(tmp_path):
    """A fixed seed and run count: the harness itself works (exploration is scripts/fuzz.sh)."""
    require_extra("atheris", "dev")
    result = subprocess.run(
        [
            sys.executable,
            str(FUZZ / "run.py"),
            "idx",
            "-runs=300",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and not list(tmp_path.iterdir()), result.stderr[-3000:]
    assert re.search(r"Done \d+ runs in \d+ second\(s\) \(1 processes\)", result.stderr), result.stderr[
        -2000:
    ]


def test_the_runner_knows_every_target():
    sys.path.insert(0, str(FUZZ))
    import run
    import targets

    assert run.TARGET_NAMES == list(targets.TARGETS) == TARGETS

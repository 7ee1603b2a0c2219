"""Fuzzing every parser of user input (atheris, in child processes) and replaying saved findings.

Each fuzz run is coverage-guided for a fixed budget with libFuzzer's limits
(500 MB peak memory, 20 s per input); a crash, a traceback or a limit
exceeded fails it, and libFuzzer saves the input. Saved findings live in
tests/fuzz/regressions/<target>/ and are replayed on every test run.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent / "fuzz"
TARGETS = ["model", "image", "npy", "idx", "npz", "sidecar"]
BUDGET_SECONDS = 25
REGRESSIONS = sorted(p for p in (FUZZ / "regressions").glob("*/*") if p.is_file())


@pytest.mark.parametrize("path", REGRESSIONS, ids=[f"{p.parent.name}/{p.name}" for p in REGRESSIONS])
def test_saved_findings_stay_fixed(path):
    result = subprocess.run(
        [sys.executable, str(FUZZ / "targets.py"), path.parent.name, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target(tmp_path, target):
    pytest.importorskip("atheris")
    result = subprocess.run(
        [
            sys.executable,
            str(FUZZ / "run.py"),
            target,
            f"-max_total_time={BUDGET_SECONDS}",
            "-rss_limit_mb=500",
            "-timeout=20",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=BUDGET_SECONDS + 120,
    )
    runs = re.findall(r"Done (\d+) runs in \d+ second\(s\) \((\d+) processes\)", result.stderr)
    findings = sorted(p.name for p in tmp_path.iterdir())
    print(f"{target}: {runs[-1] if runs else '?'} (runs, processes), findings: {findings or 'none'}")
    assert result.returncode == 0 and not findings, (findings, result.stderr[-3000:])
    assert runs and int(runs[-1][0]) > 100


def test_the_runner_knows_every_target():
    sys.path.insert(0, str(FUZZ))
    import run
    import targets

    assert run.TARGET_NAMES == list(targets.TARGETS) == TARGETS

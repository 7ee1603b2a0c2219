"""Coverage-guided fuzzing of one target with atheris (libFuzzer).

Shows: no input to the model validator and loader, the image loader and
front-end, the .npy reader, the IDX/npz parsers or the sidecar loader
makes mnist-edge crash, print a traceback, or use more than the memory
limit. libFuzzer enforces the limits (-rss_limit_mb, -timeout), writes any
finding to -artifact_prefix, and exits non-zero.

Run: python tests/fuzz/run.py TARGET [CORPUS_DIR] -max_total_time=60 -rss_limit_mb=500
(TARGET: model, image, npy, idx, npz, sidecar). With no corpus folder, a
fresh one is seeded from tests/fuzz/targets.py and the saved findings.
``scripts/fuzz.sh`` explores every target this way (a CI step of its own);
the test command only replays (tests/test_fuzz.py), so it never depends on
what a random search hits this time. With -seed=S, child process i uses
seed S+i, so a run is repeatable.

This script supervises: the fuzzing itself runs in fresh child processes of
at most RUNS_PER_PROCESS inputs each, sharing the corpus, until the time
budget is spent; it ends with libFuzzer's own "Done N runs" line (the sum).
Two measured reasons, both about the harness rather than mnist-edge:
- atheris leaks the result of every instrumented comparison that is not a
  plain bool (its ``_cmp`` hands back a new reference as a borrowed handle):
  ``a > 0.5`` on a 1-megapixel array leaks 1 MB a call, and the image
  target grew 28 MB per 1,000 inputs until -rss_limit_mb blamed a harmless
  input. A replay of 30,000 mutated images without instrumentation stays
  flat at 45-77 MB, so the leak is not ours.
- -rss_limit_mb checks the process's *peak* RSS, and Linux carries a
  parent's peak across vfork + exec: started straight from a pytest process
  that once held TensorFlow, the fuzzer begins at a 1.9 GB "peak". Children
  of this small supervisor start from their own few MB.
"""

import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RUNS_PER_PROCESS = 5000
# targets.TARGETS' names; the supervisor does not import the targets (test_fuzz checks they agree).
TARGET_NAMES = ["model", "image", "npy", "idx", "npz", "sidecar"]
CHILD_ENV = "MNIST_EDGE_FUZZ_CHILD"
DONE = re.compile(r"Done (\d+) runs")


def fuzz_in_this_process(name, args):
    """The libFuzzer loop itself (a child of the supervisor)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import atheris

    with atheris.instrument_imports(include=["mnist_edge"]):
        import mnist_edge.data
        import mnist_edge.preprocess
        import mnist_edge.runtime  # noqa: F401

    import targets  # after the instrumented imports, so they are instrumented

    atheris.Setup([sys.argv[0]] + args, targets.TARGETS[name])
    atheris.Fuzz()


def seeded_corpus(name, folder):
    import targets

    for seed_name, data in targets.seeds(name).items():
        (folder / seed_name).write_bytes(data)
    for finding in (HERE / "regressions" / name).glob("*"):
        shutil.copy(finding, folder / finding.name)
    return folder


def child_seed(flags, process):
    """-seed=S becomes S+process, so each child explores anew and a run repeats."""
    return [f"-seed={int(a.split('=', 1)[1]) + process}" if a.startswith("-seed=") else a for a in flags]


def time_budget(args):
    """The -max_total_time=S flag's seconds (None: no budget), and the other flags."""
    budget = [a for a in args if a.startswith("-max_total_time=")]
    rest = [a for a in args if not a.startswith("-max_total_time=")]
    return (float(budget[-1].split("=", 1)[1]) if budget else None), rest


def run_child(name, args, work):
    """One fuzzing process; its output is passed on. Returns (exit code, runs)."""
    env = dict(os.environ, **{CHILD_ENV: "1", "TMPDIR": str(work)})
    result = subprocess.run(
        [sys.executable, __file__, name, *args], env=env, stderr=subprocess.PIPE, text=True
    )
    sys.stderr.write(result.stderr)
    runs = DONE.findall(result.stderr)
    return result.returncode, int(runs[-1]) if runs else 0


def supervise(name, args):
    budget, flags = time_budget(args)
    work = Path(tempfile.mkdtemp(prefix=f"mnist-edge-fuzz-{name}-"))
    if not any(not a.startswith("-") for a in flags):
        flags = [str(seeded_corpus(name, work))] + flags
    start, total, processes = time.monotonic(), 0, 0
    code = 0
    while code == 0:
        left = None if budget is None else budget - (time.monotonic() - start)
        if left is not None and left < 1:
            break
        limit = [] if left is None else [f"-max_total_time={math.ceil(left)}"]
        runs_flag = [] if any(a.startswith("-runs=") for a in flags) else [f"-runs={RUNS_PER_PROCESS}"]
        code, runs = run_child(name, child_seed(flags, processes) + limit + runs_flag, work)
        total, processes = total + runs, processes + 1
        if budget is None:
            break
    elapsed = round(time.monotonic() - start)
    sys.stderr.write(f"Done {total} runs in {elapsed} second(s) ({processes} processes)\n")
    shutil.rmtree(work, ignore_errors=True)
    return code


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in TARGET_NAMES:
        sys.exit(f"usage: run.py {{{','.join(TARGET_NAMES)}}} [CORPUS_DIR] [libFuzzer flags]")
    name, args = sys.argv[1], sys.argv[2:]
    if os.environ.get(CHILD_ENV):
        fuzz_in_this_process(name, args)
    else:
        sys.exit(supervise(name, args))


if __name__ == "__main__":
    main()

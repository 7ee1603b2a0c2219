"""Coverage-guided fuzzing of one target with atheris (libFuzzer).

Shows: no input to the model validator and loader, the image loader and
front-end, the .npy reader, the IDX/npz parsers or the sidecar loader
makes mnist-edge crash, print a traceback, or use more than the memory
limit. libFuzzer enforces the limits (-rss_limit_mb, -timeout), writes any
finding to -artifact_prefix, and exits non-zero.

Run: python tests/fuzz/run.py TARGET [CORPUS_DIR] -max_total_time=60 -rss_limit_mb=500
(TARGET: model, image, npy, idx, npz, sidecar). With no corpus folder, a
fresh one is seeded from tests/fuzz/targets.py.
"""

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

# libFuzzer's -rss_limit_mb checks the process's *peak* RSS, and Linux carries
# a parent's peak across vfork + exec: launched from a pytest process that
# once held TensorFlow, this process starts at ~1.9 GB "peak" and every run
# is an instant out-of-memory finding. A child of this small process starts
# from its own few MB, so relaunch once when the inherited peak is large.
INHERITED_PEAK_LIMIT_KB = 200 * 1024
if resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > INHERITED_PEAK_LIMIT_KB:
    sys.exit(subprocess.call([sys.executable, *sys.argv]))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import atheris

with atheris.instrument_imports(include=["mnist_edge"]):
    import mnist_edge.data
    import mnist_edge.preprocess
    import mnist_edge.runtime  # noqa: F401

import targets


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in targets.TARGETS:
        sys.exit(f"usage: run.py {{{','.join(targets.TARGETS)}}} [CORPUS_DIR] [libFuzzer flags]")
    name = sys.argv[1]
    args = sys.argv[2:]
    if not any(not a.startswith("-") for a in args):
        corpus = Path(tempfile.mkdtemp(prefix=f"corpus-{name}-"))
        for seed_name, data in targets.seeds(name).items():
            (corpus / seed_name).write_bytes(data)
        args = [str(corpus)] + args
    atheris.Setup([sys.argv[0]] + args, targets.TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()

"""`mnist-edge search` here: what a 32 KB / 20 µs search finds, what a trial costs, what 2 workers buy.

1. **The search** (skipped with ``--from-search DIR``, which reads a finished one):
   ``mnist-edge search --max-kb 32 --max-us 20 --trials 16`` as a user runs it
   (the default space, Ray started here on this machine's cores).
2. **The winner against the shipped models**, measured side by side in this run:
   the default CNN, the shipped tiny model and the tutorial MLP (trained and
   converted to int8 here unless ``--mlp X_int8.tflite``): size, p50 of one-image
   calls on LiteRT (one thread, the four interleaved in windows, the
   least-disturbed window's p50, as ``bench`` does), TFLM arena, MNIST test accuracy (int8), and
   accuracy on real-world renderings of MNIST test digits through the
   front-end (``quantize_frontier.real_world_forms``: scans, low resolution, pens,
   markers, blur, photos, mouse lines; argmax, no abstention).
3. **Cost per trial**, from the search's record: wall seconds of trials stopped
   before training (over budget), stopped early by ASHA, and trained to the end.
4. **Scale-out**: one small search (4 trials, 2 epochs on 20,000 digits, a
   narrow space, no budget) run twice, 1 worker with 2 threads against 2
   workers with 1 thread each: the speed-up of the tuning loop (the record's
   seconds, before the winner's export).

    MNIST_EDGE_DATA=../shared/data/mnist python benchmarks/search.py [--trials 16] \\
        [--from-search DIR] [--keep DIR] [--mlp X_int8.tflite] [--skip-speedup] [--n 200]

Timings are this machine's (2 cores shared with whatever else runs); never a Pi's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from quantize_frontier import real_world_forms

from mnist_edge import data
from mnist_edge.bench.timing import interleaved
from mnist_edge.evaluation import micro
from mnist_edge.runtime import Predictor, default_model_path

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "models" / "tiny" / "mnist_tiny_qat_int8.tflite"
SPEEDUP_SPACE = {
    "stages": [2],
    "convs": [1],
    "width": [8, 12, 16, 24],
    "growth": [2.0],
    "kernel": [3],
    "pool": ["max"],
    "head": ["flatten"],
    "dense": [0],
    "augment": [0.0],
    "epochs": [2],
    "recipe": ["int8"],
}


def run_search(out: Path, *args) -> float:
    """``mnist-edge search`` in its own process, as a user runs it; its wall seconds."""
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "mnist_edge", "search", "--out", str(out), "--quiet", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode not in (0, 3):
        raise SystemExit(f"search failed ({done.returncode}): {done.stderr[-1500:]}")
    print(done.stdout)
    return time.perf_counter() - started


def mlp_int8(dataset, stage: Path) -> Path:
    """The tutorial MLP, trained (5 epochs) and converted to int8 here."""
    from mnist_edge.export import ExportConfig, export
    from mnist_edge.training import train
    from mnist_edge.training.config import TrainConfig

    keras_path = train.train(dataset, stage, TrainConfig(seed=0))["model"]
    result = export(keras_path, stage, ExportConfig(quantizations=("int8",)), dataset=dataset)
    return Path(result["artifacts"][0]["path"])


def p50s(predictors: dict, images) -> dict:
    """One-image p50 of every model, interleaved in windows (the least-disturbed window's p50)."""
    calls = {name: (lambda p=p: p.predict(images[0])) for name, p in predictors.items()}
    measured = interleaved(calls, runs=2000, warmup=200)
    return {name: m.figures()["latency_us"]["p50"] for name, m in measured.items()}


def measure(name: str, predictor, p50_us: float, dataset, world) -> dict:
    path = predictor.model_path
    try:
        arena = (
            micro.measure_arena(predictor.content, predictor.prepare(dataset.x_test[:1]), path.name) / 1024
        )
    except micro.MicroError:
        arena = float("nan")
    x_world, y_world, missed = world
    return {
        "model": name,
        "kb": len(predictor.content) / 1024,
        "p50_us": p50_us,
        "arena_kb": arena,
        "mnist": float(np.mean(predictor.probabilities(dataset.x_test).argmax(1) == dataset.y_test)),
        "world": float(np.sum(predictor.probabilities(x_world).argmax(1) == y_world))
        / (len(y_world) + missed),
    }


def comparison_table(rows) -> str:
    lines = [
        "| model | size KB | p50 µs | TFLM arena KB | MNIST int8 | real-world |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['kb']:.1f} | {r['p50_us']:.1f} | {r['arena_kb']:.1f} | {r['mnist']:.4f} "
            f"| {r['world']:.4f} |"
        )
    return "\n".join(lines)


def trial_costs(record: dict) -> str:
    by_status = {}
    for t in record["trials"]:
        by_status.setdefault(t["status"], []).append(t["seconds"])
    parts = [
        f"{status}: {len(s)} trials, median {statistics.median(s):.0f} s"
        for status, s in sorted(by_status.items())
    ]
    total = sum(t["seconds"] for t in record["trials"])
    return (
        f"trials {len(record['trials'])}, tuning loop {record['seconds']:.0f} s wall, "
        f"{total:.0f} trial-seconds; " + "; ".join(parts)
    )


def speedup(mnist_dir: str, stage: Path) -> str:
    (stage / "space.json").write_text(json.dumps(SPEEDUP_SPACE))
    common = ["--trials", "4", "--space", str(stage / "space.json"), "--train-limit", "20000", "--seed", "1"]
    seconds = {}
    for workers, cpus in ((1, 2), (2, 1)):
        out = stage / f"speedup-{workers}"
        run_search(out, *common, "--workers", str(workers), "--cpus-per-trial", str(cpus))
        seconds[workers] = json.loads((out / "search.json").read_text())["seconds"]
    return (
        f"4 trials (2 epochs, 20,000 digits): 1 worker x 2 threads {seconds[1]:.0f} s, "
        f"2 workers x 1 thread {seconds[2]:.0f} s: speed-up {seconds[1] / seconds[2]:.2f}x "
        f"on {os.cpu_count()} cores"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--max-kb", type=float, default=32)
    parser.add_argument("--max-us", type=float, default=20)
    parser.add_argument("--from-search", type=Path, help="a finished search's folder (skips step 1)")
    parser.add_argument("--mlp", type=Path, help="the tutorial MLP in int8 (trained here when not given)")
    parser.add_argument("--skip-speedup", action="store_true")
    parser.add_argument("--keep", type=Path, help="write the search here (default: a temporary folder)")
    parser.add_argument("--n", type=int, default=200, help="test digits per real-world rendering")
    args = parser.parse_args()

    dataset = data.load()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        stage = Path(tmp)
        out = args.from_search
        if out is None:
            out = args.keep or stage / "search"
            wall = run_search(
                out, "--max-kb", str(args.max_kb), "--max-us", str(args.max_us), "--trials", str(args.trials)
            )
            print(f"search: {wall:.0f} s wall for {args.trials} trials")
        record = json.loads((out / "search.json").read_text())
        print(trial_costs(record))
        winner = sorted(out.glob("mnist_search_*.tflite"))
        world = real_world_forms(dataset, args.n)
        models = [("search winner", winner[0])] if winner else []
        models += [("default CNN (shipped)", default_model_path()), ("tiny QAT (shipped)", TINY)]
        models.append(("tutorial MLP", args.mlp or mlp_int8(dataset, stage)))
        predictors = {name: Predictor(path, num_threads=1) for name, path in models}
        latency = p50s(predictors, dataset.x_test)
        rows = [measure(name, p, latency[name], dataset, world) for name, p in predictors.items()]
        print(comparison_table(rows))
        if not winner:
            print(f"no trial met the budget {record['budget']}")
        if not args.skip_speedup:
            print(speedup(os.environ.get("MNIST_EDGE_DATA", ""), stage))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

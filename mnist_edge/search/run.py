"""The search's driver: Ray, Ray Tune (Optuna's TPE sampling, ASHA stopping), the verdicts, the winner.

Steps, each a function: :func:`~mnist_edge.search.cluster.connect` (start Ray here, or join a cluster
at ``--ray-address``); :func:`make_tuner` (or :func:`restore_tuner` for
``--resume``); ``fit`` under :func:`~mnist_edge.search.cluster.graceful_stop` (Ctrl-C and SIGTERM let
Tune save its state, so the search resumes); :func:`collect` the trials,
keep each measured model under ``trials/`` and time it again here while
nothing else runs (a trial's own timing shares the CPUs with other
trials); write the table, the Pareto plot and the record; export the
best feasible trial through ``export`` (parity gate on the test set, the
TFLM check for int8).

Ray is imported inside the functions: it is the ``search`` extra.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import signal
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

from mnist_edge import __version__, constants, fsutil
from mnist_edge import data as data_mod
from mnist_edge.errors import InputError, SearchInterrupted
from mnist_edge.export.auto import single_image_p50_us
from mnist_edge.export.config import ExportConfig
from mnist_edge.export.pipeline import export
from mnist_edge.runtime import Predictor
from mnist_edge.search import results
from mnist_edge.search.cluster import connect, graceful_stop, quiet_ray
from mnist_edge.search.config import SearchConfig
from mnist_edge.search.data import SearchData, prepare
from mnist_edge.search.measure import LATENCY_IMAGES
from mnist_edge.search.space import load_space, starting_points
from mnist_edge.search.trial import MODEL_FILE, TFLITE_FILE, run_trial

EXPERIMENT = "search"
RECORD_FILE = "search.json"
TRIALS_CSV = "trials.csv"
PARETO_PNG = "pareto.png"
MODEL_STEM = "mnist_search"
ASHA_REDUCTION = 3


def _progress(log: Callable[[str], None]):
    from ray import tune

    class Progress(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            if result.get("stage") == "training":
                log(
                    f"trial {trial.trial_id}: epoch {result['epoch']}/{trial.config['epochs']} "
                    f"validation {result['val_accuracy_keras']:.4f}"
                )

        def on_trial_complete(self, iteration, trials, trial, **info):
            last = trial.last_result or {}
            verdict = "feasible" if last.get("feasible") else last.get("reasons") or last.get("stage")
            log(f"trial {trial.trial_id} done: {verdict}")

    return Progress()


def _trainable(data: SearchData, cpus: int):
    from ray import tune

    return tune.with_resources(tune.with_parameters(run_trial, data=data), {"cpu": cpus})


def make_tuner(config: SearchConfig, space: Dict[str, List], data: SearchData, log):
    """A new Tuner: Optuna's TPE over ``space`` (seeded), ASHA on the validation score."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    return tune.Tuner(
        _trainable(data, config.cpus_per_trial),
        param_space={name: tune.choice(values) for name, values in space.items()},
        tune_config=tune.TuneConfig(
            metric="score",
            mode="max",
            search_alg=OptunaSearch(points_to_evaluate=starting_points(space) or None, seed=config.seed),
            scheduler=ASHAScheduler(
                max_t=max(space["epochs"]),
                grace_period=min(config.grace_epochs, max(space["epochs"])),
                reduction_factor=ASHA_REDUCTION,
            ),
            num_samples=config.trials,
            max_concurrent_trials=config.max_concurrent,
            reuse_actors=True,  # one TensorFlow start per worker, not per trial
        ),
        run_config=_run_config(config, log),
    )


def _run_config(config: SearchConfig, log):
    from ray import tune

    return tune.RunConfig(
        name=EXPERIMENT,
        storage_path=str((config.out_dir / "ray").resolve()),
        verbose=0,
        callbacks=[_progress(log)],
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
    )


def restore_tuner(config: SearchConfig, data: SearchData):
    """The interrupted search's Tuner (unfinished and errored trials run again)."""
    from ray import tune

    path = str((config.out_dir / "ray" / EXPERIMENT).resolve())
    if not tune.Tuner.can_restore(path):
        raise InputError(f"{config.out_dir}: no search to resume here (no Ray Tune experiment in {path})")
    return tune.Tuner.restore(path, trainable=_trainable(data, config.cpus_per_trial), resume_errored=True)


def _first_line(error) -> Optional[str]:
    if error is None:
        return None
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1][:200] if text else ''}"


def _keep_model(row: dict, checkpoint, trials_dir: Path) -> None:
    """Copies a measured trial's .tflite and .keras under ``trials/`` (the row names them)."""
    with checkpoint.as_directory() as folder:
        for name, suffix in ((TFLITE_FILE, ".tflite"), (MODEL_FILE, ".keras")):
            target = trials_dir / f"{row['trial']}{suffix}"
            fsutil.write_bytes_atomic(target, (Path(folder) / name).read_bytes())
    row["model"] = str(trials_dir / f"{row['trial']}.tflite")


def _time_quietly(row: dict, images) -> None:
    """The trial model's p50 again, with no trial training beside it: the figure the budget judges."""
    row["p50_us_in_trial"] = row["p50_us"]
    predictor = Predictor(row["model"], num_threads=1)
    p50 = single_image_p50_us(predictor, images[:LATENCY_IMAGES], constants.SEARCH_LATENCY_RUNS)
    row["p50_us"] = round(p50, 2)


def collect(grid, config: SearchConfig, data: SearchData, interrupted: bool) -> List[dict]:
    """Every trial as a row; measured ones kept under ``trials/``, timed again quietly and judged."""
    trials_dir = config.out_dir / "trials"
    trials_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for result in grid:
        metrics, error = result.metrics or {}, _first_line(result.error)
        status = results.status_of(metrics, error, interrupted)
        trial = metrics.get("trial_id") or Path(result.path).name
        row = results.make_row(
            trial, result.config or {}, metrics, status, metrics.get("time_total_s", 0.0), error
        )
        if status == "measured" and result.checkpoint is not None:
            _keep_model(row, result.checkpoint, trials_dir)
            _time_quietly(row, data.x_val)
            results.judge(row, config.budget)
        rows.append(row)
    return rows


def _record(config, space, ray_facts, data: SearchData, rows, best, seconds, interrupted) -> dict:
    return {
        "format": "mnist-edge/search/1",
        "mnist_edge_version": __version__,
        "config": config.record(),
        "space": space,
        "sampler": f"Optuna TPE through Ray Tune (seed {config.seed}), "
        f"starting from {len(starting_points(space))} known members",
        "scheduler": f"ASHA (grace {config.grace_epochs} epochs, reduction {ASHA_REDUCTION}, "
        "on validation accuracy)",
        "ray": ray_facts,
        "data": {
            "train_digits": int(len(data.y_train)),
            "validation_digits": int(len(data.y_val)),
            "images": None if data.y_images is None else int(len(data.y_images)),
            "split_seed": config.seed,
        },
        "budget": config.budget.text(),
        "interrupted": interrupted,
        "seconds": round(seconds, 1),
        "best": None if best is None else best["trial"],
        "trials": [dict(r) for r in rows],
    }


def _export_best(best: dict, config: SearchConfig, dataset, log) -> dict:
    """The winner through ``export``: the test-set parity gate, and TFLM's for int8."""
    source = fsutil.write_bytes_atomic(
        config.out_dir / f"{MODEL_STEM}.keras", Path(best["model"]).with_suffix(".keras").read_bytes()
    )
    chosen_by = {
        "by": "mnist-edge search",
        "record": RECORD_FILE,
        "trial": best["trial"],
        "budget": config.budget.text(),
        "validation_accuracy": best["val_accuracy"],
    }
    export_config = ExportConfig(
        quantizations=(best["recipe"],),
        micro=best["recipe"] == "int8" and importlib.util.find_spec("tflite_micro") is not None,
        c_array=best["recipe"] == "int8",
        chosen_by=chosen_by,
    )
    return export(source, config.out_dir, export_config, dataset=dataset, log=log)


def search(
    config: SearchConfig, dataset: data_mod.Dataset, resume: bool = False, log: Callable = print
) -> dict:
    """Runs (or resumes) a search, writes its results, and exports the best feasible trial.

    Args:
        config: the budget, space, data and where to run (with ``resume``, the
            record's config with only ``ray_address``/``max_concurrent`` changed).
        dataset: MNIST (trials see the training set; the winner's gate the test set).
        resume: continue the search in ``config.out_dir``.
        log: progress lines.

    Returns:
        ``{"rows", "best", "table", "files", "export", "record"}``; ``best`` None
        when no trial met the budget (nothing exported).

    Raises:
        SearchInterrupted: Ctrl-C/SIGTERM (results so far written; resume with ``--resume``).
        RayClusterError, InputError, DataError: see :func:`check_address`, :func:`prepare`.
    """
    started = time.perf_counter()
    quiet_ray()
    fsutil.ensure_writable_dir(config.out_dir)
    space = config.space or load_space()
    config = dataclasses.replace(config, space=space)
    data = prepare(config, dataset)
    if not resume:
        fsutil.write_json_atomic(
            config.out_dir / RECORD_FILE, _record(config, space, {}, data, [], None, 0.0, False)
        )
    with connect(config, log) as ray_facts:
        tuner = restore_tuner(config, data) if resume else make_tuner(config, space, data, log)
        with graceful_stop() as stop:
            grid = tuner.fit()
        rows = collect(grid, config, data, interrupted=stop["signal"] is not None)
    best = results.choose(rows) if stop["signal"] is None else None
    files = [
        results.write_csv(rows, config.out_dir / TRIALS_CSV),
        results.pareto_figure(rows, best, config.budget, config.out_dir / PARETO_PNG),
    ]
    record = _record(
        config, space, ray_facts, data, rows, best, time.perf_counter() - started, stop["signal"] is not None
    )
    files.append(fsutil.write_json_atomic(config.out_dir / RECORD_FILE, record))
    if stop["signal"] is not None:
        done = sum(r["status"] == "measured" or r["status"] == "over budget" for r in rows)
        raise SearchInterrupted(
            f"search stopped after {done} of {config.trials} trials; its state is saved: "
            f"mnist-edge search --resume --out {config.out_dir}",
            terminated=stop["signal"] == signal.SIGTERM,
        )
    exported = _export_best(best, config, dataset, log) if best is not None else None
    return {
        "rows": rows,
        "best": best,
        "table": results.table(rows, best, f"{len(rows)} trials, budget {config.budget.text()} (* chosen)"),
        "closest": results.closest(rows),
        "files": [str(f) for f in files],
        "export": exported,
        "record": str(config.out_dir / RECORD_FILE),
    }


def load_record(out_dir: Path) -> dict:
    """The record a search left in ``out_dir`` (for ``--resume``).

    Raises:
        InputError: none there, or unreadable.
    """
    path = Path(out_dir) / RECORD_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{out_dir}: no search to resume here ({path.name}: {exc.__class__.__name__})"
        ) from None

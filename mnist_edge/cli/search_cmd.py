"""``mnist-edge search``."""

from __future__ import annotations

from pathlib import Path

import click

from mnist_edge import constants
from mnist_edge.cli.common import DATA_DIR_OPTION, JSON_OPTION, QUIET_OPTION, echo_json, logger, out

_KB = click.FloatRange(0.1, 1e7)


# What a resumed search keeps from its record (only where it runs may change).
RECORDED = (
    "max_kb",
    "max_us",
    "max_arena_kb",
    "images_dir",
    "trials",
    "space_file",
    "seed",
    "train_limit",
    "validation",
    "cpus_per_trial",
)


def _check_resume_options(resume: bool) -> None:
    ctx = click.get_current_context()
    given = [
        name for name in RECORDED if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    ]
    if resume and given:
        options = ", ".join(
            "--" + name.replace("_dir", "").replace("_file", "").replace("_", "-") for name in given
        )
        raise click.UsageError(f"--resume continues the recorded search: {options} cannot change it")


@click.command(name="search")
@click.option("--max-kb", type=_KB, default=None, help="Largest model file (KB): flash.")
@click.option(
    "--max-us",
    type=click.FloatRange(0.1, 1e9),
    default=None,
    help="Largest one-image p50 (µs) on this machine's interpreter, one thread.",
)
@click.option(
    "--max-arena-kb", type=_KB, default=None, help="Largest TensorFlow Lite Micro tensor arena (KB): RAM."
)
@click.option(
    "--images",
    "images_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Your labelled images (as eval --images reads them): every trial is also measured on them.",
)
@click.option(
    "--trials",
    type=click.IntRange(1, 10_000),
    default=constants.SEARCH_TRIALS,
    show_default=True,
    help="Members of the family to train.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=constants.DEFAULT_MODELS_DIR / "search",
    show_default=True,
    help="The search's folder: trials.csv, pareto.png, search.json, trials/, the best model, ray/.",
)
@click.option(
    "--space",
    "space_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help='A JSON object replacing entries of the search space, e.g. {"width": [8, 16], "epochs": [4]}.',
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seeds the sampler, the split and training."
)
@click.option(
    "--train-limit",
    type=click.IntRange(500, 1_000_000),
    default=None,
    help="Train each trial on this many class-balanced digits (default: all but the validation split).",
)
@click.option(
    "--validation",
    type=click.IntRange(200, 30_000),
    default=constants.VALIDATION_SAMPLES,
    show_default=True,
    help="Training digits kept out to choose by (the test set is only the winner's).",
)
@click.option(
    "--cpus-per-trial",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="CPUs Ray gives each trial (TensorFlow's threads).",
)
@click.option(
    "--workers",
    "max_concurrent",
    type=click.IntRange(1, 10_000),
    default=None,
    help="Trials at once (default: as many as the cluster's CPUs allow).",
)
@click.option(
    "--ray-address",
    default=None,
    metavar="HOST:PORT",
    help="Run the trials on this existing Ray cluster (default: start Ray on this machine).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the interrupted search in --out with its recorded budget, space and seed "
    "(only --ray-address and --workers may change).",
)
@DATA_DIR_OPTION
@JSON_OPTION
@QUIET_OPTION
def command(
    max_kb,
    max_us,
    max_arena_kb,
    images_dir,
    trials,
    out_dir,
    space_file,
    seed,
    train_limit,
    validation,
    cpus_per_trial,
    max_concurrent,
    ray_address,
    resume,
    data_dir,
    as_json,
    quiet,
):
    """Find the most accurate model of the device CNN family within a device budget, with Ray Tune.

    Each trial trains a member (widths, depths, kernels, pooling, dense
    width, augmentation, epochs, int8 or int16x8), converts it through the
    parity gate and measures its size, p50 and TFLM arena; Optuna's TPE picks
    the next members and ASHA stops weak ones early. A trial over the budget
    is never chosen. Writes OUT/trials.csv, OUT/pareto.png, OUT/search.json
    (to reproduce it), every measured trial's model under OUT/trials/, and
    the best exported as OUT/mnist_search_<recipe>.tflite with its sidecar.
    Exit 3 when no trial meets the budget (the closest are printed).
    """
    from mnist_edge.errors import GateError, require_search_extra, require_tensorflow

    require_tensorflow("mnist-edge search")
    require_search_extra()
    from mnist_edge import data as data_mod
    from mnist_edge.search import Budget, SearchConfig, load_record, load_space, search

    log = logger(quiet)
    _check_resume_options(resume)
    if max_arena_kb is not None:
        from mnist_edge.evaluation.micro import require_micro

        require_micro("search --max-arena-kb")
    if resume:
        config = SearchConfig.from_record(
            load_record(out_dir)["config"],
            out_dir=out_dir,
            ray_address=ray_address,
            **({"max_concurrent": max_concurrent} if max_concurrent else {}),
        )
    else:
        config = SearchConfig(
            out_dir=out_dir,
            budget=Budget(max_kb, max_us, max_arena_kb),
            trials=trials,
            space=load_space(space_file),
            seed=seed,
            train_limit=train_limit,
            validation=validation,
            images_dir=images_dir,
            cpus_per_trial=cpus_per_trial,
            max_concurrent=max_concurrent,
            ray_address=ray_address,
        )
    dataset = data_mod.load(data_dir)
    result = search(config, dataset, resume=resume, log=log)
    if as_json:
        echo_json(
            {k: result[k] for k in ("best", "files", "record")}
            | {"trials": result["rows"], "export": result["export"]}
        )
    else:
        out(result["table"])
    if result["best"] is None:
        from mnist_edge.search.results import closest, table

        click.echo(table(closest(result["rows"]), title="the closest trials:"), err=True)
        raise GateError(
            f"no trial met the budget ({config.budget.text()}); the closest are above; "
            "widen the budget or the space (--space), or give more --trials"
        )
    exported = result["export"]
    if not exported["passed"]:
        raise GateError(
            f"the best trial {result['best']['trial']} failed export's parity gate on the test set"
        )
    if not as_json:
        artifact = exported["artifacts"][0]
        out(f"best           {result['best']['trial']} ({artifact['path']})")
        out(
            f"test accuracy  {artifact['accuracy']:.4f} ({artifact['format']}, "
            f"{artifact['size_bytes'] / 1024:.1f} KB)"
        )
        out(f"record         {result['record']}")

"""``mnist-edge bench``."""

from __future__ import annotations

import click

from mnist_edge.cli.common import (
    DATA_DIR_OPTION,
    JSON_OPTION,
    QUIET_OPTION,
    RUNTIME_OPTION,
    TEST_IMAGES_OPTION,
    ThreadList,
    echo_json,
    logger,
    out,
)


@click.command(name="bench")
@click.option(
    "--model",
    "--tflite",
    "model_paths",
    multiple=True,
    type=click.Path(dir_okay=False, readable=False, path_type=str),
    help="A .tflite model to measure; repeatable. Default: the shipped model; with --keras, "
    "every .tflite beside that Keras model.",
)
@click.option(
    "--keras",
    "keras_path",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="The Keras reference, timed too and compared live (needs TensorFlow). Without it, "
    "parity comes from the reference record export wrote beside each model.",
)
@DATA_DIR_OPTION
@TEST_IMAGES_OPTION
@click.option(
    "--threads",
    default="1",
    show_default=True,
    type=ThreadList(),
    help="Interpreter thread counts to sweep, e.g. 1,2,4.",
)
@click.option(
    "--runs",
    type=click.IntRange(10, 10_000_000),
    default=1000,
    show_default=True,
    help="Timed single-image calls per latency figure (at least).",
)
@click.option(
    "--warmup",
    type=click.IntRange(0, 1_000_000),
    default=100,
    show_default=True,
    help="Untimed calls before measuring each configuration.",
)
@click.option(
    "--min-secs",
    "min_seconds",
    type=click.FloatRange(0, 3600),
    default=0.0,
    show_default=True,
    help="Time each configuration at least this long (MLPerf Tiny style; at least 10 runs).",
)
@RUNTIME_OPTION
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Write a Markdown report (figures when matplotlib is installed).",
)
@click.option(
    "--compare",
    "compare_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="Show earlier bench --json runs side by side with ratios: --compare A.json B.json [...] "
    "(two or more); measures nothing.",
)
@JSON_OPTION
@QUIET_OPTION
# The files after the first of `--compare A.json B.json C.json` (an option takes one value).
@click.argument(
    "more_runs", nargs=-1, metavar="[RUN.json]...", type=click.Path(dir_okay=False, path_type=str)
)
def command(
    model_paths,
    keras_path,
    data_dir,
    test_images,
    threads,
    runs,
    warmup,
    min_seconds,
    runtime_name,
    report_dir,
    compare_paths,
    as_json,
    quiet,
    more_runs,
):
    """Measure TFLite models where they run: parity, size, init, memory, µs latency.

    Works without TensorFlow (on the device): accuracy on the MNIST test set,
    top-1 agreement and max |dp| against the original Keras model (from the
    reference record export wrote), init time, first inference, warm-up mean
    and steady-state p50/p90/p99/mean/std/min per single image (end to end
    and invoke-only), per thread count with XNNPACK on and off, batch
    throughput, cold load time and peak RSS. A file that cannot be
    benchmarked gets one line and exit code 4; the others are still measured.
    """
    if more_runs and not compare_paths:
        raise click.UsageError(
            "bench takes models with --model, and earlier runs with --compare A.json B.json"
        )
    if compare_paths:
        _compare(compare_paths + more_runs, as_json)
        return
    from pathlib import Path

    from mnist_edge import bench as bench_mod
    from mnist_edge import data as data_mod
    from mnist_edge.errors import ModelError, PartialFailure
    from mnist_edge.fsutil import ensure_writable_dir

    if report_dir:
        ensure_writable_dir(report_dir)  # fail before the benchmark, not after it
    keras = Path(keras_path) if keras_path else None
    if keras is not None:
        from mnist_edge.errors import require_tensorflow

        require_tensorflow("mnist-edge bench --keras")
        if not keras.is_file():
            raise ModelError(f"{keras}: model file not found")
    files = bench_mod.default_models(model_paths, keras)
    dataset = data_mod.load(data_dir, allow_download=keras is not None)
    if test_images:
        dataset = dataset.test_head(test_images)
    result = bench_mod.run(
        files,
        dataset,
        keras,
        threads=threads,
        runs=runs,
        warmup=warmup,
        min_seconds=min_seconds,
        report_dir=report_dir,
        runtime_name=runtime_name,
        log=logger(quiet),
    )
    if as_json:
        echo_json(result)
    else:
        out(bench_mod.format_table(result))
        for path in result.get("report", []):
            if path.endswith(".md"):
                out(f"report: {path}")
    if result["failed"]:  # each failure's reason is in the table (or the JSON) already
        names = ", ".join(Path(p).name for p in result["failed"])
        raise PartialFailure(
            f"{len(result['failed'])} of {len(files)} models could not be benchmarked: {names}"
        )


def _compare(paths, as_json):
    from mnist_edge.bench import compare

    if len(paths) < 2:
        raise click.UsageError("--compare needs two or more bench --json files")
    result = compare.compare(paths)
    if as_json:
        echo_json(result)
    else:
        out(compare.format_comparison(result))

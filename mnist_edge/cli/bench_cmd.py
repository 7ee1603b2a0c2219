"""``mnist-edge bench``."""

from __future__ import annotations

import click

from mnist_edge.cli.common import (
    DATA_DIR_OPTION, JSON_OPTION, QUIET_OPTION, RUNTIME_OPTION, ThreadList, echo_json, logger)


@click.command(name="bench")
@click.option("--keras", "keras_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="The Keras reference (default: the trained model in models/).")
@click.option("--tflite", "tflite_paths", multiple=True, type=click.Path(path_type=str),
              help="A .tflite file to compare; repeatable. Default: every .tflite beside the "
              "Keras model.")
@DATA_DIR_OPTION
@click.option("--threads", default="1", show_default=True, type=ThreadList(),
              help="Interpreter thread counts to sweep, e.g. 1,2,4.")
@click.option("--runs", type=click.IntRange(10, 10_000_000), default=1000, show_default=True,
              help="Timed single-image calls per latency figure.")
@click.option("--warmup", type=click.IntRange(0, 1_000_000), default=100, show_default=True,
              help="Untimed calls before each latency figure.")
@RUNTIME_OPTION
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=str),
              default=None, help="Write a Markdown report with PNG figures into this folder.")
@JSON_OPTION
@QUIET_OPTION
def command(keras_path, tflite_paths, data_dir, threads, runs, warmup, runtime_name, report_dir,
          as_json, quiet):
    """Benchmark every format against Keras: accuracy parity, size, load, memory, latency in µs.

    All models run on the same 10,000 test images. Latency is per single
    image after warm-up, invoke-only and end to end (pixels in, label out),
    as p50/p90/p99/mean/std with run counts, per thread count, XNNPACK on
    and off; plus batch throughput, cold/warm load time and peak RSS of a
    predictor-only process. A file that cannot be benchmarked gets one line
    and exit code 4; the others are still measured.
    """
    from pathlib import Path

    from mnist_edge.errors import PartialFailure, require_tensorflow

    require_tensorflow("mnist-edge bench against a Keras model")
    from mnist_edge import bench as bench_mod
    from mnist_edge import data as data_mod
    from mnist_edge import keras_model

    log = logger(quiet)
    reference = Path(keras_path) if keras_path else keras_model.default_model_path()
    if not reference.is_file():
        raise keras_model.ModelError(f"{reference}: model file not found")
    if tflite_paths:
        files = [Path(p) for p in tflite_paths]
    else:
        files = sorted(reference.parent.glob("*.tflite"))
        if not files:
            raise keras_model.ModelError(f"no .tflite files beside {reference}; run `mnist-edge export` "
                                         "or pass --tflite")
    dataset = data_mod.load(data_dir)
    result = bench_mod.run(reference, files, dataset, threads=threads, runs=runs, warmup=warmup,
                           report_dir=report_dir, runtime_name=runtime_name, log=log)
    if as_json:
        echo_json(result)
    else:
        click.echo(bench_mod.format_table(result))
        for path in result.get("report", []):
            if path.endswith(".md"):
                click.echo(f"report: {path}")
    for m in result["models"]:
        if "error" in m:
            click.echo(f"{m['path']}: error: {m['error']}", err=True)
    if result["failed"]:
        raise PartialFailure(f"{len(result['failed'])} of {len(files)} models could not be benchmarked")

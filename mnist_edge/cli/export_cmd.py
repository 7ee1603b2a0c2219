"""``mnist-edge export``."""

from __future__ import annotations

import click

from mnist_edge import constants
from mnist_edge.cli.common import DATA_DIR_OPTION, JSON_OPTION, QUIET_OPTION, echo_json, logger, out


@click.command(name="export")
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="The .keras model (default: the trained model in models/).",
)
@click.option(
    "--quantize",
    "quantize",
    multiple=True,
    type=click.Choice([*constants.RECIPES, "all", "auto"]),
    help="Recipe(s) to export; repeatable. none = float32; all = none, float16, dynamic, int8 "
    "(the default); int16x8 = int8 weights, int16 activations; int4 = int4 weights "
    "(ai-edge-quantizer); int8-selective = int8 with its worst layer in float. "
    "auto: measure every recipe and export the smallest within --max-drop.",
)
@click.option(
    "--images",
    "images_dir",
    type=click.Path(exists=True, file_okay=False, path_type=str),
    default=None,
    help="With --quantize auto: your own labelled images (as eval --images reads them) "
    "also count in the budget.",
)
@click.option(
    "--io",
    "io_type",
    type=click.Choice(list(constants.IO_TYPES)),
    default=constants.DEFAULT_IO_TYPE,
    show_default=True,
    help="int8 model input/output type (uint8 for Edge-TPU-style "
    "pipelines, float keeps float I/O around the int8 core).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=str(constants.DEFAULT_MODELS_DIR),
    show_default=True,
)
@DATA_DIR_OPTION
@click.option(
    "--calibration-samples",
    type=click.IntRange(1, 60000),
    default=constants.DEFAULT_CALIBRATION_SAMPLES,
    show_default=True,
    help="Class-balanced training images for int8 calibration.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**31 - 1),
    default=0,
    show_default=True,
    help="Seed of the calibration sample.",
)
@click.option(
    "--max-drop",
    type=click.FloatRange(0, 100),
    default=constants.DEFAULT_MAX_DROP_PP,
    show_default=True,
    help="Gate: largest accuracy drop (percentage points) for quantised formats; "
    "with --quantize auto, also the budget the recipe is chosen by.",
)
@click.option(
    "--min-agreement",
    type=click.FloatRange(0, 1),
    default=constants.DEFAULT_MIN_AGREEMENT,
    show_default=True,
    help="Gate: smallest top-1 agreement with Keras for quantised formats.",
)
@click.option(
    "--max-kb",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="With --quantize auto: the largest model file (KB) the chosen recipe may make.",
)
@click.option("--keep-failed", is_flag=True, help="Keep files that fail the parity gate.")
@click.option(
    "--debug", is_flag=True, help="Write a per-layer int8 error report (CSV + PNG) via QuantizationDebugger."
)
@click.option(
    "--c-array", is_flag=True, help="Also write the int8 model as a C source/header pair for TFLite Micro."
)
@click.option(
    "--micro",
    is_flag=True,
    help="Check the int8 model with TensorFlow Lite Micro (the tflite-micro package): "
    "operator support, labels against LiteRT on the test set, the exact tensor arena; "
    "writes NAME.h/.cc and NAME.micro.json and prints a fit table for common boards.",
)
@JSON_OPTION
@QUIET_OPTION
def command(
    model_path,
    quantize,
    images_dir,
    io_type,
    out_dir,
    data_dir,
    calibration_samples,
    seed,
    max_drop,
    min_agreement,
    max_kb,
    keep_failed,
    debug,
    c_array,
    micro,
    as_json,
    quiet,
):
    """Export float32, float16, dynamic-range and full-int8 TFLite, gated on parity.

    Every file is run on the full test set and compared with the Keras model.
    float32 must agree on every image; quantised formats may lose at most
    --max-drop accuracy points and must agree on at least --min-agreement.
    A failed gate exits with code 3 and removes the file unless --keep-failed.
    Each NAME.tflite gets a NAME.json sidecar (labels, normalisation,
    quantisation, source model SHA-256, calibration, parity figures).
    """
    from mnist_edge.errors import GateError, require_tensorflow

    require_tensorflow("mnist-edge export")
    from mnist_edge import data as data_mod
    from mnist_edge import export as export_mod
    from mnist_edge.fsutil import ensure_writable_dir
    from mnist_edge.training import keras_model

    auto = "auto" in quantize
    if auto and len(set(quantize)) > 1:
        raise click.UsageError("--quantize auto chooses the recipe: give it alone")
    if (images_dir or max_kb) and not auto:
        raise click.UsageError("--images and --max-kb apply to --quantize auto")
    formats = (
        list(export_mod.QUANTIZATIONS)
        if (not quantize or "all" in quantize)
        else [q for q in constants.RECIPES if q in quantize]
    )
    if (debug or c_array or micro) and ("int8" not in formats or auto):
        raise click.UsageError("--debug, --c-array and --micro apply to the int8 export; add --quantize int8")
    if micro and io_type == "float":
        raise click.UsageError("--micro needs integer input and output: use --io int8 or uint8")
    log = logger(quiet)
    ensure_writable_dir(out_dir)
    path = model_path or keras_model.default_model_path()
    dataset = data_mod.load(data_dir)
    config = export_mod.ExportConfig(
        quantizations=tuple(formats),
        io_type=io_type,
        calibration_samples=calibration_samples,
        seed=seed,
        max_drop_pp=max_drop,
        min_agreement=min_agreement,
        keep_failed=keep_failed,
        debug=debug,
        c_array=c_array,
        micro=micro,
        max_kb=max_kb,
    )
    if auto:
        result = export_mod.export_auto(path, out_dir, config, dataset, images_dir, log=log)
        if as_json:
            click.echo(result["frontier_table"], err=True)
        else:
            out(result["frontier_table"])
        if result["chosen"] is None:
            if as_json:
                echo_json(result)
            frontier = result["frontier_files"][0]
            raise GateError(f"no recipe meets the budget ({result['budget']}); the frontier: {frontier}")
    else:
        result = export_mod.export(path, out_dir, config, dataset=dataset, log=log)
    if as_json:
        # stdout holds exactly one JSON document; the table is progress, on stderr
        if not quiet:
            click.echo(export_mod.format_table(result), err=True)
        echo_json(result)
    else:
        out(export_mod.format_table(result))  # results go to stdout
        for a in result["artifacts"]:
            if a["path"]:
                out(a["path"])
            for extra in a["extra_files"]:
                out(extra)
    if not result["passed"]:
        failed = ", ".join(a["name"] for a in result["artifacts"] if not a["passed"])
        raise GateError(f"parity gate failed for {failed}")

"""``mnist-edge predict``."""

from __future__ import annotations

import click

from mnist_edge.cli.common import (
    JSON_OPTION,
    MIN_CONFIDENCE_OPTION,
    QUIET_OPTION,
    RUNTIME_OPTION,
    echo_json,
    logger,
    out,
)
from mnist_edge.runtime.reading import DEFAULT_TOP_K, MAX_TOP_K


@click.command(name="predict")
@click.argument(
    "inputs",
    metavar="IMAGE_OR_DIR...",
    nargs=-1,
    required=True,
    # readable=False: an unreadable file is that file's error, not a usage error
    type=click.Path(readable=False, path_type=str),
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="A .tflite model (default: the model shipped with mnist-edge).",
)
@click.option(
    "--top-k",
    type=click.IntRange(1, MAX_TOP_K),
    default=DEFAULT_TOP_K,
    show_default=True,
    help="How many classes to show per image.",
)
@MIN_CONFIDENCE_OPTION
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=None,
    help="Interpreter threads (default: the interpreter's own).",
)
@RUNTIME_OPTION
@click.option(
    "--debug-dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Save the 28x28 image each input became as <input name>.seen.png "
    "(never replacing a file; never read back as an input).",
)
@click.option(
    "--number",
    "as_number",
    is_flag=True,
    help="Read a number (a row of digits) in each image: the digits left to right, a digit the "
    "model doubts as '?' with the reason. With --debug-dir: the image with each digit's box and "
    "each 28x28. A single digit reads exactly as without --number.",
)
@JSON_OPTION
@QUIET_OPTION
def command(
    inputs, model_path, top_k, min_confidence, threads, runtime_name, debug_dir, as_number, as_json, quiet
):
    """Read the digit in images: photos, scans, screenshots or MNIST-form arrays.

    IMAGE_OR_DIR... are PNG, JPEG, BMP, GIF, WebP, TIFF or .npy files, or
    folders of them. Each image is cleaned (paper, grid lines, shadows),
    cropped, scaled and centred the MNIST way. An image with no digit, or one
    the model is not confident about, is answered "not a digit" (label null
    in --json, with a reason); that is an answer, not an error. Inputs that
    cannot be read get one line each on stderr; the others are still read;
    the exit code is 4 if any input failed.

    With --number, each image is read as a number (a score, a year, a
    quantity): "2024", "20?4" when the model doubts a digit, or "not a
    number"; --json gives each digit's label, confidence and box.
    """
    from mnist_edge import runtime
    from mnist_edge.errors import PartialFailure
    from mnist_edge.fsutil import ensure_writable_dir
    from mnist_edge.runtime import reading

    log = logger(quiet)
    predictor = runtime.Predictor(
        model_path or runtime.default_model_path(),
        num_threads=threads,
        runtime=runtime_name,
        untrusted=model_path is not None,
    )
    reader = reading.Reader(predictor, min_confidence, top_k)
    abstains = (
        f"not a digit below {'confidence' if reader.score == 'top1' else 'two likeliest together'} "
        f"{reader.min_confidence:.2f}"
        if reader.min_confidence > 0
        else "no 'not a digit' threshold (every image gets a digit)"
    )
    log(
        f"model {predictor.model_path} ({predictor.input_dtype.name} input) on "
        f"{predictor.runtime} {predictor.runtime_version}; {abstains}"
    )
    debug = ensure_writable_dir(debug_dir) if debug_dir else None
    if as_number:
        from mnist_edge.runtime.number import NumberReader
        from mnist_edge.runtime.number_sheet import read_number_inputs

        readings = read_number_inputs(NumberReader(reader), inputs, debug.resolve() if debug else None)
    else:
        readings = reading.read_inputs(reader, inputs, debug.resolve() if debug else None)
    if as_json:
        echo_json([r.to_json() for r in readings])
    for r in readings:
        if not as_json and (r.error is None or _answered(r)):
            out(r.to_line())
        if r.error is not None:
            click.echo(r.error_line(), err=True)
    failures = [r for r in readings if r.error is not None]
    if failures:
        raise PartialFailure(f"{len(failures)} of {len(readings)} inputs failed")


def _answered(r) -> bool:
    """An input that was read (it has an answer) though something after failed (its debug image)."""
    return (
        getattr(r, "seen", None) is not None or bool(getattr(r, "digits", None)) or getattr(r, "reason", None)
    )

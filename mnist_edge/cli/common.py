"""What the commands share: options, JSON output, progress lines, parameter types."""

from __future__ import annotations

import json

import click

from mnist_edge.constants import RUNTIMES

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
RUNTIME_CHOICES = list(RUNTIMES)


def out(text: str = "") -> None:
    """Prints a result line on stdout; a stdout that cannot be written is one error line.

    Raises:
        OutputError: stdout is full or broken (``> /dev/full``).
    """
    try:
        click.echo(text)
    except BrokenPipeError:
        raise  # the reader went away (| head): handled quietly by the group
    except OSError as exc:
        from mnist_edge.errors import OutputError

        silence_stdout()
        raise OutputError(f"cannot write the results to standard output ({exc.strerror or exc})") from None


def silence_stdout() -> None:
    """Points stdout at /dev/null, so the exit-time flush cannot fail a second time."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def echo_json(document) -> None:
    """Prints one JSON document on stdout."""
    out(json.dumps(document, indent=2))


def logger(quiet: bool):
    """Returns a function that writes progress lines to stderr unless quiet."""
    if quiet:
        return lambda _msg: None
    return lambda msg: click.echo(msg, err=True)


class ThreadList(click.ParamType):
    """A comma-separated list of interpreter thread counts, e.g. ``1,2,4``."""

    name = "threads"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            counts = [int(v) for v in str(value).split(",") if v.strip()]
        except ValueError:
            self.fail("use a comma-separated list of thread counts, e.g. 1,2,4", param, ctx)
        if not counts or any(c < 1 or c > 256 for c in counts):
            self.fail("thread counts must be between 1 and 256", param, ctx)
        return counts


DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(exists=True, path_type=str),
    default=None,
    help="Folder with the four MNIST IDX files (.gz or raw) or a Keras mnist.npz. "
    "Default: $MNIST_EDGE_DATA, then ~/.keras/datasets/mnist.npz, then a Keras download.",
)
TEST_IMAGES_OPTION = click.option(
    "--test-images",
    type=click.IntRange(100, 10000),
    default=None,
    help="Use only the first N MNIST test images (quick runs on slow devices or emulators; "
    "parity then uses the reference record's first N entries). Default: all 10,000.",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
QUIET_OPTION = click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
RUNTIME_OPTION = click.option(
    "--runtime",
    "runtime_name",
    type=click.Choice(RUNTIME_CHOICES),
    default="auto",
    show_default=True,
    help="Interpreter: auto tries LiteRT, then tflite-runtime, then TensorFlow.",
)
MIN_CONFIDENCE_OPTION = click.option(
    "--min-confidence",
    type=click.FloatRange(0, 1, max_open=True),
    default=None,
    help="Answer 'not a digit' below this confidence; 0 never does. "
    "Default: the threshold calibrated for the model (in its sidecar), else 0.",
)

"""The ``mnist-edge`` group: one place maps errors, Ctrl-C and SIGTERM to exit codes."""

from __future__ import annotations

import signal
import threading

import click

from mnist_edge import __version__
from mnist_edge.cli.common import silence_stdout
from mnist_edge.errors import EXIT_CODES, EXIT_INTERRUPTED, EXIT_TERMINATED, MnistEdgeError


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that cleanup (``finally``) runs."""


class _CommandError(click.ClickException):
    def __init__(self, error: MnistEdgeError):
        super().__init__(str(error))
        self.exit_code = error.exit_code


def _raise_terminated(signum, frame):
    raise Terminated()


def interrupted_message(what: str, finished) -> str:
    """What an interrupted run says: nothing half-written, and which finished files were kept."""
    from pathlib import Path

    kept = [p for p in dict.fromkeys(finished) if Path(p).exists() and ".mnist-edge-tmp-" not in str(p)]
    message = f"mnist-edge: {what}; nothing half-written was left"
    if kept:
        shown = ", ".join(str(p) for p in kept[:3]) + (f" and {len(kept) - 3} more" if len(kept) > 3 else "")
        message += f"; kept {len(kept)} finished file{'s' if len(kept) != 1 else ''}: {shown}"
    return message


class MnistEdgeGroup(click.Group):
    """The command group that maps errors, Ctrl-C and SIGTERM to exit codes in one place."""

    def invoke(self, ctx):
        from mnist_edge import fsutil

        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            with fsutil.recording() as finished:
                return super().invoke(ctx)
        except MnistEdgeError as error:
            raise _CommandError(error) from None
        except BrokenPipeError:
            silence_stdout()  # the reader went away (| head): nothing left to say
            raise click.exceptions.Exit(1) from None
        except KeyboardInterrupt:
            click.echo(interrupted_message("interrupted", finished), err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except Terminated:
            click.echo(interrupted_message("terminated", finished), err=True)
            raise click.exceptions.Exit(EXIT_TERMINATED) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


HELP = "Train, export, benchmark and deploy an MNIST digit model to small devices.\n\n\b\nExit codes:\n" + (
    "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items())
)


@click.group(cls=MnistEdgeGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mnist-edge")
def main():
    """The ``mnist-edge`` command group (its help text is :data:`HELP`)."""


def _register():
    from mnist_edge.cli import (
        bench_cmd,
        data_cmd,
        eval_cmd,
        export_cmd,
        micro_cmd,
        predict_cmd,
        search_cmd,
        serve_cmd,
        train_cmd,
        watch_cmd,
    )

    modules = (
        train_cmd,
        search_cmd,
        eval_cmd,
        export_cmd,
        bench_cmd,
        predict_cmd,
        search_cmd,
        serve_cmd,
        watch_cmd,
        data_cmd,
        micro_cmd,
    )
    for module in modules:
        main.add_command(module.command)


_register()

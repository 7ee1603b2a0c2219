"""One error model for the whole toolkit.

As in click's ``ClickException``, every error a user can cause carries its
own ``exit_code``, and one place (:func:`mnist_edge.cli.main`) maps them,
and Ctrl-C, to the process exit status and a single line on stderr.
:data:`EXIT_CODES` is the one table of them (``--help`` prints it).

This module imports nothing but the standard library, so the device side
can raise and catch these without pulling in anything else.
"""

from __future__ import annotations

# 0 (success) and 2 (usage, raised by click itself) need no name here.
EXIT_USER = 1
EXIT_GATE = 3
EXIT_PARTIAL = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_CODES = {
    0: "ok (a 'not a digit' answer too)",
    EXIT_USER: "an error you can fix (data, model, output folder, missing extra)",
    2: "usage error (a bad option or argument: click's own code)",
    EXIT_GATE: "a parity gate failed (export)",
    EXIT_PARTIAL: "some inputs failed, the others were processed",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_TERMINATED: "terminated (SIGTERM); cleanup ran first",
}


class MnistEdgeError(Exception):
    """Base of every error a user can cause; ``str(error)`` is one line.

    Attributes:
        exit_code: the process exit status this error maps to.
    """

    exit_code = EXIT_USER

    def __init__(self, message: str):
        # One line, always: a newline in a file name must not split the report.
        super().__init__(" ".join(str(message).split("\n")))

    @property
    def message(self) -> str:
        """The one-line message."""
        return str(self)


class DataError(MnistEdgeError):
    """A dataset is missing, unreadable or not in the expected layout."""


class OutputError(MnistEdgeError):
    """An output folder or file cannot be created or written."""


class ModelError(MnistEdgeError):
    """A Keras model file is missing, corrupt, or not a 28x28 -> 10 classifier."""


class RuntimeModelError(MnistEdgeError):
    """A ``.tflite`` file is missing, corrupt, unsafe, or not a 28x28 -> 10 model."""


class InputError(MnistEdgeError, ValueError):
    """An input array has the wrong shape, dtype or value range."""


class ImageError(MnistEdgeError):
    """An input file cannot be read as an image or array of a digit."""


class NoDigitError(ImageError):
    """The image is blank or holds nothing that looks like a digit."""


class MissingExtraError(MnistEdgeError):
    """A command needs an optional dependency that is not installed."""


class GateError(MnistEdgeError):
    """An exported model failed its parity gate."""

    exit_code = EXIT_GATE


class RayClusterError(MnistEdgeError):
    """No Ray cluster answers at the address ``search --ray-address`` was given."""


class SearchInterrupted(MnistEdgeError):
    """Ctrl-C or SIGTERM stopped a search after Ray Tune saved its state (``search --resume`` goes on)."""

    def __init__(self, message: str, terminated: bool):
        super().__init__(message)
        self.exit_code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


class PartialFailure(MnistEdgeError):
    """Some inputs failed; the others were processed and reported."""

    exit_code = EXIT_PARTIAL


def require_tensorflow(command: str) -> None:
    """Raises :class:`MissingExtraError` when TensorFlow cannot be imported.

    Checked with ``importlib.util.find_spec`` so the check itself costs
    nothing when TensorFlow is there (the import happens later, lazily).

    Args:
        command: what needs it, e.g. ``"mnist-edge train"``.
    """
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        raise MissingExtraError(
            f"{command} needs TensorFlow, which is not installed here; "
            'install the train extra: pip install "mnist-edge[train]"'
        )


def _require_modules(command: str, modules, extra: str) -> None:
    """Raises :class:`MissingExtraError` naming the ``modules`` of an extra that are not installed.

    Args:
        command: what needs them, e.g. ``"mnist-edge serve"``.
        modules: import names to look for (``find_spec``: nothing is imported).
        extra: the extras to install, e.g. ``"serve"`` or ``"train,search"`` (the last one is named).
    """
    import importlib.util

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        names = ", ".join(missing[:-1]) + (" and " if len(missing) > 1 else "") + missing[-1]
        raise MissingExtraError(
            f"{command} needs {names}, which {'is' if len(missing) == 1 else 'are'} not installed here; "
            f'install the {extra.split(",")[-1]} extra: pip install "mnist-edge[{extra}]"'
        )


def require_search_extra() -> None:
    """Raises :class:`MissingExtraError` when Ray Tune or Optuna (the ``search`` extra) is missing."""
    _require_modules("mnist-edge search", ("ray", "optuna"), "train,search")


def require_serve_extra() -> None:
    """Raises :class:`MissingExtraError` when the web stack of ``serve`` is missing."""
    _require_modules("mnist-edge serve", ("starlette", "uvicorn", "multipart", "prometheus_client"), "serve")

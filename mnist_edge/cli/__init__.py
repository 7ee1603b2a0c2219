"""The ``mnist-edge`` command line: it parses and renders; the library does the work.

Results go to stdout (``--json`` prints exactly one JSON document), progress
and logs to stderr. Each command lives in its own module and imports heavy
libraries (TensorFlow, matplotlib) inside its function, so ``--help`` and
``predict`` stay light.

One place maps errors to exits (:class:`MnistEdgeGroup`): every
:class:`~mnist_edge.errors.MnistEdgeError` carries its exit code, as click's
``ClickException`` does, and becomes one ``Error:`` line; Ctrl-C and SIGTERM
end with 130 / 143 after the commands' cleanup ran, saying what was kept.
The exit codes are :data:`mnist_edge.errors.EXIT_CODES`.
"""

from mnist_edge.cli.group import MnistEdgeGroup, main

__all__ = ["MnistEdgeGroup", "main"]

"""``mnist-edge search``: the most accurate member of the device CNN family within a device budget.

Build side (TensorFlow, the ``search`` extra: Ray Tune and Optuna); the
device side never imports it. Modules by concern:

* :mod:`.space`: the choices (widths, depths, kernels, pooling, dense width,
  augmentation, epochs, recipe) and ``--space`` files;
* :mod:`.family`: one member's Keras model;
* :mod:`.config`: the budget and the search's config;
* :mod:`.data`: the split and the arrays every trial receives through Ray;
* :mod:`.measure`: convert, parity gate, size, p50, TFLM arena;
* :mod:`.trial`: the Ray Tune trainable (preflight, epochs, measurement);
* :mod:`.results`: verdicts, the best, table, CSV, Pareto plot;
* :mod:`.cluster`: Ray started here or joined at an address, its token, the graceful stop;
* :mod:`.run`: the driver (Tuner, resume, collect, export the winner).
"""

from mnist_edge.search.config import Budget, SearchConfig
from mnist_edge.search.run import load_record, search
from mnist_edge.search.space import DEFAULT_SPACE, load_space

__all__ = ["DEFAULT_SPACE", "Budget", "SearchConfig", "load_record", "load_space", "search"]

"""Imports TensorFlow quietly, only where a command needs it.

TensorFlow's C++ runtime logs to stderr at import and on first use (oneDNN
notices, CPU feature lines, absl warnings). Those are noise for a CLI user, so
the log level is raised before the first import unless the user set it.
"""

from __future__ import annotations

import os
import warnings


def import_tf():
    """Returns the ``tensorflow`` module, imported with its C++ logs silenced.

    Returns:
        The tensorflow module.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # absl logs straight to stderr before it is initialised; keep it to errors.
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="tensorflow")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    import absl.logging  # a dependency of TensorFlow itself

    absl.logging.set_verbosity(absl.logging.ERROR)
    return tf

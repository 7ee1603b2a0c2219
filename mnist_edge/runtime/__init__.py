"""The device side: numpy, Pillow and one TFLite interpreter, nothing else.

Public API (unchanged since the first release)::

    from mnist_edge.runtime import Predictor, preprocess_file
    p = Predictor("model.tflite")
    p.predict(preprocess_file("photo.jpg"))

This package must never import TensorFlow unless the interpreter fallback
needs it; ``tests/test_imports.py`` checks that in a fresh process.
"""

from mnist_edge.errors import ImageError, InputError, NoDigitError, RuntimeModelError
from mnist_edge.preprocess import (
    IMAGE_SUFFIXES,
    MAX_PIXELS,
    is_mnist_form,
    iter_image_paths,
    load_gray,
    pil_to_gray,
    preprocess_file,
    to_mnist,
)
from mnist_edge.runtime.backends import RUNTIMES, load_interpreter_class, quiet_native_stderr
from mnist_edge.runtime.modelfile import (
    DEFAULT_MODEL_NAME,
    TFLITE_MAGIC,
    default_model_path,
    read_model_bytes,
)
from mnist_edge.runtime.predictor import Prediction, Predictor
from mnist_edge.runtime.sidecar import METADATA_FORMAT, Sidecar, sidecar_path

metadata_path = sidecar_path  # the name this function had before the runtime became a package

__all__ = [
    "DEFAULT_MODEL_NAME",
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "METADATA_FORMAT",
    "RUNTIMES",
    "TFLITE_MAGIC",
    "ImageError",
    "InputError",
    "NoDigitError",
    "Prediction",
    "Predictor",
    "RuntimeModelError",
    "Sidecar",
    "default_model_path",
    "is_mnist_form",
    "iter_image_paths",
    "load_gray",
    "load_interpreter_class",
    "metadata_path",
    "pil_to_gray",
    "preprocess_file",
    "quiet_native_stderr",
    "read_model_bytes",
    "sidecar_path",
    "to_mnist",
]

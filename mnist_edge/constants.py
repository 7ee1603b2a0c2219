"""One home for the value sets and defaults several modules share (standard library only).

The CLI reads its choices and defaults from here, the library takes them as
its own, and the sidecar checks against them: a new quantization, I/O type,
runtime or architecture is added in one place.
"""

from __future__ import annotations

import os
from pathlib import Path

# -- the model's input and output ------------------------------------------------------
IMAGE_SHAPE = (28, 28)  # MNIST form: white digit on black, box 20, centred by mass
FLAT_SHAPE = (784,)
NUM_CLASSES = 10

# -- export ----------------------------------------------------------------------------
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")  # "none" is float32; export's default set
# Recipes beyond the converter's four (mnist_edge.export.recipes): int8 weights with
# int16 activations, int4 weights (ai-edge-quantizer), int8 with its worst layer in float.
EXTRA_RECIPES = ("int16x8", "int4", "int8-selective")
RECIPES = QUANTIZATIONS + EXTRA_RECIPES
FORMAT_NAMES = {
    "none": "float32",
    "float16": "float16",
    "dynamic": "dynamic",
    "int8": "int8",
    "int16x8": "int16x8",
    "int4": "int4w",
    "int8-selective": "int8sel",
}
VALIDATION_SAMPLES = 5000  # training images calibration never saw: what --quantize auto measures on
AUTO_LATENCY_RUNS = 300  # single-image calls timed per recipe by --quantize auto
IO_TYPES = ("int8", "uint8", "float")  # the int8 model's input/output type
DEFAULT_IO_TYPE = "int8"
DEFAULT_CALIBRATION_SAMPLES = 500  # class-balanced training images for int8 calibration
DEFAULT_MAX_DROP_PP = 0.5  # the parity gate: largest accuracy drop of a quantised format
DEFAULT_MIN_AGREEMENT = 0.99  # ... and smallest top-1 agreement with Keras

# -- interpreters ------------------------------------------------------------------------
RUNTIMES = ("auto", "litert", "tflite-runtime", "tensorflow")  # "auto": the first one installed

# -- training ----------------------------------------------------------------------------
ARCHS = ("mlp", "cnn", "cnn-m", "tiny")
DEFAULT_ARCH = "mlp"  # the tutorial's model
DEFAULT_EPOCHS = 5  # the tutorial's
DEFAULT_BATCH_SIZE = 32  # Keras's default, as the tutorial uses it
LEARNING_RATE = 0.001  # Adam's default, as in the tutorial
DEFAULT_MODELS_DIR = Path("models")  # where train writes and export reads by default

# -- search (mnist_edge.search) ------------------------------------------------------------
SEARCH_TRIALS = 16  # members trained by default
SEARCH_BATCH_SIZE = 64  # examples per step in a trial (twice train's: trials are many)
SEARCH_LEARNING_RATE = 0.003  # Adam's peak rate in a trial, cosine-decayed over its epochs
SEARCH_LATENCY_RUNS = 500  # one-image calls timed per trial model (after a warm-up)
SEARCH_CALIBRATION_SAMPLES = 300  # class-balanced training images calibrating each trial's int8


CACHE_ENV = "MNIST_EDGE_CACHE"


def cache_root() -> Path:
    """Where rendered training sets and model probe verdicts are kept.

    ``$MNIST_EDGE_CACHE``, else ``$XDG_CACHE_HOME/mnist-edge``, else ``~/.cache/mnist-edge``.
    """
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mnist-edge"
    )
    return Path(base)


# Numbers: bars on a number's confidence (its digits' product) that eval --number and
# benchmarks/number_reading.py report answers at (kept, right among them, wrong below).
NUMBER_CONFIDENCE_BARS = (0.5, 0.8, 0.9)
# A number read below this is "unsure" (predict --number's line and JSON, serve, watch, the
# page): 81 % of wrong answers fall below it, 3 % of those above are wrong (MNIST's numbers).
NUMBER_UNSURE_BELOW = 0.9

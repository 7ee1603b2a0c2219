"""Images as users have them -> MNIST form (28x28, white digit on black).

numpy and Pillow only. :func:`preprocess_file` reads a file,
:func:`to_mnist` normalises a grey array; the stages live in their own
modules (see :mod:`mnist_edge.preprocess.frontend`).
"""

from mnist_edge.errors import ImageError, NoDigitError
from mnist_edge.preprocess.frontend import is_mnist_form, preprocess_file, to_mnist, to_mnist_candidates
from mnist_edge.preprocess.load import IMAGE_SUFFIXES, MAX_PIXELS, iter_image_paths, load_gray, pil_to_gray

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "ImageError",
    "NoDigitError",
    "is_mnist_form",
    "iter_image_paths",
    "load_gray",
    "pil_to_gray",
    "preprocess_file",
    "to_mnist",
    "to_mnist_candidates",
]

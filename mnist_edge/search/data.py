"""The data every trial shares: training digits, the validation split, calibration, the user's images.

The driver prepares it once and Ray puts it in its object store
(``tune.with_parameters``): a worker on another machine receives these
arrays from Ray, so it needs no MNIST folder of its own. The split is
seeded; the test set never enters it (only the winner meets it, in
``export``'s gate).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from mnist_edge import constants
from mnist_edge import data as data_mod
from mnist_edge.errors import InputError
from mnist_edge.evaluation.image_eval import labelled_forms
from mnist_edge.search.config import Budget, SearchConfig
from mnist_edge.training.finetune import check_counts

MIN_TRAIN = 500  # fewer digits teach a member nothing worth comparing
MIN_VALIDATION = 200  # fewer cannot tell members a few tenths of a point apart


@dataclasses.dataclass
class SearchData:
    """What a trial needs besides its member.

    Attributes:
        x_train, y_train: the digits trials train on (uint8, labels).
        x_val, y_val: the validation split trials are chosen by.
        calibration: float32 images calibrating each int8 conversion (from the training digits).
        x_images, y_images: the user's labelled images in MNIST form, or None.
        budget: the device budget (a trial over it stops before training).
        seed: every trial's training seed.
        cpus: TensorFlow's threads in a trial.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    calibration: np.ndarray
    x_images: Optional[np.ndarray]
    y_images: Optional[np.ndarray]
    budget: Budget
    seed: int
    cpus: int


def split(y: np.ndarray, validation: int, train_limit: Optional[int], seed: int):
    """Seeded indices ``(train, validation)`` into the training set, disjoint.

    Raises:
        InputError: too few digits for either part.
    """
    val = data_mod.balanced_sample(y, validation, seed + 1) if validation else np.zeros(0, np.int64)
    rest = np.setdiff1d(np.arange(len(y)), val)
    if train_limit is not None and train_limit < len(rest):
        rest = rest[data_mod.balanced_sample(y[rest], train_limit, seed)]
    if len(val) < MIN_VALIDATION or len(rest) < MIN_TRAIN:
        raise InputError(
            f"a search needs at least {MIN_VALIDATION} validation and {MIN_TRAIN} training digits "
            f"(asked: {len(val)} and {len(rest)})"
        )
    return rest, val


def user_images(images_dir):
    """The user's labelled images in MNIST form, checked as ``train --images`` checks them."""
    forms = labelled_forms(images_dir)
    check_counts(images_dir, forms.y.tolist(), purpose="a search")
    return forms.x, forms.y


def prepare(config: SearchConfig, dataset: data_mod.Dataset) -> SearchData:
    """The shared data of a search (see the module docstring).

    Raises:
        InputError: too few digits; DataError: an unusable ``--images`` folder.
    """
    train, val = split(dataset.y_train, config.validation, config.train_limit, config.seed)
    x_images = y_images = None
    if config.images_dir:
        x_images, y_images = user_images(config.images_dir)
    cal = train[
        data_mod.balanced_sample(dataset.y_train[train], constants.SEARCH_CALIBRATION_SAMPLES, config.seed)
    ]
    return SearchData(
        x_train=dataset.x_train[train],
        y_train=dataset.y_train[train],
        x_val=dataset.x_train[val],
        y_val=dataset.y_train[val],
        calibration=data_mod.normalize(dataset.x_train[cal]),
        x_images=x_images,
        y_images=y_images,
        budget=config.budget,
        seed=config.seed,
        cpus=config.cpus_per_trial,
    )

"""What ``train`` is asked to do, as one object (the CLI builds it; the library takes it)."""

from __future__ import annotations

import dataclasses
from typing import Optional

from mnist_edge import constants

WARM_START_DIVISOR = 5  # a trained model moves gently or forgets what it knew
DECAYING_ARCHS = ("tiny",)  # trained longer from scratch: a decaying rate settles them


@dataclasses.dataclass
class TrainConfig:
    """What to train and how: the CLI builds it, :func:`~mnist_edge.training.train.train` takes it,
    and the model's metadata records it.

    Attributes:
        arch: one of :data:`mnist_edge.training.models.ARCHS`.
        epochs: passes over the training set.
        batch_size: examples per optimiser step.
        seed: seeds everything; same seed, same machine: same weights.
        train_limit: train on a class-balanced subset of this size.
        augment_copies: augmented copies of each digit (0: none).
        outliers: non-digit images for outlier exposure (0: none).
        outlier_data: Fashion-MNIST folder (garments as outliers), or None.
        styles: digits in the forms MNIST lacks (0: none), rendered like the augmented ones.
        touching: two or three touching digits as one box, taught as non-digits
            (0: none), so a number's reader can tell them from one wide digit.
        writers: share of augmented, style and touching digits redrawn as other
            writers' hands leave them (narrower; touching groups also coarse),
            0 to 1 (0: none; earlier training sets render exactly as before).
        start_from: continue training this model (a ``.keras``, an int8
            ``.tflite``, or "default") instead of starting from random weights.
    """

    arch: str = constants.DEFAULT_ARCH
    epochs: int = constants.DEFAULT_EPOCHS
    batch_size: int = constants.DEFAULT_BATCH_SIZE
    seed: int = 0
    train_limit: Optional[int] = None
    augment_copies: int = 0
    outliers: int = 0
    outlier_data: Optional[str] = None
    styles: int = 0
    start_from: Optional[str] = None
    touching: int = 0
    writers: float = 0.0

    @property
    def robust(self) -> bool:
        """True when training for real-world inputs (augmentation or outliers)."""
        return self.augment_copies > 0 or self.outliers > 0 or self.styles > 0 or self.touching > 0

    @property
    def decaying_rate(self) -> bool:
        """Cosine-decayed learning rate: for real-world training, and for the tiny model (longer runs)."""
        return self.robust or self.arch in DECAYING_ARCHS

    @property
    def learning_rate(self) -> float:
        """Adam's rate: the tutorial's from scratch, a fifth of it when continuing a trained model."""
        return constants.LEARNING_RATE / (WARM_START_DIVISOR if self.start_from else 1)

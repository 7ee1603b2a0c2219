"""What ``export`` is asked to do, as one object: the CLI builds it, the library takes it."""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from mnist_edge import constants


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """The formats, calibration and parity gate of one export.

    Attributes:
        quantizations: formats from :data:`~mnist_edge.constants.QUANTIZATIONS`.
        io_type: the int8 model's input/output type (int8, uint8 or float).
        calibration_samples: class-balanced training images for int8.
        seed: the calibration sampling seed.
        max_drop_pp: gate: largest accuracy drop allowed for quantised formats.
        min_agreement: gate: smallest top-1 agreement allowed for them.
        keep_failed: keep files that fail the gate (marked failed).
        debug: also write the int8 per-layer error report.
        c_array: also write the int8 model as a C source/header pair.
        micro: also check the int8 model with TensorFlow Lite Micro and write its
            C array and ``NAME.micro.json`` (:mod:`mnist_edge.evaluation.micro`).
        max_kb: for ``--quantize auto``, the largest model file allowed (KB), if any.
        chosen_by: for ``--quantize auto``, the budget and the measurements that
            chose the recipe (recorded in the sidecar).
    """

    quantizations: Tuple[str, ...] = constants.QUANTIZATIONS
    io_type: str = constants.DEFAULT_IO_TYPE
    calibration_samples: int = constants.DEFAULT_CALIBRATION_SAMPLES
    seed: int = 0
    max_drop_pp: float = constants.DEFAULT_MAX_DROP_PP
    min_agreement: float = constants.DEFAULT_MIN_AGREEMENT
    keep_failed: bool = False
    debug: bool = False
    c_array: bool = False
    micro: bool = False
    max_kb: Optional[float] = None
    chosen_by: Optional[dict] = None

    @property
    def gate_bounds(self) -> dict:
        """The parity gate's bounds, as ``validate_model_outputs`` takes them."""
        return {"max_drop_pp": self.max_drop_pp, "min_agreement": self.min_agreement}

"""What ``mnist-edge search`` is asked to do, as one object, and the device budget it searches under.

Standard library only: the CLI builds these before Ray or TensorFlow start.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List, Optional

from mnist_edge import constants

# A trial's own latency is measured while other trials train beside it (1.08-1.17x the quiet
# figure in two 16-trial searches here): before training, only a member this much slower than
# the budget is given up on. The verdict is the quiet measurement the search makes at the end.
PREFLIGHT_LATENCY_MARGIN = 1.25


@dataclasses.dataclass(frozen=True)
class Budget:
    """The device budget: model file size, one-image p50 on this machine, TFLM arena (None: no limit)."""

    max_kb: Optional[float] = None
    max_us: Optional[float] = None
    max_arena_kb: Optional[float] = None

    @property
    def unlimited(self) -> bool:
        """True when no limit is set."""
        return self.max_kb is None and self.max_us is None and self.max_arena_kb is None

    def overshoot(
        self,
        size_bytes: int,
        p50_us: Optional[float],
        arena_bytes: Optional[int],
        latency_margin: float = 1.0,
    ) -> Dict[str, float]:
        """How far each exceeded limit is passed, as a fraction of the limit (empty: within budget).

        An arena TFLM could not measure (``None``) exceeds any arena limit.
        """
        over = {}
        if self.max_kb is not None and size_bytes > self.max_kb * 1024:
            over["size"] = size_bytes / (self.max_kb * 1024) - 1
        if self.max_us is not None and p50_us is not None and p50_us > self.max_us * latency_margin:
            over["latency"] = p50_us / self.max_us - 1
        if self.max_arena_kb is not None and (arena_bytes is None or arena_bytes > self.max_arena_kb * 1024):
            over["arena"] = 1.0 if arena_bytes is None else arena_bytes / (self.max_arena_kb * 1024) - 1
        return over

    def text(self) -> str:
        """E.g. ``"<= 32 KB, <= 20 µs, arena <= 16 KB"``."""
        parts = [f"<= {self.max_kb:g} KB" if self.max_kb is not None else None]
        parts.append(f"<= {self.max_us:g} µs" if self.max_us is not None else None)
        parts.append(f"arena <= {self.max_arena_kb:g} KB" if self.max_arena_kb is not None else None)
        return ", ".join(p for p in parts if p) or "no limit"


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """One search: the budget, the space, the data and where it runs.

    Attributes:
        out_dir: the search's folder: trials table, Pareto plot, record, the
            best model, and Ray Tune's experiment (``ray/``) to resume from.
        budget: the device budget; a trial outside it is never the best.
        trials: how many members to train.
        space: the search space (:func:`mnist_edge.search.space.load_space`).
        seed: seeds the sampler, the data split and every trial's training.
        train_limit: class-balanced training digits each trial trains on (None: all but the validation split).
        validation: training digits kept out to choose by (the test set is only the winner's).
        images_dir: the user's labelled images, measured by every trial.
        cpus_per_trial: CPUs Ray gives a trial (TensorFlow's threads).
        max_concurrent: trials at once (None: as many as the CPUs allow).
        ray_address: ``HOST:PORT`` of an existing Ray cluster (None: start Ray here).
        grace_epochs: ASHA lets every trial train this many epochs before stopping weak ones.
    """

    out_dir: Path
    budget: Budget = Budget()
    trials: int = constants.SEARCH_TRIALS
    space: Optional[Dict[str, List]] = None
    seed: int = 0
    train_limit: Optional[int] = None
    validation: int = constants.VALIDATION_SAMPLES
    images_dir: Optional[str] = None
    cpus_per_trial: int = 1
    max_concurrent: Optional[int] = None
    ray_address: Optional[str] = None
    grace_epochs: int = 3

    def record(self) -> dict:
        """What the search record keeps to reproduce the search."""
        doc = dataclasses.asdict(self)
        doc["out_dir"] = str(self.out_dir)
        return doc

    @classmethod
    def from_record(cls, doc: dict, **changes) -> SearchConfig:
        """The config a record kept, with ``changes`` (where to run) applied."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in doc.items() if k in fields}
        kept["out_dir"] = Path(kept["out_dir"])
        kept["budget"] = Budget(**kept["budget"])
        kept.update(changes)
        return cls(**kept)

"""``export --quantize auto --max-drop PP``: the smallest, fastest recipe within an accuracy budget.

In small named steps:

1. :func:`validation_split`: training images the int8 calibration never
   saw (the test set stays for the final parity gate);
2. :func:`measure_recipe`: each recipe of :data:`~mnist_edge.constants.RECIPES`
   converted and measured: size, single-image p50 on this machine's
   interpreter, accuracy and its drop against the Keras model on the
   validation split and, when given, on the user's own labelled images;
3. :func:`choose`: the smallest file inside the budget (latency breaks
   ties); a recipe that fails to convert is recorded, never chosen;
4. :func:`frontier_table` / :func:`frontier_figure`: every recipe, as a table
   and a PNG (size against accuracy, latency as colour);
5. the chosen recipe goes through the ordinary export (parity gate on the
   full test set, sidecar with ``recipe.chosen_by``); nothing inside the
   budget is exit 3 with the table.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np

from mnist_edge import constants, fsutil
from mnist_edge import data as data_mod
from mnist_edge.bench.timing import summarize, timed_calls
from mnist_edge.errors import DataError
from mnist_edge.evaluation import evaluate
from mnist_edge.evaluation.image_eval import labelled_forms
from mnist_edge.evaluation.reporting import save_figure
from mnist_edge.export.config import ExportConfig
from mnist_edge.export.convert import FORMAT_NAMES, frozen_forward, representative_images
from mnist_edge.export.pipeline import export
from mnist_edge.export.recipes import convert_recipe
from mnist_edge.runtime import Predictor
from mnist_edge.training import keras_model

MIN_USER_IMAGES = 10  # fewer say nothing about an accuracy drop of a fraction of a point


@dataclasses.dataclass
class Candidate:
    """One recipe, measured."""

    recipe: str
    size_bytes: int = 0
    p50_us: float = float("nan")
    accuracy: float = float("nan")
    drop_pp: float = float("nan")
    agreement: float = float("nan")
    images_accuracy: Optional[float] = None
    images_drop_pp: Optional[float] = None
    error: Optional[str] = None
    feasible: bool = False

    def to_json(self) -> dict:
        """The figures as JSON values (a NaN that was never measured becomes null)."""
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in vars(self).items()}


@dataclasses.dataclass
class Held:
    """The images recipes are measured on, with the Keras model's probabilities for them."""

    x: np.ndarray  # uint8 (N, 28, 28)
    y: np.ndarray
    keras: np.ndarray


def validation_split(dataset: data_mod.Dataset, config: ExportConfig) -> np.ndarray:
    """Indices of :data:`~mnist_edge.constants.VALIDATION_SAMPLES` training images not in the calibration."""
    calibration = data_mod.balanced_sample(dataset.y_train, config.calibration_samples, config.seed)
    unseen = np.setdiff1d(np.arange(len(dataset.y_train)), calibration)
    rng = np.random.default_rng(config.seed + 1)
    return np.sort(rng.permutation(unseen)[: constants.VALIDATION_SAMPLES])


def user_images(images_dir, model) -> Held:
    """The user's labelled images in MNIST form, with the Keras model's probabilities.

    Raises:
        DataError: fewer than :data:`MIN_USER_IMAGES` readable labelled images.
    """
    forms = labelled_forms(images_dir)
    if len(forms.y) < MIN_USER_IMAGES:
        raise DataError(
            f"{images_dir}: {len(forms.y)} readable labelled images; measuring a recipe needs "
            f"at least {MIN_USER_IMAGES}"
        )
    return Held(forms.x, forms.y, evaluate.keras_probabilities(model, data_mod.normalize(forms.x)))


def _accuracy_and_drop(predictor, held: Held):
    probs = predictor.probabilities(held.x)
    accuracy = float(np.mean(probs.argmax(1) == held.y))
    keras_accuracy = float(np.mean(held.keras.argmax(1) == held.y))
    agreement = float(np.mean(probs.argmax(1) == held.keras.argmax(1)))
    return accuracy, round(100 * (keras_accuracy - accuracy), 4), agreement


def single_image_p50_us(predictor, images: np.ndarray, runs: int = constants.AUTO_LATENCY_RUNS) -> float:
    """p50 of one-image calls, in µs, cycling through ``images`` (after a warm-up)."""
    calls = [0]

    def call():
        predictor.predict(images[calls[0] % len(images)])
        calls[0] += 1

    timed_calls(call, min(50, runs))
    return summarize(timed_calls(call, runs))["p50_all"]


def measure_recipe(recipe, concrete, calibration, validation: Held, images: Optional[Held], stage, io_type):
    """Converts and measures one recipe (a failure to convert is recorded in ``error``)."""
    candidate = Candidate(recipe)
    try:
        content, _ = convert_recipe(concrete, recipe, io_type, calibration)
    except Exception as exc:  # a recipe the installed tools cannot make is a row, not a crash
        candidate.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
        return candidate
    path = fsutil.write_bytes_atomic(Path(stage) / f"auto-{FORMAT_NAMES[recipe]}.tflite", content)
    predictor = Predictor(path, num_threads=1)
    candidate.size_bytes = len(content)
    candidate.accuracy, candidate.drop_pp, candidate.agreement = _accuracy_and_drop(predictor, validation)
    if images is not None:
        candidate.images_accuracy, candidate.images_drop_pp, _ = _accuracy_and_drop(predictor, images)
    candidate.p50_us = round(single_image_p50_us(predictor, validation.x), 2)
    return candidate


def within(candidate: Candidate, max_drop_pp: float, max_kb: Optional[float] = None) -> bool:
    """Inside the budget: the drop on validation (and the user's images, when measured); the size."""
    if candidate.error is not None:
        return False
    if max_kb is not None and candidate.size_bytes > max_kb * 1024:
        return False
    drops = [candidate.drop_pp] + ([candidate.images_drop_pp] if candidate.images_drop_pp is not None else [])
    return all(d <= max_drop_pp for d in drops)


def choose(
    candidates: List[Candidate], max_drop_pp: float, max_kb: Optional[float] = None
) -> Optional[Candidate]:
    """The smallest recipe inside the budget (the faster of equal sizes), or None."""
    for c in candidates:
        c.feasible = within(c, max_drop_pp, max_kb)
    feasible = [c for c in candidates if c.feasible]
    return min(feasible, key=lambda c: (c.size_bytes, c.p50_us)) if feasible else None


def budget_text(max_drop_pp: float, max_kb: Optional[float]) -> str:
    """The budget in words, for the table's first line and the exit-3 message."""
    return f"accuracy drop <= {max_drop_pp} pp against the Keras model" + (
        f", size <= {max_kb:g} KB" if max_kb is not None else ""
    )


def frontier_table(candidates: List[Candidate], chosen: Optional[Candidate], budget: str) -> str:
    """Every recipe, smallest first: size, p50, accuracy, drop, agreement, verdict."""
    images = any(c.images_accuracy is not None for c in candidates)
    header = f"{'recipe':<16}{'size KB':>9}{'p50 µs':>9}{'val acc':>9}{'drop pp':>9}{'agree':>8}"
    header += f"{'img acc':>9}{'img drop':>10}" if images else ""
    lines = [f"budget: {budget}", header, "-" * len(header)]
    for c in sorted(candidates, key=lambda c: (c.error is not None, c.size_bytes, c.p50_us)):
        if c.error is not None:
            lines.append(f"{c.recipe:<16}  could not be made: {c.error}")
            continue
        row = f"{c.recipe:<16}{c.size_bytes / 1024:9.1f}{c.p50_us:9.1f}{c.accuracy:9.4f}{c.drop_pp:9.2f}"
        row += f"{c.agreement:8.4f}"
        if images:
            row += f"{c.images_accuracy:9.4f}{c.images_drop_pp:10.2f}"
        verdict = "CHOSEN" if c is chosen else ("within budget" if c.feasible else "over budget")
        lines.append(f"{row}  {verdict}")
    return "\n".join(lines)


def frontier_figure(
    candidates: List[Candidate], chosen: Optional[Candidate], budget_pp: float, path: Path
) -> Path:
    """Size against validation accuracy, one point per recipe, latency as colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    made = [c for c in candidates if c.error is None]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    points = ax.scatter(
        [c.size_bytes / 1024 for c in made],
        [100 * c.accuracy for c in made],
        c=[c.p50_us for c in made],
        cmap="viridis",
        s=70,
        edgecolors=["red" if c is chosen else "black" for c in made],
        linewidths=[2.5 if c is chosen else 0.5 for c in made],
    )
    ordered = sorted(made, key=lambda c: (c.size_bytes, c.accuracy))
    for k, c in enumerate(ordered):  # staggered: recipes of one size would print over each other
        ax.annotate(
            c.recipe,
            (c.size_bytes / 1024, 100 * c.accuracy),
            textcoords="offset points",
            xytext=(6, -12 + 9 * (k % 4)),
        )
    if made:
        keras = 100 * made[0].accuracy + made[0].drop_pp
        ax.axhline(keras - budget_pp, color="grey", linestyle="--", label=f"budget: Keras - {budget_pp} pp")
        ax.legend(loc="lower right")
    fig.colorbar(points, ax=ax, label="p50 µs (one image, this machine)")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("model size, KB (log)")
    ax.set_ylabel("validation accuracy, %")
    ax.set_title(
        "quantisation frontier" + (f": {chosen.recipe} chosen" if chosen else ": nothing within budget")
    )
    return save_figure(fig, path)


def measure_all(model_path, config: ExportConfig, dataset, images_dir=None, log: Callable = print):
    """Steps 1-2 for every recipe: the measured candidates."""
    model = keras_model.load_keras_model(Path(model_path))
    concrete = frozen_forward(model)
    calibration = representative_images(dataset, config.calibration_samples, config.seed)
    index = validation_split(dataset, config)
    x_val = dataset.x_train[index]
    validation = Held(
        x_val, dataset.y_train[index], evaluate.keras_probabilities(model, data_mod.normalize(x_val))
    )
    images = user_images(images_dir, model) if images_dir else None
    candidates = []
    with tempfile.TemporaryDirectory(prefix="mnist-edge-auto-") as stage:
        for recipe in constants.RECIPES:
            log(f"auto: measuring {recipe}")
            candidates.append(
                measure_recipe(recipe, concrete, calibration, validation, images, stage, config.io_type)
            )
    return candidates


def export_auto(
    model_path, out_dir, config: ExportConfig, dataset, images_dir=None, log: Callable = print
) -> dict:
    """Measures every recipe, writes the frontier, and exports the chosen one.

    Args:
        model_path: the ``.keras`` model.
        out_dir: the output folder (the model, its sidecar, ``<stem>_frontier.csv``/``.png``).
        config: calibration, io type and the budget (``max_drop_pp``, also the parity gate's).
        dataset: MNIST (training images for calibration and validation, test set for the gate).
        images_dir: the user's labelled images, also measured when given.
        log: progress lines.

    Returns:
        :func:`mnist_edge.export.export`'s result with ``chosen``, ``budget``,
        ``frontier``, ``frontier_table`` and ``frontier_files``; when no recipe
        is inside the budget, ``chosen`` is None, ``passed`` False and nothing
        but the frontier is written.
    """
    out_dir = fsutil.ensure_writable_dir(out_dir)
    stem = Path(model_path).stem
    candidates = measure_all(model_path, config, dataset, images_dir, log)
    chosen = choose(candidates, config.max_drop_pp, config.max_kb)
    budget = budget_text(config.max_drop_pp, config.max_kb)
    table = frontier_table(candidates, chosen, budget)
    files = [
        fsutil.write_bytes_atomic(out_dir / f"{stem}_frontier.csv", _frontier_csv(candidates).encode()),
        frontier_figure(candidates, chosen, config.max_drop_pp, out_dir / f"{stem}_frontier.png"),
    ]
    summary = {
        "chosen": chosen.recipe if chosen else None,
        "budget": budget,
        "frontier": [c.to_json() for c in candidates],
        "frontier_table": table,
        "frontier_files": [str(f) for f in files],
    }
    if chosen is None:
        return {
            "model": str(model_path),
            "out_dir": str(out_dir),
            "artifacts": [],
            "passed": False,
            **summary,
        }
    chosen_by = {
        "max_drop_pp": config.max_drop_pp,
        "max_kb": config.max_kb,
        "measured_on": f"{constants.VALIDATION_SAMPLES} training images the calibration never saw"
        + (f" and {images_dir}" if images_dir else ""),
        "candidates": [c.to_json() for c in candidates],
    }
    result = export(
        model_path,
        out_dir,
        dataclasses.replace(config, quantizations=(chosen.recipe,), chosen_by=chosen_by),
        dataset=dataset,
        log=log,
    )
    result.update(summary)
    return result


def _frontier_csv(candidates: List[Candidate]) -> str:
    fields = [f.name for f in dataclasses.fields(Candidate)]
    rows = [",".join(fields)]
    for c in candidates:
        doc = c.to_json()
        rows.append(",".join("" if doc[f] is None else str(doc[f]).replace(",", ";") for f in fields))
    return "\n".join(rows) + "\n"

"""One trial, as Ray Tune runs it on a worker: check the budget, train epoch by epoch, convert and measure.

1. **Preflight** (when there is a budget): the untrained member is converted
   and measured. Size and arena do not depend on the weights, so a member
   over the budget is reported infeasible in seconds instead of after minutes
   of training (latency only when it is well over: see
   :data:`~mnist_edge.search.config.PREFLIGHT_LATENCY_MARGIN`).
2. **Training**: one ``fit`` per epoch, each reported with the validation
   accuracy (what ASHA stops weak trials on) and a checkpoint (the Keras
   model and the epoch), so an interrupted search resumes mid-trial.
3. **Measurement** after the last epoch: converted with the member's recipe,
   gated on parity with Keras on the validation split, sized, timed and its
   TFLM arena measured (:mod:`mnist_edge.search.measure`).

TensorFlow and Ray are imported inside :func:`run_trial` (it runs in a Ray worker).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from mnist_edge import constants
from mnist_edge import data as data_mod
from mnist_edge.evaluation import macs
from mnist_edge.search.config import PREFLIGHT_LATENCY_MARGIN
from mnist_edge.search.data import SearchData
from mnist_edge.search.family import build_member
from mnist_edge.search.measure import convert_member, device_facts, parity_on
from mnist_edge.search.results import infeasible_score, reasons_of
from mnist_edge.training._tf import import_tf

MODEL_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
STATE_FILE = "state.json"


def _threads(tf, cpus: int) -> None:
    try:  # only before TensorFlow's runtime starts; a reused worker keeps what it has
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
    except RuntimeError:
        pass


def _compile(model, keras, member: Dict, steps_per_epoch: int) -> None:
    rate = keras.optimizers.schedules.CosineDecay(
        constants.SEARCH_LEARNING_RATE, steps_per_epoch * member["epochs"], alpha=0.02
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=min(50, steps_per_epoch),
    )


def _facts_metrics(facts) -> dict:
    return {
        "size_bytes": facts.size_bytes,
        "p50_us": facts.p50_us,
        "arena_bytes": facts.arena_bytes,
        "arena_error": facts.arena_error,
    }


def preflight(model, member: Dict, data: SearchData, work: Path) -> Optional[dict]:
    """The report of a member over the budget before training (None: train it)."""
    if data.budget.unlimited:
        return None
    facts = device_facts(
        convert_member(model, member["recipe"], data.calibration), work / "preflight.tflite", data.x_val
    )
    over = data.budget.overshoot(facts.size_bytes, facts.p50_us, facts.arena_bytes, PREFLIGHT_LATENCY_MARGIN)
    if not over:
        return None
    return {
        "stage": "preflight",
        "epoch": 0,
        "feasible": False,
        "over_budget": over,
        "reasons": "; ".join(reasons_of([], over, facts.arena_bytes, facts.arena_error, " before training")),
        "score": infeasible_score(over, []),
        **_facts_metrics(facts),
    }


def measure(model, member: Dict, data: SearchData, keras_val: np.ndarray, work: Path) -> dict:
    """Step 3: the trained member converted, gated and measured (metrics of the last report)."""
    facts = device_facts(
        convert_member(model, member["recipe"], data.calibration), work / TFLITE_FILE, data.x_val
    )
    predictor = facts.predictor
    stats, failures = parity_on(predictor, data.x_val, data.y_val, keras_val, member["recipe"])
    over = data.budget.overshoot(facts.size_bytes, facts.p50_us, facts.arena_bytes, PREFLIGHT_LATENCY_MARGIN)
    images_accuracy = None
    if data.x_images is not None:
        images_accuracy = float(np.mean(predictor.probabilities(data.x_images).argmax(1) == data.y_images))
    feasible = not over and not failures
    return {
        "stage": "measured",
        "feasible": feasible,
        "over_budget": over,
        "gate_failures": "; ".join(failures),
        "reasons": "; ".join(reasons_of(failures, over, facts.arena_bytes, facts.arena_error)),
        "val_accuracy": stats["accuracy"],
        "agreement": stats["agreement"],
        "drop_pp": stats["accuracy_drop_pp"],
        "images_accuracy": images_accuracy,
        "multiply_adds": macs.multiply_adds(predictor.facts),
        "score": stats["accuracy"] if feasible else infeasible_score(over, failures, stats["accuracy"]),
        **_facts_metrics(facts),
    }


def _save_checkpoint(model, epoch: int, history: list, work: Path, tflite: Optional[Path]) -> Path:
    folder = work / f"checkpoint-{epoch}"
    folder.mkdir()
    model.save(folder / MODEL_FILE)
    (folder / STATE_FILE).write_text(json.dumps({"epoch": epoch, "history": history}))
    if tflite is not None:
        (folder / TFLITE_FILE).write_bytes(tflite.read_bytes())
    return folder


def _restore(keras, checkpoint):
    """``(model, epochs done, history)`` from a trial's last checkpoint, or None."""
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        state = json.loads((Path(folder) / STATE_FILE).read_text())
        model = keras.models.load_model(Path(folder) / MODEL_FILE)
    return model, state["epoch"], state["history"]


def run_trial(member: Dict, data: SearchData) -> None:
    """Ray Tune's trainable: one member trained, reported each epoch, measured at the end."""
    from ray import tune

    tf = import_tf()
    import keras

    _threads(tf, data.cpus)
    keras.backend.clear_session()
    keras.utils.set_random_seed(data.seed)
    x, y = data_mod.normalize(data.x_train), data.y_train.astype(np.int32)
    x_val = data_mod.normalize(data.x_val)
    with tempfile.TemporaryDirectory(prefix="mnist-edge-trial-") as tmp:
        work = Path(tmp)
        restored = _restore(keras, tune.get_checkpoint())
        if restored is None:
            model, done, history = build_member(member), 0, []
            early = preflight(model, member, data, work)
            if early is not None:
                tune.report(early)
                return
            _compile(model, keras, member, -(-len(x) // constants.SEARCH_BATCH_SIZE))
        else:
            model, done, history = restored
        for epoch in range(done, member["epochs"]):
            started = time.perf_counter()
            model.fit(
                x, y, batch_size=constants.SEARCH_BATCH_SIZE, epochs=epoch + 1, initial_epoch=epoch, verbose=0
            )
            keras_val = model.predict(x_val, batch_size=1000, verbose=0)
            history.append({"epoch": epoch + 1, "seconds": round(time.perf_counter() - started, 2)})
            metrics = {
                "stage": "training",
                "epoch": epoch + 1,
                "val_accuracy_keras": float(np.mean(keras_val.argmax(1) == data.y_val)),
                "train_seconds": round(sum(h["seconds"] for h in history), 2),
            }
            metrics["score"] = metrics["val_accuracy_keras"]
            tflite = None
            if epoch + 1 == member["epochs"]:
                metrics.update(measure(model, member, data, keras_val, work))
                tflite = work / TFLITE_FILE
            folder = _save_checkpoint(model, epoch + 1, history, work, tflite)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

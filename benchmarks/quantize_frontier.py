"""Every quantisation recipe for the MLP, the default CNN and the tiny CNN, side by side in one run.

For each model and each recipe of ``mnist_edge.constants.RECIPES`` (and, with
``--qat-epochs N``, a quantisation-aware int8 beside post-training int8):

* size of the .tflite, p50 of one-image calls on this machine's LiteRT
  interpreter (one thread, recipes interleaved in one run);
* MNIST test accuracy and top-1 agreement with the Keras model;
* accuracy on real-world renderings of MNIST test digits
  (``mnist_edge.synthesis.renderings``: scans, low resolution, pens, markers,
  photos, mouse lines), through the front-end (its likelier reading, the
  same 28x28 forms for every recipe), argmax without abstention: the model,
  not the threshold, is compared;
* agreement with TensorFlow Lite Micro's kernels (the recipes TFLM runs:
  full int8; "-" for the others).

The default CNN's Keras model is rebuilt from the shipped int8 file
(``training.rebuild``: its weights are the dequantised int8 ones), so its
"Keras" column is that model's.

    MNIST_EDGE_DATA=../shared/data/mnist python benchmarks/quantize_frontier.py \\
        [--mlp models/mnist_mlp.keras] [--tiny models/tiny/mnist_tiny.keras] [--qat-epochs 2] [--n 300]

Without --mlp the tutorial MLP is trained first (5 epochs, ~1 minute).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from mnist_edge import constants, data, fsutil
from mnist_edge.errors import MnistEdgeError, NoDigitError
from mnist_edge.evaluation import evaluate, micro
from mnist_edge.export.auto import single_image_p50_us
from mnist_edge.export.convert import FORMAT_NAMES, frozen_forward, representative_images
from mnist_edge.export.recipes import convert_recipe
from mnist_edge.preprocess import to_mnist
from mnist_edge.runtime import Predictor, default_model_path
from mnist_edge.synthesis import renderings
from mnist_edge.training import keras_model

RENDERINGS = (
    "scan16-margin-light",
    "lowres8-tight-light",
    "thin-pen",
    "fat-marker",
    "blurred",
    "photo",
    "mouse-1px-white-on-black",
)


def real_world_forms(dataset, n: int, seed: int = 0):
    """``n`` test digits per rendering, through the front-end (unreadable ones count as misses)."""
    rng = np.random.default_rng(seed)
    forms, labels, missed = [], [], 0
    for name in RENDERINGS:
        for i in rng.choice(len(dataset.y_test), n, replace=False):
            try:
                image = renderings.RENDERINGS[name](dataset.x_test[i], rng)
                forms.append(to_mnist(image.astype(np.float32) / 255.0))
                labels.append(int(dataset.y_test[i]))
            except NoDigitError:
                missed += 1
    return np.stack(forms), np.asarray(labels), missed


def row(model_name, recipe, predictor, keras_test, dataset, world, tflm_images):
    x_world, y_world, missed = world
    test = predictor.probabilities(dataset.x_test).argmax(1)
    world_labels = predictor.probabilities(x_world).argmax(1)
    tflm = "-"
    if predictor.input_dtype.kind in "iu":  # TFLM runs full-integer models
        try:
            result = micro.check(predictor.model_path, tflm_images)
            tflm = f"{result['agreement_with_litert']:.4f}"
        except MnistEdgeError as exc:
            tflm = f"fails: {str(exc)[-60:]}"
    elif recipe.startswith("int8"):
        tflm = "- (float I/O)"
    return {
        "model": model_name,
        "recipe": recipe,
        "kb": len(predictor.content) / 1024,
        "p50_us": single_image_p50_us(predictor, dataset.x_test[:500], 1000),
        "mnist": float(np.mean(test == dataset.y_test)),
        "agree": float(np.mean(test == keras_test)),
        "world": float(np.sum(world_labels == y_world)) / (len(y_world) + missed),
        "tflm": tflm,
    }


def measure_model(name, model, dataset, world, stage: Path, qat_source=None, qat_epochs=0):
    concrete = frozen_forward(model)
    keras_test = evaluate.keras_probabilities(model, data.normalize(dataset.x_test)).argmax(1)
    calibration = representative_images(dataset, constants.DEFAULT_CALIBRATION_SAMPLES, 0)
    rows = []
    for recipe in constants.RECIPES:
        started = time.perf_counter()
        content, _ = convert_recipe(concrete, recipe, "int8", calibration)
        path = fsutil.write_bytes_atomic(stage / f"{name}_{FORMAT_NAMES[recipe]}.tflite", content)
        rows.append(
            row(
                name,
                recipe,
                Predictor(path, num_threads=1),
                keras_test,
                dataset,
                world,
                dataset.x_test[:1000],
            )
        )
        print(f"  {name} {recipe}: {time.perf_counter() - started:.1f} s", flush=True)
    if qat_epochs and qat_source is not None:
        from mnist_edge.training import qat

        result = qat.train_qat(
            qat_source, dataset, stage, qat_epochs, 64, 0, os.environ.get("MNIST_EDGE_DATA")
        )
        predictor = Predictor(result["model"], num_threads=1)
        rows.append(
            row(
                name,
                f"int8 QAT {qat_epochs} ep",
                predictor,
                keras_test,
                dataset,
                world,
                dataset.x_test[:1000],
            )
        )
    return rows


def table(rows) -> str:
    lines = [
        "| model | recipe | size KB | p50 µs | MNIST | agree Keras | real-world | agree TFLM |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['recipe']} | {r['kb']:.1f} | {r['p50_us']:.1f} | {r['mnist']:.4f} | "
            f"{r['agree']:.4f} | {r['world']:.4f} | {r['tflm']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlp", help="the tutorial MLP (.keras); trained first when not given")
    parser.add_argument("--tiny", help="the tiny CNN (.keras), e.g. from `train --arch tiny`")
    parser.add_argument(
        "--qat-epochs", type=int, default=0, help="also quantisation-aware int8 (MLP, default CNN)"
    )
    parser.add_argument("--n", type=int, default=300, help="test digits per real-world rendering")
    args = parser.parse_args()

    dataset = data.load()
    world = real_world_forms(dataset, args.n)
    print(f"real-world renderings: {len(world[1])} forms, {world[2]} unreadable (misses)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        mlp_path = Path(args.mlp) if args.mlp else None
        if mlp_path is None:
            from mnist_edge.training import train
            from mnist_edge.training.config import TrainConfig

            mlp_path = Path(train.train(dataset, stage, TrainConfig(seed=0))["model"])
        from mnist_edge.training.rebuild import keras_from_tflite

        cnn = keras_from_tflite(default_model_path())
        cnn_path = stage / "mnist_cnn_default.keras"
        cnn.save(cnn_path)
        models = [("MLP", keras_model.load_keras_model(mlp_path), mlp_path), ("default CNN", cnn, cnn_path)]
        if args.tiny:
            models.append(("tiny", keras_model.load_keras_model(Path(args.tiny)), Path(args.tiny)))
        rows = []
        for name, model, path in models:
            qat_epochs = args.qat_epochs if name != "tiny" else 0
            rows += measure_model(name, model, dataset, world, stage, path, qat_epochs)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

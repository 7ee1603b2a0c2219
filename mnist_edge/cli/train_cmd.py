"""``mnist-edge train``."""

from __future__ import annotations

import os

import click

from mnist_edge import constants
from mnist_edge.cli.common import (
    DATA_DIR_OPTION,
    FASHION_DIR,
    JSON_OPTION,
    QUIET_OPTION,
    echo_json,
    logger,
    out,
)


@click.command(name="train")
@click.option(
    "--arch",
    type=click.Choice(list(constants.ARCHS)),
    default=constants.DEFAULT_ARCH,
    show_default=True,
    help="mlp: the tutorial's model, layer for layer. cnn: a small CNN (12.8k parameters). "
    "cnn-m: the packaged model's device CNN (99k parameters).",
)
@click.option(
    "--augment",
    "augment_copies",
    type=click.IntRange(0, 20),
    default=0,
    show_default=True,
    help="Add this many copies of each digit drawn the ways real images arrive (scans, "
    "low resolution, pens, blur, JPEG, photos) and passed through the predictor's front-end.",
)
@click.option(
    "--outliers",
    type=click.IntRange(0, 1_000_000),
    default=0,
    show_default=True,
    help="Teach 'not a digit' with this many non-digits (letters, shapes, scribbles, empty "
    "pages, garments) and calibrate the threshold on held-out digits.",
)
@click.option(
    "--styles",
    type=click.IntRange(0, 1_000_000),
    default=0,
    show_default=True,
    help="Add this many digits in the forms MNIST's writers rarely used (open-top and triangle 4s, "
    "flagged 1s, crossed 7s, straight-stemmed and g-like 9s, looped 2s...), drawn and passed through the "
    "front-end like --augment.",
)
@click.option(
    "--touching",
    type=click.IntRange(0, 1_000_000),
    default=0,
    show_default=True,
    help="Teach 'not one digit' with this many boxes of two or three touching digits (composed from "
    "the training digits, found as predict --number finds them), so reading a number parts them.",
)
@click.option(
    "--writers",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Share of the --augment, --styles and --touching digits redrawn as other writers' hands "
    "leave them: narrower (0.55-0.8 of their width), and in touching groups also coarse (8x8 scans).",
)
@click.option(
    "--outlier-data",
    type=click.Path(exists=True, path_type=str),
    default=None,
    help="Fashion-MNIST folder for garments among the outliers "
    f"(default: {FASHION_DIR} when --outliers is given and it exists).",
)
@click.option("--epochs", type=click.IntRange(1, 1000), default=constants.DEFAULT_EPOCHS, show_default=True)
@click.option(
    "--batch-size", type=click.IntRange(1, 60000), default=constants.DEFAULT_BATCH_SIZE, show_default=True
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**31 - 1),
    default=0,
    show_default=True,
    help="Same seed on the same machine gives the same weights.",
)
@click.option(
    "--train-limit",
    type=click.IntRange(10, None),
    default=None,
    help="Train on a class-balanced subset of this many images (quick runs).",
)
@click.option(
    "--images",
    "images_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Fine-tune on your own labelled images (read as eval --images reads them: labels.csv, "
    "sub-folders named by label, or a _<label> suffix), half of each class held back to measure on, "
    "with MNIST rehearsal.",
)
@click.option(
    "--from",
    "from_model",
    default=None,
    metavar="MODEL",
    help="The model to start from: a .keras, an int8 .tflite, or 'default' (the shipped model). "
    "With --images: fine-tune it on your images (default: 'default'). Without: continue training "
    "it on the set --augment/--styles/--outliers/--touching build, at a fifth of the learning rate.",
)
@click.option(
    "--qat",
    is_flag=True,
    help="Quantisation-aware training: fine-tune --from MODEL (a .keras) for --epochs with fake "
    "int8 quantisation (tensorflow-model-optimization on tf-keras: the qat extra), write "
    "OUT/<stem>_qat_int8.tflite, and compare it with post-training int8.",
)
@DATA_DIR_OPTION
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=str(constants.DEFAULT_MODELS_DIR),
    show_default=True,
    help="Folder for the .keras model and its metadata.",
)
@JSON_OPTION
@QUIET_OPTION
def command(
    arch,
    augment_copies,
    outliers,
    styles,
    touching,
    writers,
    outlier_data,
    epochs,
    batch_size,
    seed,
    train_limit,
    images_dir,
    from_model,
    qat,
    data_dir,
    out_dir,
    as_json,
    quiet,
):
    """Train the tutorial's MLP, or a device CNN for real-world images, reproducibly.

    Writes OUT/<dataset>_<arch>.keras and a JSON metadata file beside it
    (dataset checksums, seed, hyper-parameters, history, test metrics, wall
    time, library versions, and with --outliers the calibrated 'not a digit'
    threshold). Nothing is left in OUT if the run fails.

    With --images DIR: fine-tune --from MODEL (default: the shipped model) on
    your own labelled images instead, and print the before/after table on the
    half of your images held back (never trained on) and on MNIST's test set;
    then export the result as usual.
    """
    from mnist_edge.errors import require_tensorflow

    if images_dir and (
        augment_copies
        or outliers
        or styles
        or touching
        or writers
        or train_limit
        or arch != constants.DEFAULT_ARCH
    ):
        raise click.UsageError(
            "--images fine-tunes a model: --arch, --augment, --styles, --outliers, --touching, "
            "--writers, --train-limit do not apply"
        )
    if from_model and arch != constants.DEFAULT_ARCH:
        raise click.UsageError("--from MODEL continues that model: --arch does not apply")
    if qat and (not from_model or not from_model.endswith(".keras")):
        raise click.UsageError("--qat fine-tunes a trained model: give --from MODEL.keras")
    if qat and (images_dir or augment_copies or outliers or styles or touching or writers or train_limit):
        raise click.UsageError(
            "--qat fine-tunes on MNIST: --images, --augment, --styles, --outliers, --touching, --writers "
            "do not apply"
        )
    if writers and not (augment_copies or styles or touching):
        raise click.UsageError("--writers redraws digits of --augment, --styles or --touching: give one")
    require_tensorflow("mnist-edge train")
    from mnist_edge import data as data_mod
    from mnist_edge.fsutil import ensure_writable_dir
    from mnist_edge.training import train as train_mod
    from mnist_edge.training.config import TrainConfig

    log = logger(quiet)
    ensure_writable_dir(out_dir)  # fail before minutes of work, not after
    dataset = data_mod.load(data_dir)
    log(
        f"data: {dataset.name} from {dataset.source} "
        f"({len(dataset.y_train)} train / {len(dataset.y_test)} test"
        f"{', checksums verified' if dataset.verified else ', unknown checksums'})"
    )
    if images_dir:
        _fine_tune(images_dir, from_model or "default", dataset, out_dir, seed, as_json, log)
        return
    if qat:
        _qat(from_model, dataset, data_dir, out_dir, epochs, batch_size, seed, as_json, log)
        return
    if outliers and outlier_data is None and os.path.isdir(FASHION_DIR):
        outlier_data = FASHION_DIR
    config = TrainConfig(
        arch,
        epochs,
        batch_size,
        seed,
        train_limit,
        augment_copies,
        outliers,
        outlier_data,
        styles,
        from_model,
        touching,
        writers,
    )
    meta = train_mod.train(dataset, out_dir, config, log)
    summary = train_mod.summary(meta)
    if as_json:
        echo_json(summary)
        return
    out(f"model          {summary['model']}")
    out(f"test accuracy  {summary['test_accuracy']:.4f}")
    out(f"test loss      {summary['test_loss']:.4f}")
    out(f"train time     {summary['train_seconds']:.1f} s ({summary['epochs']} epochs)")
    if summary.get("min_confidence") is not None:
        out(f"not a digit    below {summary['abstain_score']} score {summary['min_confidence']:.4f}")


def _qat(source, dataset, data_dir, out_dir, epochs, batch_size, seed, as_json, log):
    from mnist_edge.training import qat

    result = qat.train_qat(source, dataset, out_dir, epochs, batch_size, seed, data_dir, log)
    if as_json:
        echo_json(result)
        return
    out(f"model          {result['model']}")
    out(qat.format_comparison(result))


def _fine_tune(images_dir, source, dataset, out_dir, seed, as_json, log):
    from mnist_edge.training import finetune

    meta = finetune.fine_tune(source, images_dir, dataset, out_dir, finetune.FineTuneConfig(seed=seed), log)
    if as_json:
        echo_json({k: meta[k] for k in ("model", "fine_tuned_from", "split", "before", "after", "abstain")})
        return
    out(f"model          {meta['model']}")
    out(finetune.format_table(meta))
    out(f"next: mnist-edge export --model {meta['model']} --quantize int8")

"""``mnist-edge eval``: on the MNIST test set (Keras or TFLite) or on the user's own images."""

from __future__ import annotations

import click

from mnist_edge.cli.common import (
    DATA_DIR_OPTION,
    JSON_OPTION,
    MIN_CONFIDENCE_OPTION,
    TEST_IMAGES_OPTION,
    echo_json,
    out,
)
from mnist_edge.errors import PartialFailure


@click.command(name="eval")
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="A .keras model (needs TensorFlow) or a .tflite model (does not). "
    "Default: the trained model in models/ when TensorFlow is installed, else the shipped model.",
)
@click.option(
    "--images",
    "images_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Evaluate on your own labelled images instead of the MNIST test set: "
    "DIR/labels.csv, DIR/<label>/*.png, or a _<label> file-name suffix.",
)
@MIN_CONFIDENCE_OPTION
@DATA_DIR_OPTION
@TEST_IMAGES_OPTION
@click.option(
    "--plots",
    "plots_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="With a .keras model: write the tutorial's figures as PNG here.",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="With --images: write report.md and a gallery of the misreads. With --across-runtimes: "
    "runtimes.json and runtimes.png, the images interpreters label differently.",
)
@click.option(
    "--number",
    "as_number",
    is_flag=True,
    help="With --images: each image holds a number; labels are digit strings (labels.csv, or a "
    "file name like receipt_2024.png). Reports whole-number and per-digit accuracy and the digit count.",
)
@click.option(
    "--across-runtimes",
    is_flag=True,
    help="Run the .tflite (default: the shipped model) on every interpreter here (LiteRT with "
    "XNNPACK, its built-in and reference kernels, tflite-runtime, TensorFlow Lite Micro) on the "
    "same inputs and compare every pair: top-1 agreement, largest output difference, label "
    "changes. Exit 3 if two interpreters give an image different labels.",
)
@JSON_OPTION
def command(
    model_path,
    images_dir,
    min_confidence,
    data_dir,
    test_images,
    plots_dir,
    report_dir,
    as_number,
    across_runtimes,
    as_json,
):
    """Evaluate a model: accuracy, per-class accuracy, confusion matrix.

    On the MNIST test set (a .keras model with TensorFlow, or a .tflite model
    without it), or with --images on a folder of your own labelled images
    (any format predict reads, through the same front-end; images answered
    "not a digit" count as misses and have their own column).
    """
    if as_number and not images_dir:
        raise click.UsageError("--number goes with --images DIR (a folder of labelled images of numbers)")
    if across_runtimes:
        _across_runtimes(model_path, images_dir, data_dir, test_images, as_json, report_dir)
        return
    if images_dir:
        if test_images:
            raise click.UsageError("--test-images is for the MNIST test set, not --images")
        _images(model_path, images_dir, min_confidence, report_dir, as_number, as_json)
        return
    from mnist_edge.evaluation import evaluate

    model_path = model_path or evaluate.default_eval_model()
    if model_path.endswith(".tflite"):
        result = evaluate.evaluate_tflite(model_path, data_dir, test_images)
    elif test_images:
        raise click.UsageError("--test-images is for a .tflite model (what a device runs)")
    else:
        result = evaluate.evaluate_keras(
            model_path, data_dir, plots_dir, note=lambda m: click.echo(m, err=True)
        )
    if as_json:
        echo_json(result)
        return
    out(f"model          {result['model']}")
    out(f"test accuracy  {result['test_accuracy']:.4f}  ({result['n']} images)")
    out(f"test loss      {result['test_loss']:.4f}")
    if result.get("agreement") is not None:
        out(
            f"agreement      {result['agreement']:.4f} with the Keras model "
            f"(max |dp| {result['max_abs_diff']:.4f}, {result['reference']})"
        )
    out("per class      " + "  ".join(f"{i}:{a:.3f}" for i, a in enumerate(result["per_class_accuracy"])))
    out("confusion matrix (rows: true, columns: predicted)")
    for i, row in enumerate(result["confusion_matrix"]):
        out(f"  {i} " + " ".join(f"{v:5d}" for v in row))
    for p in result.get("plots", []):
        out(f"wrote {p}")


def _images(model_path, images_dir, min_confidence, report_dir, as_number, as_json):
    from mnist_edge.evaluation import image_eval, number_eval

    if model_path and not model_path.endswith(".tflite"):
        raise click.UsageError("--images evaluates a .tflite model (what the device runs)")
    kind = number_eval if as_number else image_eval
    result = kind.run(model_path, images_dir, min_confidence, report_dir)
    if as_json:
        echo_json(result)
    else:
        out(f"model          {result['model']}")
        out(kind.format_summary(result))
        for p in result.get("report", []):
            out(f"wrote {p}")
    for failed in result["error_files"]:
        click.echo(f"{failed['path']}: {failed['error']}", err=True)
    if result["error_files"]:
        raise PartialFailure(
            f"{len(result['error_files'])} of {result['n']} images could not be read (counted as errors)"
        )


def _across_runtimes(model_path, images_dir, data_dir, test_images, as_json, report_dir):
    from mnist_edge import runtime
    from mnist_edge.errors import GateError
    from mnist_edge.evaluation import runtimes

    if model_path and not model_path.endswith(".tflite"):
        raise click.UsageError("--across-runtimes compares interpreters: give it a .tflite model")
    images, names = _comparison_images(images_dir, data_dir, test_images)
    report = runtimes.across_runtimes(model_path or runtime.default_model_path(), images, names)
    if as_json:
        echo_json(report)
    else:
        out(runtimes.format_report(report))
    for path in _write_runtimes_report(report, images, report_dir) if report_dir else []:
        if as_json:
            click.echo(f"wrote {path}", err=True)  # stdout holds the one JSON document
        else:
            out(f"wrote {path}")
    changed = [r for r in report["pairs"] if r["label_changes"]]
    if changed:
        raise GateError(
            "interpreters disagree on labels: "
            + ", ".join(f"{' vs '.join(r['pair'])} ({len(r['label_changes'])})" for r in changed)
        )


def _write_runtimes_report(report, images, report_dir):
    """``runtimes.json`` and, when interpreters disagree, ``runtimes.png``."""
    from mnist_edge import fsutil
    from mnist_edge.evaluation import runtimes

    folder = fsutil.ensure_writable_dir(report_dir)
    written = [fsutil.write_json_atomic(folder / "runtimes.json", report)]
    gallery = runtimes.disagreement_gallery(images, report)
    if gallery:
        written.append(fsutil.write_bytes_atomic(folder / "runtimes.png", gallery))
    return written


def _comparison_images(images_dir, data_dir, test_images):
    """MNIST's test digits, or every image of a folder in MNIST form (and their names)."""
    import numpy as np

    from mnist_edge import data
    from mnist_edge.preprocess import iter_image_paths, preprocess_file
    from mnist_edge.preprocess.load import ImageError

    if not images_dir:
        dataset = data.load(data_dir)
        x = dataset.x_test[: test_images or len(dataset.x_test)]
        return x, None
    forms, names = [], []
    for path, problem in iter_image_paths([images_dir]):
        try:
            if problem:
                raise ImageError(problem)
            forms.append(preprocess_file(path))
            names.append(str(path))
        except ImageError as exc:
            click.echo(f"{path}: skipped ({exc})", err=True)
    if not forms:
        raise click.UsageError(f"{images_dir}: no image with a digit in it")
    return np.stack(forms), names

"""The ``mnist-edge`` command line.

Results go to stdout (``--json`` prints exactly one JSON document), progress
and logs to stderr. Heavy libraries (TensorFlow, matplotlib) are imported
inside the commands that need them, so ``mnist-edge --help`` and
``mnist-edge predict`` stay light.

Exit codes:
    0  success
    1  an error the user can fix (missing/corrupt data or model, bad output folder)
    2  usage error (bad option or argument; click's own code)
    3  a parity gate failed (``export``)
    4  some inputs failed while the others were processed (``predict``, ``bench``)
    130  interrupted (Ctrl-C); nothing half-written is left behind
"""

from __future__ import annotations

import functools
import json
import sys

import click

from mnist_edge import __version__

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARITY = 3
EXIT_PARTIAL = 4
EXIT_INTERRUPTED = 130


def _user_errors():
    """Exception types that mean "the user gave us something bad"."""
    from mnist_edge.data import DataError
    from mnist_edge.fsutil import OutputError
    from mnist_edge.keras_model import ModelError

    errors = [DataError, OutputError, ModelError]
    try:
        from mnist_edge.runtime import RuntimeModelError, ImageError

        errors += [RuntimeModelError, ImageError]
    except ImportError:  # runtime needs an interpreter only when it is used
        pass
    return tuple(errors)


def handle_errors(func):
    """Turns user-caused errors into one line and a non-zero exit, no traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            click.echo("mnist-edge: interrupted; no partial output was left", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except _user_errors() as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def echo_json(document) -> None:
    """Prints one JSON document on stdout."""
    click.echo(json.dumps(document, indent=2))


def logger(quiet: bool):
    """Returns a function that writes progress lines to stderr unless quiet."""
    if quiet:
        return lambda _msg: None
    return lambda msg: click.echo(msg, err=True)


DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(exists=True, path_type=str),
    default=None,
    help="Folder with the four MNIST IDX files (.gz or raw) or a Keras mnist.npz. "
    "Default: $MNIST_EDGE_DATA, then ~/.keras/datasets/mnist.npz, then a Keras download.",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON document on stdout.")
QUIET_OPTION = click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mnist-edge")
def main():
    """Train, export, benchmark and deploy an MNIST digit model to small devices.

    Exit codes: 0 ok, 1 user error, 2 usage error, 3 parity gate failed,
    4 some inputs failed, 130 interrupted.
    """


@main.command()
@click.option("--arch", type=click.Choice(["mlp", "cnn"]), default="mlp", show_default=True,
              help="mlp: the tutorial's model, layer for layer. cnn: a small CNN.")
@click.option("--epochs", type=click.IntRange(1, 1000), default=5, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 60000), default=32, show_default=True)
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True,
              help="Same seed on the same machine gives the same weights.")
@click.option("--train-limit", type=click.IntRange(10, None), default=None,
              help="Train on a class-balanced subset of this many images (quick runs).")
@DATA_DIR_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=str),
              default="models", show_default=True, help="Folder for the .keras model and its metadata.")
@JSON_OPTION
@QUIET_OPTION
@handle_errors
def train(arch, epochs, batch_size, seed, train_limit, data_dir, out_dir, as_json, quiet):
    """Train the tutorial's MLP (or a small CNN) on MNIST, fast and reproducibly.

    Writes OUT/<dataset>_<arch>.keras and a JSON metadata file beside it
    (dataset checksums, seed, hyper-parameters, history, test metrics, wall
    time, library versions). Nothing is left in OUT if the run fails.
    """
    from mnist_edge import data as data_mod
    from mnist_edge import train as train_mod

    from mnist_edge.fsutil import ensure_writable_dir

    log = logger(quiet)
    ensure_writable_dir(out_dir)  # fail before minutes of work, not after
    dataset = data_mod.load(data_dir)
    log(f"data: {dataset.name} from {dataset.source} "
        f"({len(dataset.y_train)} train / {len(dataset.y_test)} test"
        f"{', checksums verified' if dataset.verified else ', unknown checksums'})")
    meta = train_mod.train(dataset, out_dir, arch=arch, epochs=epochs, batch_size=batch_size,
                           seed=seed, train_limit=train_limit, log=log)
    summary = {
        "model": meta["model"],
        "metadata": meta["model"][: -len(".keras")] + ".json",
        "arch": arch,
        "dataset": dataset.name,
        "test_accuracy": meta["test_accuracy"],
        "test_loss": meta["test_loss"],
        "train_seconds": meta["train_seconds"],
        "epochs": epochs,
        "seed": seed,
    }
    if as_json:
        echo_json(summary)
    else:
        click.echo(f"model          {summary['model']}")
        click.echo(f"test accuracy  {summary['test_accuracy']:.4f}")
        click.echo(f"test loss      {summary['test_loss']:.4f}")
        click.echo(f"train time     {summary['train_seconds']:.1f} s ({epochs} epochs)")


@main.command(name="eval")
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=str),
              default=None, help="The .keras model (default: the trained model in models/).")
@DATA_DIR_OPTION
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False, path_type=str),
              default=None, help="Write the tutorial's figures as PNG into this folder.")
@JSON_OPTION
@handle_errors
def eval_(model_path, data_dir, plots_dir, as_json):
    """Evaluate a trained model: accuracy, loss, per-class accuracy, confusion matrix.

    With --plots DIR also writes train_grid.png (training images 1990-2009),
    confusion_matrix.png, image_2000.png (image and probabilities) and
    training_curves.png (from the model's metadata).
    """
    from mnist_edge import data as data_mod
    from mnist_edge import evaluate, keras_model
    from mnist_edge.train import load_metadata

    path = model_path or keras_model.default_model_path()
    model = keras_model.load_keras_model(path)
    dataset = data_mod.load(data_dir)
    probs = evaluate.keras_probabilities(model, data_mod.normalize(dataset.x_test))
    result = {"model": str(path), "dataset": dataset.name}
    result.update(evaluate.metrics(probs, dataset.y_test))
    if plots_dir:
        meta = load_metadata(path) or {}
        p2000 = evaluate.keras_probabilities(model, data_mod.normalize(dataset.x_train[2000:2001]))[0]
        names = None
        if dataset.name == "fashion-mnist":
            names = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]
        written = evaluate.write_plots(plots_dir, dataset.x_train, dataset.y_train,
                                       result["confusion_matrix"], p2000,
                                       meta.get("history"), names)
        result["plots"] = [str(p) for p in written]
        if not meta.get("history"):
            click.echo("note: no training metadata beside the model; training_curves.png skipped",
                       err=True)
    if as_json:
        echo_json(result)
        return
    click.echo(f"model          {result['model']}")
    click.echo(f"test accuracy  {result['test_accuracy']:.4f}  ({result['n']} images)")
    click.echo(f"test loss      {result['test_loss']:.4f}")
    click.echo("per class      " + "  ".join(
        f"{i}:{a:.3f}" for i, a in enumerate(result["per_class_accuracy"])))
    click.echo("confusion matrix (rows: true, columns: predicted)")
    for i, row in enumerate(result["confusion_matrix"]):
        click.echo(f"  {i} " + " ".join(f"{v:5d}" for v in row))
    for p in result.get("plots", []):
        click.echo(f"wrote {p}")


@main.command()
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=str),
              default=None, help="The .keras model (default: the trained model in models/).")
@click.option("--quantize", "quantize", multiple=True,
              type=click.Choice(["none", "float16", "dynamic", "int8", "all"]),
              help="Format(s) to export; repeatable. none = float32. Default: all.")
@click.option("--io", "io_type", type=click.Choice(["int8", "uint8", "float"]), default="int8",
              show_default=True, help="int8 model input/output type (uint8 for Edge-TPU-style "
              "pipelines, float keeps float I/O around the int8 core).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=str),
              default="models", show_default=True)
@DATA_DIR_OPTION
@click.option("--calibration-samples", type=click.IntRange(1, 60000), default=500,
              show_default=True, help="Class-balanced training images for int8 calibration.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True,
              help="Seed of the calibration sample.")
@click.option("--max-drop", type=click.FloatRange(0, 100), default=0.5, show_default=True,
              help="Gate: largest accuracy drop (percentage points) for quantised formats.")
@click.option("--min-agreement", type=click.FloatRange(0, 1), default=0.99, show_default=True,
              help="Gate: smallest top-1 agreement with Keras for quantised formats.")
@click.option("--keep-failed", is_flag=True, help="Keep files that fail the parity gate.")
@click.option("--debug", is_flag=True,
              help="Write a per-layer int8 error report (CSV + PNG) via QuantizationDebugger.")
@click.option("--c-array", is_flag=True,
              help="Also write the int8 model as a C source/header pair for TFLite Micro.")
@JSON_OPTION
@QUIET_OPTION
@handle_errors
def export(model_path, quantize, io_type, out_dir, data_dir, calibration_samples, seed,
           max_drop, min_agreement, keep_failed, debug, c_array, as_json, quiet):
    """Export float32, float16, dynamic-range and full-int8 TFLite, gated on parity.

    Every file is run on the full test set and compared with the Keras model.
    float32 must agree on every image; quantised formats may lose at most
    --max-drop accuracy points and must agree on at least --min-agreement.
    A failed gate exits with code 3 and removes the file unless --keep-failed.
    Each NAME.tflite gets a NAME.json sidecar (labels, normalisation,
    quantisation, source model SHA-256, calibration, parity figures).
    """
    from mnist_edge import data as data_mod
    from mnist_edge import export as export_mod
    from mnist_edge import keras_model
    from mnist_edge.fsutil import ensure_writable_dir

    formats = list(export_mod.QUANTIZATIONS) if (not quantize or "all" in quantize) else \
        [q for q in export_mod.QUANTIZATIONS if q in quantize]
    if (debug or c_array) and "int8" not in formats:
        raise click.UsageError("--debug and --c-array apply to the int8 export; add --quantize int8")
    log = logger(quiet)
    ensure_writable_dir(out_dir)
    path = model_path or keras_model.default_model_path()
    dataset = data_mod.load(data_dir)
    result = export_mod.export(path, out_dir, formats, io_type=io_type, dataset=dataset,
                               calibration_samples=calibration_samples, seed=seed,
                               max_drop_pp=max_drop, min_agreement=min_agreement,
                               keep_failed=keep_failed, debug=debug, c_array=c_array, log=log)
    if not quiet or not as_json:
        click.echo(export_mod.format_table(result), err=True)
    if as_json:
        echo_json(result)
    else:
        for a in result["artifacts"]:
            if a["path"]:
                click.echo(a["path"])
            for extra in a["extra_files"]:
                click.echo(extra)
    if not result["passed"]:
        failed = ", ".join(a["name"] for a in result["artifacts"] if not a["passed"])
        click.echo(f"Error: parity gate failed for {failed}", err=True)
        sys.exit(EXIT_PARITY)


def _save_debug_image(image, path):
    """Writes a 28x28 uint8 array as a PNG, atomically."""
    import io

    from PIL import Image

    from mnist_edge.fsutil import write_bytes_atomic

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return write_bytes_atomic(path, buffer.getvalue())


def _unique_debug_name(debug_dir, path, used):
    import pathlib

    base = pathlib.Path(path).stem or "input"
    name, n = f"{base}.png", 1
    while name in used:
        n += 1
        name = f"{base}_{n}.png"
    used.add(name)
    return pathlib.Path(debug_dir) / name


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="A .tflite model (default: the int8 model shipped with mnist-edge).")
@click.option("--top-k", type=click.IntRange(1, 10), default=1, show_default=True,
              help="How many classes to show per image.")
@click.option("--threads", type=click.IntRange(1, 64), default=None,
              help="Interpreter threads (default: the interpreter's own).")
@click.option("--runtime", "runtime_name", type=click.Choice(["auto", "litert", "tflite-runtime",
                                                              "tensorflow"]),
              default="auto", show_default=True,
              help="Interpreter: auto tries LiteRT, then tflite-runtime, then TensorFlow.")
@click.option("--debug-dir", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Save the 28x28 image each input became (what the model saw).")
@JSON_OPTION
@QUIET_OPTION
@handle_errors
def predict(inputs, model_path, top_k, threads, runtime_name, debug_dir, as_json, quiet):
    """Predict the digit in images: photos, scans, screenshots or MNIST-form arrays.

    IMAGE_OR_DIR... are PNG, JPEG, BMP, GIF, WebP, TIFF or .npy files, or
    folders of them. Each image is cleaned (paper, grid lines, shadows),
    cropped, scaled and centred the MNIST way. A blank image is reported as
    "no digit found". Bad inputs get one line each on stderr; the others are
    still predicted; the exit code is 4 if any input failed.
    """
    from mnist_edge import runtime

    log = logger(quiet)
    try:
        predictor = runtime.Predictor(model_path or runtime.default_model_path(),
                                      num_threads=threads, runtime=runtime_name)
    except runtime.RuntimeModelError as exc:
        raise click.ClickException(str(exc)) from None
    log(f"model {predictor.model_path} ({predictor.input_dtype.name} input) on "
        f"{predictor.runtime} {predictor.runtime_version}")
    if debug_dir:
        from mnist_edge.fsutil import OutputError, ensure_writable_dir

        try:
            ensure_writable_dir(debug_dir)
        except OutputError as exc:
            raise click.ClickException(str(exc)) from None

    results, images, good = [], [], []
    used = set()
    for path, error in runtime.iter_image_paths(inputs):
        entry = {"path": str(path)}
        if error is None:
            try:
                image = runtime.preprocess_file(path)
            except runtime.ImageError as exc:
                error = str(exc)
            except MemoryError:
                error = "image too large to decode in memory"
            except Exception as exc:  # a decoder's own error: one line, the rest go on
                error = f"cannot read image ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
        if error is not None:
            entry["error"] = error
        else:
            good.append(len(results))
            images.append(image)
            if debug_dir:
                entry["debug_image"] = str(_save_debug_image(
                    image, _unique_debug_name(debug_dir, path, used)))
        results.append(entry)

    if images:
        # One image at a time: the same results as a batch (tested), and no
        # second, batch-sized interpreter to build for the usual one or few.
        for index, pred in zip(good, map(predictor.predict, images)):
            entry = results[index]
            entry["label"] = predictor.labels[pred.label]
            entry["confidence"] = round(pred.confidence, 6)
            entry["probabilities"] = [round(float(p), 6) for p in pred.probabilities]
            entry["top_k"] = [{"label": predictor.labels[l], "probability": round(p, 6)}
                              for l, p in pred.top_k(top_k)]
    failed = [r for r in results if "error" in r]
    if as_json:
        echo_json(results)
    for entry in results:
        if "error" in entry:
            click.echo(f"{entry['path']}: error: {entry['error']}", err=True)
        elif not as_json:
            shown = "  ".join(f"{t['label']} ({t['probability']:.3f})" for t in entry["top_k"])
            click.echo(f"{entry['path']}: {shown}")
    if failed:
        sys.exit(EXIT_PARTIAL)


def _thread_list(ctx, param, value):
    try:
        counts = [int(v) for v in str(value).split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter("use a comma-separated list of thread counts, e.g. 1,2,4") from None
    if not counts or any(c < 1 or c > 256 for c in counts):
        raise click.BadParameter("thread counts must be between 1 and 256")
    return counts


@main.command()
@click.option("--keras", "keras_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="The Keras reference (default: the trained model in models/).")
@click.option("--tflite", "tflite_paths", multiple=True, type=click.Path(path_type=str),
              help="A .tflite file to compare; repeatable. Default: every .tflite beside the "
              "Keras model.")
@DATA_DIR_OPTION
@click.option("--threads", default="1", show_default=True, callback=_thread_list,
              help="Interpreter thread counts to sweep, e.g. 1,2,4.")
@click.option("--runs", type=click.IntRange(10, 10_000_000), default=1000, show_default=True,
              help="Timed single-image calls per latency figure.")
@click.option("--warmup", type=click.IntRange(0, 1_000_000), default=100, show_default=True,
              help="Untimed calls before each latency figure.")
@click.option("--runtime", "runtime_name", type=click.Choice(["auto", "litert", "tflite-runtime",
                                                              "tensorflow"]),
              default="auto", show_default=True)
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=str),
              default=None, help="Write a Markdown report with PNG figures into this folder.")
@JSON_OPTION
@QUIET_OPTION
@handle_errors
def bench(keras_path, tflite_paths, data_dir, threads, runs, warmup, runtime_name, report_dir,
          as_json, quiet):
    """Benchmark every format against Keras: accuracy parity, size, load, memory, latency in µs.

    All models run on the same 10,000 test images. Latency is per single
    image after warm-up, invoke-only and end to end (pixels in, label out),
    as p50/p90/p99/mean/std with run counts, per thread count, XNNPACK on
    and off; plus batch throughput, cold/warm load time and peak RSS of a
    predictor-only process. A file that cannot be benchmarked gets one line
    and exit code 4; the others are still measured.
    """
    from pathlib import Path

    from mnist_edge import bench as bench_mod
    from mnist_edge import data as data_mod
    from mnist_edge import keras_model

    log = logger(quiet)
    reference = Path(keras_path) if keras_path else keras_model.default_model_path()
    if not reference.is_file():
        raise keras_model.ModelError(f"{reference}: model file not found")
    if tflite_paths:
        files = [Path(p) for p in tflite_paths]
    else:
        files = sorted(reference.parent.glob("*.tflite"))
        if not files:
            raise click.ClickException(f"no .tflite files beside {reference}; run `mnist-edge export` "
                                       "or pass --tflite")
    dataset = data_mod.load(data_dir)
    result = bench_mod.run(reference, files, dataset, threads=threads, runs=runs, warmup=warmup,
                           report_dir=report_dir, runtime_name=runtime_name, log=log)
    if as_json:
        echo_json(result)
    else:
        click.echo(bench_mod.format_table(result))
        for path in result.get("report", []):
            if path.endswith(".md"):
                click.echo(f"report: {path}")
    for m in result["models"]:
        if "error" in m:
            click.echo(f"{m['path']}: error: {m['error']}", err=True)
    if result["failed"]:
        sys.exit(EXIT_PARTIAL)

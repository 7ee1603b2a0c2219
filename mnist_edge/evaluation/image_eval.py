"""Accuracy on the user's own labelled images: ``mnist-edge eval --images DIR``.

Labels come from, in order of precedence:

1. ``DIR/labels.csv`` with a file column and a label column (a header row
   naming them ``file``/``path`` and ``label`` is optional);
2. sub-folders named by label: ``DIR/3/*.png``;
3. a ``_<label>`` suffix on the file name: ``DIR/sample_0042_3.png``.

Every image goes through the same front-end, model and "not a digit"
threshold as ``predict``; an image answered "not a digit" counts as a miss
and is reported in its own column. Runs without TensorFlow or matplotlib:
the gallery of misreads is drawn with Pillow.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from mnist_edge import fsutil, runtime
from mnist_edge.errors import DataError, ImageError
from mnist_edge.preprocess import load_gray, to_mnist
from mnist_edge.preprocess.load import IMAGE_SUFFIXES
from mnist_edge.runtime.reading import Reader, Reading

NOT_A_DIGIT = "not a digit"
DIGITS = [str(i) for i in range(10)]


def _csv_labels(folder: Path, labels: Sequence[str]) -> List[Tuple[Path, str]]:
    path = folder / "labels.csv"
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if rows and rows[0] and rows[0][0].strip().lower() in ("file", "path", "filename", "image"):
        header = [c.strip().lower() for c in rows[0]]
        label_col = header.index("label") if "label" in header else 1
        rows = rows[1:]
    else:
        label_col = 1
    items = []
    for number, row in enumerate(rows, 2):
        if not row or not row[0].strip():
            continue
        if len(row) <= label_col or row[label_col].strip() not in labels:
            raise DataError(f"{path}: line {number}: no label in {', '.join(labels)}")
        items.append((folder / row[0].strip(), row[label_col].strip()))
    return items


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _folder_labels(folder: Path, labels: Sequence[str]) -> List[Tuple[Path, str]]:
    items = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name in labels):
        items += [(p, sub.name) for p in sorted(sub.iterdir()) if _is_image(p)]
    return items


def _suffix_labels(folder: Path, labels: Sequence[str]) -> List[Tuple[Path, str]]:
    items = []
    for p in sorted(folder.iterdir()):
        label = p.stem.rsplit("_", 1)[-1] if "_" in p.stem else None
        if _is_image(p) and label in labels:
            items.append((p, label))
    return items


def labelled_images(folder, labels: Sequence[str]) -> List[Tuple[Path, str]]:
    """``(image, label)`` pairs found in ``folder`` (see the module docstring).

    Args:
        folder: the folder.
        labels: the model's labels (a label must be one of them).

    Raises:
        DataError: not a folder, or no labelled images in it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    for finder in (
        _csv_labels if (folder / "labels.csv").is_file() else None,
        _folder_labels,
        _suffix_labels,
    ):
        if finder is not None:
            items = finder(folder, labels)
            if items:
                return items
    raise DataError(
        f"{folder}: no labelled images (use labels.csv, sub-folders named by label, "
        "or a _<label> file-name suffix)"
    )


@dataclasses.dataclass
class LabelledForms:
    """A labelled folder in MNIST form (what a model sees), and the files the front-end could not read."""

    x: np.ndarray  # (N, 28, 28) uint8
    y: np.ndarray  # (N,) int64
    paths: List[str]
    skipped: List[Tuple[str, str]]


def labelled_forms(folder, labels: Sequence[str] = DIGITS) -> LabelledForms:
    """Every labelled image of ``folder`` through the front-end (for training and measuring, not reading).

    Raises:
        DataError: not a folder, or no labelled images in it.
    """
    forms, ys, paths, skipped = [], [], [], []
    for path, label in labelled_images(folder, labels):
        try:
            forms.append(to_mnist(load_gray(path)))
        except (ImageError, ValueError) as exc:
            skipped.append((str(path), str(exc)))
            continue
        ys.append(int(label))
        paths.append(str(path))
    x = np.stack(forms) if forms else np.zeros((0, 28, 28), np.uint8)
    return LabelledForms(x, np.asarray(ys, np.int64), paths, skipped)


@dataclasses.dataclass
class ImageEval:
    """The figures of one ``eval --images`` run."""

    labels: List[str]
    items: List[Tuple[str, str]]
    readings: List[Reading]

    def predicted(self) -> List[str]:
        """Each image's answer: a label, "not a digit", or "error"."""
        return [
            r.label if r.label is not None else ("error" if r.error and r.seen is None else NOT_A_DIGIT)
            for r in self.readings
        ]

    def summary(self) -> dict:
        """JSON-ready accuracy, per-class accuracy, confusion matrix and counts."""
        truth = [label for _, label in self.items]
        answers = self.predicted()
        columns = self.labels + [NOT_A_DIGIT, "error"]
        confusion = np.zeros((len(self.labels), len(columns)), dtype=np.int64)
        for t, a in zip(truth, answers):
            confusion[self.labels.index(t), columns.index(a)] += 1
        support = confusion.sum(axis=1)
        right = np.array([confusion[i, i] for i in range(len(self.labels))])
        return {
            "n": len(truth),
            "accuracy": round(float(right.sum() / max(len(truth), 1)), 6),
            "per_class_accuracy": {
                label: (round(float(right[i] / support[i]), 6) if support[i] else None)
                for i, label in enumerate(self.labels)
            },
            "support": {label: int(support[i]) for i, label in enumerate(self.labels)},
            "not_a_digit": int(sum(a == NOT_A_DIGIT for a in answers)),
            "errors": int(sum(a == "error" for a in answers)),
            "error_files": [
                {"path": path, "error": r.error}
                for (path, _), a, r in zip(self.items, answers, self.readings)
                if a == "error"
            ],
            "confusion_columns": columns,
            "confusion_matrix": confusion.tolist(),
            "misreads": [
                {"path": path, "label": t, "answer": a} for (path, t), a in zip(self.items, answers) if a != t
            ],
        }


def evaluate_images(reader: Reader, folder) -> ImageEval:
    """Reads every labelled image in ``folder``.

    Raises:
        DataError: no labelled images.
    """
    labels = list(reader.predictor.labels)
    items = labelled_images(folder, labels)
    readings = [reader.read_file(path) for path, _ in items]
    return ImageEval(labels, [(str(p), t) for p, t in items], readings)


def _thumbnail(path: str, size: int):
    from PIL import Image

    try:
        gray = load_gray(path)
    except Exception:  # the gallery shows what it can; the figures already count the error
        return Image.new("L", (size, size), 128)
    img = Image.fromarray((gray * 255).astype(np.uint8))
    img.thumbnail((size, size))
    canvas = Image.new("L", (size, size), 255)
    canvas.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    return canvas


def misread_gallery(result: ImageEval, limit: int = 60) -> Optional[bytes]:
    """A PNG: each misread input beside the 28x28 the model saw, with truth and answer."""
    from PIL import Image, ImageDraw

    answers = result.predicted()
    rows = [(p, t, a, r) for (p, t), a, r in zip(result.items, answers, result.readings) if a != t]
    if not rows:
        return None
    rows = rows[:limit]
    cell, cols = 96, 6
    sheet = Image.new("L", (cols * 2 * cell, -(-len(rows) // cols) * (cell + 14)), 255)
    draw = ImageDraw.Draw(sheet)
    for k, (path, truth, answer, reading) in enumerate(rows):
        x, y = (k % cols) * 2 * cell, (k // cols) * (cell + 14)
        sheet.paste(_thumbnail(path, cell), (x, y))
        if reading.seen is not None:
            sheet.paste(Image.fromarray(reading.seen).resize((cell, cell), Image.NEAREST), (x + cell, y))
        draw.text((x + 2, y + cell), f"{truth} -> {answer}"[:30], fill=0)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def write_report(result: ImageEval, out_dir, model: str) -> List[Path]:
    """``report.md`` with the figures and ``misreads.png`` (when there are misreads)."""

    out_dir = fsutil.ensure_writable_dir(out_dir)
    summary = result.summary()
    written = []
    gallery = misread_gallery(result)
    if gallery:
        written.append(fsutil.write_bytes_atomic(out_dir / "misreads.png", gallery))
    lines = [
        "# mnist-edge eval --images",
        "",
        f"model: `{model}`",
        "",
        f"accuracy {summary['accuracy']:.4f} on {summary['n']} images; "
        f"'not a digit' {summary['not_a_digit']}, errors {summary['errors']}",
        "",
        "| label | images | accuracy |",
        "|---|---|---|",
    ]
    for label, acc in summary["per_class_accuracy"].items():
        lines.append(f"| {label} | {summary['support'][label]} | {'-' if acc is None else f'{acc:.4f}'} |")
    lines += [
        "",
        "## Confusion matrix (rows: true, columns: answered)",
        "",
        "| | " + " | ".join(summary["confusion_columns"]) + " |",
        "|---" * (len(summary["confusion_columns"]) + 1) + "|",
    ]
    for label, row in zip(result.labels, summary["confusion_matrix"]):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    if gallery:
        lines += ["", "## Misreads (input, and the 28x28 the model saw)", "", "![misreads](misreads.png)"]
    written.append(fsutil.write_bytes_atomic(out_dir / "report.md", ("\n".join(lines) + "\n").encode()))
    return written


def format_summary(summary: dict) -> str:
    """The text ``eval --images`` prints."""
    out = [
        f"accuracy       {summary['accuracy']:.4f}  ({summary['n']} images; "
        f"not a digit {summary['not_a_digit']}, errors {summary['errors']})",
        "per class      "
        + "  ".join(
            f"{k}:{'-' if v is None else f'{v:.3f}'}" for k, v in summary["per_class_accuracy"].items()
        ),
        "confusion matrix (rows: true; columns: "
        + " ".join(c if len(c) == 1 else f"[{c}]" for c in summary["confusion_columns"])
        + ")",
    ]
    for label, row in zip(summary["per_class_accuracy"], summary["confusion_matrix"]):
        out.append(f"  {label} " + " ".join(f"{v:5d}" for v in row))
    return "\n".join(out)


def run(model_path, images_dir, min_confidence=None, report_dir=None) -> dict:
    """``eval --images``: reads the folder with a model and returns the JSON-ready figures.

    Args:
        model_path: a ``.tflite`` model, or None for the shipped default.
        images_dir: the labelled folder.
        min_confidence: the "not a digit" threshold (None: the model's own).
        report_dir: where to write ``report.md`` and ``misreads.png``, or None.
    """

    predictor = runtime.Predictor(
        model_path or runtime.default_model_path(), untrusted=model_path is not None
    )
    reader = Reader(predictor, min_confidence)
    result = evaluate_images(reader, images_dir)
    summary = {
        "model": str(predictor.model_path),
        "images": str(images_dir),
        "min_confidence": reader.min_confidence,
        **result.summary(),
    }
    if report_dir:
        summary["report"] = [str(p) for p in write_report(result, report_dir, str(predictor.model_path))]
    return summary

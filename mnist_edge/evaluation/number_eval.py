"""Accuracy on labelled images of numbers: ``mnist-edge eval --images DIR --number``.

Labels are digit strings, found as ``eval --images`` finds single-digit
labels (``labels.csv``, sub-folders, or a ``_<digits>`` file-name suffix:
``receipt_2024.png``). Reported:

* whole-number accuracy: the string read equals the label (a ``?`` is a miss);
* per-digit accuracy: digits read right, over the labels' digits, with the
  strings aligned (edit distance), so one missed digit does not count every
  digit after it as wrong;
* the digit count: right, too few (digits merged or lost), too many
  (a digit split, a speck read);
* doubtful numbers (a ``?`` in the answer) and "not a number" answers;
* wrong answers without either (silently wrong), and for each bar on the
  number's confidence (:data:`~mnist_edge.constants.NUMBER_CONFIDENCE_BARS`)
  the share of answers at or above it, how many of those are right, and the
  share of wrong answers below it: where a caller may set its own bar.

numpy, Pillow and the interpreter only.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from mnist_edge import fsutil, runtime
from mnist_edge.constants import NUMBER_CONFIDENCE_BARS
from mnist_edge.evaluation.image_eval import labelled_images
from mnist_edge.preprocess import load_gray
from mnist_edge.runtime.number import NumberReader, NumberReading
from mnist_edge.runtime.reading import Reader

_DIGIT_STRING = re.compile(r"-?[0-9]{1,64}")


class DigitStrings:
    """The labels a number may have: strings of digits (a leading ``-`` allowed)."""

    def __contains__(self, label: object) -> bool:
        return isinstance(label, str) and bool(_DIGIT_STRING.fullmatch(label))

    def __iter__(self):
        return iter(["a string of digits such as 2024"])


def aligned_matches(truth: str, answer: str) -> int:
    """Characters of ``truth`` read right, along an optimal edit-distance alignment with ``answer``."""
    n, m = len(truth), len(answer)
    cost = np.zeros((n + 1, m + 1), np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            same = truth[i - 1] == answer[j - 1]
            cost[i, j] = min(cost[i - 1, j - 1] + (0 if same else 1), cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    i, j, matches = n, m, 0
    while i > 0 and j > 0:
        same = truth[i - 1] == answer[j - 1]
        if cost[i, j] == cost[i - 1, j - 1] + (0 if same else 1):
            matches += int(same)
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return matches


@dataclasses.dataclass
class NumberEval:
    """The figures of one ``eval --images --number`` run."""

    items: List[Tuple[str, str]]
    readings: List[NumberReading]

    def answers(self) -> List[str]:
        """Each image's answer: the string read, "not a number", or "error"."""
        return [
            "error" if r.error else (r.number if r.number is not None else "not a number")
            for r in self.readings
        ]

    def summary(self) -> dict:
        """JSON-ready whole-number and per-digit accuracy, the digit-count confusion, by length."""
        truth = [label for _, label in self.items]
        answers = self.answers()
        right = [t == a for t, a in zip(truth, answers)]
        matched = [
            aligned_matches(t, a) if a not in ("error", "not a number") else 0 for t, a in zip(truth, answers)
        ]
        counts = {"right": 0, "too_few": 0, "too_many": 0, "none": 0}
        for t, a in zip(truth, answers):
            if a in ("error", "not a number"):
                counts["none"] += 1
            else:
                counts["right" if len(a) == len(t) else "too_few" if len(a) < len(t) else "too_many"] += 1
        by_length: Dict[str, dict] = {}
        for t, ok, m in zip(truth, right, matched):
            row = by_length.setdefault(str(len(t)), {"n": 0, "right": 0, "digits": 0, "digits_right": 0})
            row["n"] += 1
            row["right"] += int(ok)
            row["digits"] += len(t)
            row["digits_right"] += m
        total_digits = sum(len(t) for t in truth)
        confidence = [r.confidence or 0.0 for r in self.readings]
        return {
            "n": len(truth),
            "number_accuracy": round(float(np.mean(right)) if right else 0.0, 6),
            "digit_accuracy": round(sum(matched) / max(total_digits, 1), 6),
            "digit_count": counts,
            "doubtful": int(sum("?" in a for a in answers)),
            "not_a_number": int(sum(a == "not a number" for a in answers)),
            "errors": int(sum(a == "error" for a in answers)),
            "silently_wrong": int(sum(not ok and _unmarked(a) for ok, a in zip(right, answers))),
            "by_confidence": [by_confidence(right, confidence, bar) for bar in NUMBER_CONFIDENCE_BARS],
            "by_length": {
                k: {
                    "n": v["n"],
                    "number_accuracy": round(v["right"] / v["n"], 6),
                    "digit_accuracy": round(v["digits_right"] / max(v["digits"], 1), 6),
                }
                for k, v in sorted(by_length.items(), key=lambda kv: int(kv[0]))
            },
            "error_files": [
                {"path": path, "error": r.error} for (path, _), r in zip(self.items, self.readings) if r.error
            ],
            "misreads": [
                {"path": path, "label": t, "answer": a} for (path, t), a in zip(self.items, answers) if a != t
            ],
        }


def _unmarked(answer: str) -> bool:
    """An answer that says nothing of doubt: no ``?``, not "not a number", no error."""
    return "?" not in answer and answer not in ("error", "not a number")


def by_confidence(right: List[bool], confidence: List[float], bar: float) -> dict:
    """Answers at a bar on the number's confidence: kept, right among them, wrong ones below it.

    A share with nothing to count (no answer kept, no wrong answer) is None.
    """
    right_arr = np.asarray(right, bool)
    kept = np.asarray(confidence, np.float64) >= bar
    wrong = ~right_arr
    return {
        "bar": bar,
        "kept": round(float(kept.mean()), 6) if len(kept) else None,
        "right_among_kept": round(float(right_arr[kept].mean()), 6) if kept.any() else None,
        "wrong_below": round(float((~kept[wrong]).mean()), 6) if wrong.any() else None,
    }


def evaluate_numbers(reader: NumberReader, folder) -> NumberEval:
    """Reads every labelled image of a number in ``folder``.

    Raises:
        DataError: no labelled images.
    """
    items = labelled_images(folder, DigitStrings())
    readings = [reader.read_file(path) for path, _ in items]
    return NumberEval([(str(p), t) for p, t in items], readings)


def format_summary(summary: dict) -> str:
    """The text ``eval --images --number`` prints."""
    counts = summary["digit_count"]
    lines = [
        f"numbers right  {summary['number_accuracy']:.4f}  ({summary['n']} images; with a '?' "
        f"{summary['doubtful']}, not a number {summary['not_a_number']}, errors {summary['errors']})",
        f"digits right   {summary['digit_accuracy']:.4f}  (aligned with the labels)",
        f"digit count    right {counts['right']}, too few {counts['too_few']}, "
        f"too many {counts['too_many']}, none read {counts['none']}",
        f"silently wrong {summary['silently_wrong']}  (wrong answers with no '?')",
        *(f"confidence >= {row['bar']}  {format_bar(row)}" for row in summary["by_confidence"]),
        "by length      "
        + "  ".join(
            f"{k}: {v['number_accuracy']:.3f}/{v['digit_accuracy']:.3f} (n={v['n']})"
            for k, v in summary["by_length"].items()
        )
        + "   (numbers/digits right)",
    ]
    return "\n".join(lines)


def format_bar(row: dict) -> str:
    """One :func:`by_confidence` row as printed; "-" for a share with nothing to count."""

    def share(value: Optional[float]) -> str:
        return "-" if value is None else f"{value:.3f}"

    return (
        f"kept {share(row['kept'])}, right among them {share(row['right_among_kept'])}; "
        f"wrong answers below the bar {share(row['wrong_below'])}"
    )


def write_report(result: NumberEval, summary: dict, out_dir, model: str, limit: int = 60) -> List[Path]:
    """``report.md`` (the figures and every misread) and a debug sheet per misread (the first ``limit``).

    Raises:
        OutputError: the folder cannot be written.
    """
    from mnist_edge.runtime.number_sheet import sheet

    folder = fsutil.ensure_writable_dir(out_dir)
    written = []
    lines = [f"# Numbers read by {model}", "", "```", format_summary(summary), "```", "", "## Misreads", ""]
    readings = dict(zip((p for p, _ in result.items), result.readings))
    for k, miss in enumerate(summary["misreads"]):
        picture = ""
        if k < limit and not readings[miss["path"]].error:
            name = f"misread-{k:03d}.png"
            data = sheet(load_gray(miss["path"]), readings[miss["path"]])
            written.append(fsutil.write_bytes_atomic(folder / name, data))
            picture = f" ![]({name})"
        lines.append(f"- `{miss['path']}`: label {miss['label']}, read {miss['answer']}{picture}")
    written.insert(0, fsutil.write_bytes_atomic(folder / "report.md", ("\n".join(lines) + "\n").encode()))
    return written


def run(model_path, images_dir, min_confidence: Optional[float] = None, report_dir=None) -> dict:
    """``eval --images DIR --number``: the JSON-ready figures (and the report, when asked)."""
    predictor = runtime.Predictor(
        model_path or runtime.default_model_path(), untrusted=model_path is not None
    )
    reader = Reader(predictor, min_confidence)
    result = evaluate_numbers(NumberReader(reader), images_dir)
    summary = {
        "model": str(predictor.model_path),
        "images": str(images_dir),
        "min_confidence": reader.min_confidence,
        **result.summary(),
    }
    if report_dir:
        summary["report"] = [
            str(p) for p in write_report(result, summary, report_dir, str(predictor.model_path))
        ]
    return summary

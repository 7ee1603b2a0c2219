"""Reading a handwritten number: segmentation, the model on each digit, and "?" where it doubts.

What ``predict --number``, ``eval --images --number`` and serve's
``/predict?number=1`` share. An image becomes:

* ``number``: the digits as a string, left to right, a leading or inner
  dash as ``-``; a digit the model doubts (below the "not a digit"
  threshold) is ``?`` and its ``reason`` says why: never a silent guess;
* ``digits``: per digit, ``label`` (None for ``?``), ``confidence``, ``box``
  ``[x, y, w, h]`` in the image's pixels, ``top_k``;
* ``confidence``: the product of the digits' confidences (the chance
  that every digit is right, if the model is calibrated);
* ``lines``: how many lines of digits the image holds (the top one is read);
* ``reason`` with ``number`` None: "not a number (...)" when nothing
  digit-like is there.

A single digit is the special case: when segmentation finds one digit, the
whole image is read exactly as ``predict`` reads it (same front-end, same
answer), so adding ``--number`` never changes a single digit's label.

Touching digits come from segmentation with several readings (one digit,
or split in two or more); the one kept has the highest log-probability:
the model's confidence in each of its digits, times how likely that digit
is to be as wide as its part is, times the chance that digits touch.

numpy, Pillow and the interpreter only.
"""

from __future__ import annotations

import dataclasses
import math
from typing import List, Optional, Sequence

import numpy as np

from mnist_edge.errors import ImageError, NoDigitError
from mnist_edge.preprocess import load_gray, pil_to_gray
from mnist_edge.preprocess.load import open_image_bytes
from mnist_edge.preprocess.segmentation import Glyph, Piece, best_split_prior, reading_log_prior, segment
from mnist_edge.runtime.reading import Reader

DOUBT = "?"
# The model's log-confidence counts this many times against the width prior:
# a doubtful whole (two touching digits squeezed into one box) must lose to
# a confident split, a confident wide digit must not be cut in two.
CONFIDENCE_WEIGHT = 3.0
NOT_A_NUMBER = "not a number"


@dataclasses.dataclass
class DigitReading:
    """One digit of a number."""

    label: Optional[str]
    confidence: float
    box: Sequence[int]
    top_k: List[tuple]
    reason: Optional[str] = None
    seen: Optional[np.ndarray] = None

    def to_json(self) -> dict:
        doc = {
            "label": None if self.label is None else int(self.label) if self.label.isdigit() else self.label,
            "confidence": round(self.confidence, 6),
            "box": [int(v) for v in self.box],
            "top_k": [{"label": label, "probability": round(p, 6)} for label, p in self.top_k],
        }
        if self.reason:
            doc["reason"] = self.reason
        return doc


@dataclasses.dataclass
class NumberReading:
    """One image's number (or why there is none)."""

    path: str
    number: Optional[str] = None
    digits: List[DigitReading] = dataclasses.field(default_factory=list)
    confidence: Optional[float] = None
    lines: int = 0
    reason: Optional[str] = None
    error: Optional[str] = None
    debug_image: Optional[str] = None

    @property
    def doubtful(self) -> bool:
        return self.number is not None and DOUBT in self.number

    def to_json(self) -> dict:
        """The JSON object ``predict --number --json`` prints."""
        if self.error is not None and not self.digits and self.reason is None:
            return {"path": self.path, "error": self.error}
        doc = {"path": self.path, "number": self.number}
        if self.reason:
            doc["reason"] = self.reason
        doc["confidence"] = None if self.confidence is None else round(self.confidence, 6)
        doc["digits"] = [d.to_json() for d in self.digits]
        doc["lines"] = self.lines
        if self.debug_image:
            doc["debug_image"] = self.debug_image
        if self.error is not None:
            doc["error"] = self.error
        return doc

    def to_line(self) -> str:
        """The line ``predict --number`` prints."""
        name = str(self.path).replace("\r", "\\r").replace("\n", "\\n")
        if self.error is not None and not self.digits and self.reason is None:
            return self.error_line()
        if self.number is None:
            return f"{name}: {self.reason}"
        note = f"  ({self.reason})" if self.reason else ""
        return f"{name}: {self.number} ({self.confidence:.3f}){note}"

    def error_line(self) -> str:
        """The stderr line for an input that failed."""
        name = str(self.path).replace("\r", "\\r").replace("\n", "\\n")
        return f"{name}: error: {self.error}"


class NumberReader:
    """Reads numbers with one :class:`~mnist_edge.runtime.reading.Reader` (its model and threshold)."""

    def __init__(self, reader: Reader):
        self.reader = reader

    def read_gray(self, path: str, gray: np.ndarray) -> NumberReading:
        """Segmentation, the model on each digit, the number."""
        try:
            found = segment(gray)
        except NoDigitError as exc:
            return NumberReading(path, reason=f"{NOT_A_NUMBER}: {exc}")
        parts: List[object] = []
        for piece in found.pieces:
            if piece.kind == "dash":
                parts.append("-")
            else:
                parts.extend(self._best_reading(piece))
        digits = [p for p in parts if isinstance(p, DigitReading)]
        if len(found.pieces) == 1 and len(digits) == 1:
            # One digit: exactly what predict answers for the image.
            return self._single(path, gray, found.lines, digits[0].box)
        return self._assemble(path, parts, found.lines)

    def read_file(self, path) -> NumberReading:
        """Reads one image file; a bad file becomes an ``error`` reading."""
        try:
            return self.read_gray(str(path), load_gray(path))
        except ImageError as exc:
            return NumberReading(str(path), error=str(exc))
        except MemoryError:
            return NumberReading(str(path), error="image too large to decode in memory")

    def read_bytes(self, data: bytes, name: str = "upload") -> NumberReading:
        """Reads a number from an upload's bytes."""
        try:
            return self.read_gray(name, pil_to_gray(open_image_bytes(data)))
        except ImageError as exc:
            return NumberReading(name, error=str(exc))
        except MemoryError:
            return NumberReading(name, error="image too large to decode in memory")

    def _single(self, path: str, gray: np.ndarray, lines: int, box) -> NumberReading:
        """One digit: exactly the single-digit reading of the whole image."""
        reading = self.reader.read_gray(path, gray)
        if reading.confidence is None:
            return NumberReading(path, reason=f"{NOT_A_NUMBER}: {reading.reason}", lines=lines)
        digit = DigitReading(
            reading.label, reading.confidence, box, reading.top_k, reading.reason, reading.seen
        )
        return self._assemble(path, [digit], lines)

    def _best_reading(self, piece: Piece) -> List[DigitReading]:
        """The piece's reading (one digit, or touching digits) with the highest score.

        The splits are computed only when one could beat the whole reading.
        """
        best, best_score = [], -math.inf
        if piece.whole is not None:
            best = [self._digit(piece.whole)]
            best_score = self._score(best, [piece.whole])
        if best_score >= best_split_prior(piece.aspect):
            return best
        for glyphs in piece.splits():
            digits = [self._digit(g) for g in glyphs]
            score = self._score(digits, glyphs)
            if score > best_score:
                best, best_score = digits, score
        return best

    @staticmethod
    def _score(digits: List[DigitReading], glyphs: List[Glyph]) -> float:
        """log P(reading): the model's confidences (weighted) and the digits' widths."""
        confidence = CONFIDENCE_WEIGHT * sum(math.log(max(d.confidence, 1e-6)) for d in digits)
        labels = [int(d.top_k[0][0]) if d.top_k and str(d.top_k[0][0]).isdigit() else None for d in digits]
        return confidence + reading_log_prior([g.box[2] / g.box[3] for g in glyphs], labels)

    def _digit(self, glyph: Glyph) -> DigitReading:
        reading = self.reader.read_mnist_form("", glyph.form)
        return DigitReading(
            reading.label, reading.confidence, glyph.box, reading.top_k, reading.reason, glyph.form
        )

    def _assemble(self, path: str, parts: List[object], lines: int) -> NumberReading:
        digits = [p for p in parts if isinstance(p, DigitReading)]
        if not digits:
            return NumberReading(path, reason=f"{NOT_A_NUMBER}: no digit found", lines=lines)
        # A dash after the last digit is no part of the number.
        text = "".join(p if isinstance(p, str) else (p.label or DOUBT) for p in parts).rstrip("-")
        confidence = float(np.prod([d.confidence for d in digits]))
        doubts = [f"digit {k + 1}: {d.reason}" for k, d in enumerate(digits) if d.label is None]
        notes = list(doubts)
        if lines > 1:
            notes.append(f"{lines} lines of digits; the top one was read")
        return NumberReading(path, text, digits, confidence, lines, "; ".join(notes) or None)

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
from mnist_edge.preprocess.segmentation import (
    TOUCH_RATE,
    Glyph,
    Ink,
    Piece,
    best_parted_prior,
    mask_box,
    reading_log_prior,
    segment,
)
from mnist_edge.runtime.reading import Reader

DOUBT = "?"
# The model's log-confidence counts this many times against the width prior:
# a doubtful whole (two touching digits squeezed into one box) must lose to
# a confident split, a confident wide digit must not be cut in two.
CONFIDENCE_WEIGHT = 3.0
TOUCH_RATE_DOUBTED = 0.1  # the chance of a join inside a group whose whole the model doubts
DOUBT_PENALTY = 6.0  # log-probability a "?" digit costs beyond its confidence
MAX_PART_WIDTH = 1.6  # a run of columns wider than this (of the group's height) is no one digit
JOINED_WIDTH = 0.7  # a run this wide may be two digits no straight cut parts
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


class _Parting:
    """The best reading of one group of ink: one digit, or touching digits cut apart.

    Dynamic programming over the group's cut points (segmentation's
    :meth:`~mnist_edge.preprocess.segmentation.Ink.cut_points`): every run of
    columns between two cuts, no wider than :data:`MAX_PART_WIDTH` of the
    group's height, is read as one digit (or, when wide, as two digits
    parted where their strokes join), and the best chain of runs from the
    left end to the right wins, each join costing the chance that digits touch.
    """

    def __init__(self, reader: NumberReader, ink: Ink):
        self.reader, self.ink = reader, ink
        box = mask_box(ink.mask)
        self.tall = box[1] - box[0] + 1
        self.bound = best_parted_prior()
        self.join = math.log(TOUCH_RATE)

    def best(self, whole: Optional[Glyph]):
        """(score, digits) of the best reading of the group.

        Every join costs the touch rate, :data:`TOUCH_RATE_DOUBTED` when the
        model doubts the whole (its :data:`DOUBT_PENALTY` keeps a doubted
        whole below the parting bound, so it never stops the search early).
        A lower cost for joins after the first, as if a writer who lets two
        digits touch lets the next ones touch too, was measured and gained
        nothing.
        """
        read_whole = self._one(self.ink.mask, whole)
        if read_whole[0] >= self.bound:  # no parting could score higher
            return read_whole
        if read_whole[1] and read_whole[1][0].label is None:
            # The model doubts the whole: most likely digits that touch (it
            # was taught that), so each further join is no longer a surprise.
            self.join = math.log(TOUCH_RATE_DOUBTED)
        cuts = self.ink.cut_points()
        chains = [(0.0, [])] + [(-math.inf, [])] * (len(cuts) - 1)
        for j in range(1, len(cuts)):
            for i in range(j - 1, -1, -1):
                if cuts[j] - cuts[i] > MAX_PART_WIDTH * self.tall:
                    break
                if not chains[i][1] and i:
                    continue
                mask = self.ink.mask if i == 0 and j == len(cuts) - 1 else self.ink.columns(cuts[i], cuts[j])
                run = self._run(mask, whole if mask is self.ink.mask else None)
                score = chains[i][0] + run[0] + (self.join if i else 0.0)
                if run[1] and score > chains[j][0]:
                    chains[j] = (score, chains[i][1] + run[1])
        return chains[-1] if chains[-1][0] > read_whole[0] else read_whole

    def _run(self, mask: np.ndarray, glyph: Optional[Glyph] = None):
        """(score, digits) of a run of columns: one digit, or two parted where their strokes join."""
        best = self._one(mask, glyph)
        box = mask_box(mask)
        if best[0] < self.bound and box and (box[3] - box[2] + 1) >= JOINED_WIDTH * self.tall:
            parts = self.ink.joins(mask)
            if parts:
                (a, first), (b, second) = self._one(parts[0]), self._one(parts[1])
                if first and second and a + b + self.join > best[0]:
                    best = (a + b + self.join, first + second)
        return best

    def _one(self, mask: np.ndarray, glyph: Optional[Glyph] = None):
        glyph = glyph if glyph is not None else self.ink.glyph(mask)
        if glyph is None:
            return (-math.inf, [])
        digit = self.reader._digit(glyph)
        return (self.reader._score_digit(digit, glyph), [digit])


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
        """The piece's reading (one digit, or touching digits parted) with the highest score."""
        if piece.ink is None:
            return [self._digit(piece.whole)] if piece.whole is not None else []
        return _Parting(self, piece.ink).best(piece.whole)[1]

    def _score_digit(self, digit: DigitReading, glyph: Glyph) -> float:
        """log P(this part is this digit): the model's confidence (weighted), its width, a doubt's cost."""
        label = int(digit.top_k[0][0]) if digit.top_k and str(digit.top_k[0][0]).isdigit() else None
        score = CONFIDENCE_WEIGHT * math.log(max(digit.confidence, 1e-6))
        score += reading_log_prior([glyph.box[2] / glyph.box[3]], [label])
        return score - (DOUBT_PENALTY if digit.label is None else 0.0)

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

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
answer), so adding ``--number`` never changes a single digit's label. When
the image's ink is one piece, predict's reading of it is also what a parting
must beat, and a piece predict is sure of (:data:`SURE_LONE`) is one digit;
so are pieces that fit one digit's box when predict is sure of the image (a
broken 9). A digit predict doubts and a parting reads as two sure digits
reads as a number (7 of MNIST's first 3,000 test digits; one more, a 4
predict reads at 0.977, is parted too).

Touching digits come from segmentation with several readings (one digit,
or split in two or more); the one kept has the highest log-probability:
the model's confidence in each of its digits, times how likely that digit
is to be as wide as its part is, times the chance that digits touch. The
widths are weighed for the writer: the whole line is read at the width
scale (a share of MNIST's widths) its groups score best at.

numpy, Pillow and the interpreter only.
"""

from __future__ import annotations

import dataclasses
import math
from typing import List, Optional, Sequence

import numpy as np

from mnist_edge.constants import NUMBER_UNSURE_BELOW
from mnist_edge.errors import ImageError, NoDigitError
from mnist_edge.preprocess import load_gray, pil_to_gray
from mnist_edge.preprocess.load import open_image_bytes
from mnist_edge.preprocess.segmentation import (
    TOUCH_RATE,
    Glyph,
    Ink,
    best_parted_prior,
    digit_log_prior,
    mask_box,
    segment,
)
from mnist_edge.preprocess.unstretch import is_stretched_scan
from mnist_edge.runtime.reading import Reader, Reading

DOUBT = "?"
# The model's log-confidence counts this many times against the width prior:
# a doubtful whole (two touching digits squeezed into one box) must lose to
# a confident split, a confident wide digit must not be cut in two.
CONFIDENCE_WEIGHT = 3.0
# ... and this many times inside a group whose whole the model doubts (digits
# that touch): there a narrow writer's two digits read as one ordinary-width
# digit at 0.7 must lose to the two read surely, whatever the width laws say
# (optdigits' touching numbers 0.536 -> 0.639, MNIST's 0.681 -> 0.740;
# raising the weight everywhere parted stretched scans' fat 1s and wide 8s).
CONFIDENCE_WEIGHT_DOUBTED = 20.0
TOUCH_RATE_DOUBTED = 0.1  # the chance of a join inside a group whose whole the model doubts
DOUBT_PENALTY = 6.0  # log-probability a "?" digit costs beyond its confidence
MAX_PART_WIDTH = 1.6  # a run of columns wider than this (of the group's height) is no one digit
JOINED_WIDTH = 0.7  # a run this wide may be two digits no straight cut parts
NOT_A_NUMBER = "not a number"
# A lone piece of ink predict reads this surely is one digit, however wide:
# the width laws parted MNIST's wide 0s and 4s read at 0.98-1.0 ("67" for a 0),
# while predict is seldom this sure of two touching digits (measured: MNIST's
# and optdigits' touching numbers unchanged).
SURE_LONE = 0.98
# Pieces whose ink together is no wider than this (of its height) may be one broken
# digit (see NumberReader._sure_broken_digit); two digits side by side are wider.
ONE_DIGIT_ASPECT = 1.0
# ... and one of them is this much shorter than the ink together: a piece of a digit, not a
# digit of the line (MNIST's broken 9, 7 and 8: 0.35-0.55; two-digit numbers predict read
# surely as one digit: 0.67 and 1.0).
SHORT_PIECE = 0.6
CELL_MAX_ASPECT = 1.25  # a size-normalised scan's cell is about square (see is_digit_cell)
# A square image no larger than this is one digit: USPS's 16x16 grey scans,
# optdigits' 8x8 counts. Segmentation there finds strokes, not digits (an 8x8 0 was
# read as "19" on two "lines"); a number needs more room than 16 px.
TINY_SIDE = 16
# Writers' digit widths, as shares of MNIST's, that a line is weighed at, and the
# spread (log) of the prior on them: MNIST's writers sit near 1. None wider:
# scales above 1 served mostly to read two touching digits as one wide one
# (measured), and a wide writer's single digits stay whole on the width laws'
# long tails.
WIDTH_SCALES = tuple(round(0.55 + 0.05 * k, 2) for k in range(10))  # 0.55 ... 1.0
WIDTH_SCALE_SPREAD = 0.3


@dataclasses.dataclass
class DigitReading:
    """One digit of a number."""

    label: Optional[str]
    confidence: float
    box: Sequence[int]
    top_k: List[tuple]
    reason: Optional[str] = None
    seen: Optional[np.ndarray] = None
    width: Optional[float] = None  # read again at this share of its width (see Reading.width)

    def to_json(self) -> dict:
        doc = {
            "label": None if self.label is None else int(self.label) if self.label.isdigit() else self.label,
            "confidence": round(self.confidence, 6),
            "box": [int(v) for v in self.box],
            "top_k": [{"label": label, "probability": round(p, 6)} for label, p in self.top_k],
        }
        if self.reason:
            doc["reason"] = self.reason
        if self.width is not None:
            doc["read_at_width"] = self.width
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

    @property
    def unsure(self) -> bool:
        """Read with no "?" but below :data:`~mnist_edge.constants.NUMBER_UNSURE_BELOW`: look again."""
        sure_enough = (self.confidence or 0.0) >= NUMBER_UNSURE_BELOW
        return self.number is not None and not self.doubtful and not sure_enough

    def to_json(self) -> dict:
        """The JSON object ``predict --number --json`` prints."""
        if self.error is not None and not self.digits and self.reason is None:
            return {"path": self.path, "error": self.error}
        doc = {"path": self.path, "number": self.number}
        if self.reason:
            doc["reason"] = self.reason
        doc["confidence"] = None if self.confidence is None else round(self.confidence, 6)
        if self.number is not None:
            doc["unsure"] = self.unsure
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
        unsure = ", unsure" if self.unsure else ""
        return f"{name}: {self.number} ({self.confidence:.3f}{unsure}){note}"

    def error_line(self) -> str:
        """The stderr line for an input that failed."""
        name = str(self.path).replace("\r", "\\r").replace("\n", "\\n")
        return f"{name}: error: {self.error}"


@dataclasses.dataclass
class _Part:
    """One digit of a reading and what its score is made of."""

    digit: DigitReading
    aspect: float  # its width over its height
    label: Optional[int]  # the model's first choice (None when that is no digit)
    log_confidence: float  # the model's, for its first choice
    fixed: float  # a doubt's cost

    def score(self, scale: float, weight: float = CONFIDENCE_WEIGHT) -> float:
        """log P(this part is this digit) for a writer whose digits are ``scale`` times MNIST's width.

        Args:
            scale: the writer's digit width, as a share of MNIST's.
            weight: how many times the model's log-confidence counts (see
                :data:`CONFIDENCE_WEIGHT_DOUBTED`).
        """
        # The width law stretched by the scale. Not renormalised (no 1/scale):
        # that made narrow scales win on their taller peaks alone and cost
        # MNIST's own numbers a point (measured).
        return weight * self.log_confidence + self.fixed + digit_log_prior(self.aspect / scale, self.label)


class _Parting:
    """The best reading of one group of ink: one digit, or touching digits cut apart.

    Dynamic programming over the group's cut points (segmentation's
    :meth:`~mnist_edge.preprocess.segmentation.Ink.cut_points`): every run of
    columns between two cuts, no wider than :data:`MAX_PART_WIDTH` of the
    group's height, is read as one digit (or, when wide, as two digits
    parted where their strokes join or along the path with the least ink),
    and the best chain of runs from the left end to the right wins, each
    join costing the chance that digits touch.

    Every run is read by the model once; :meth:`best` weighs the readings for
    any writer's width scale (see :func:`_writer_scale`).
    """

    def __init__(
        self,
        reader: NumberReader,
        ink: Ink,
        whole: Optional[Glyph] = None,
        as_predicted: Optional[Reading] = None,
    ):
        self.reader, self.ink = reader, ink
        box = mask_box(ink.mask)
        self.tall = box[1] - box[0] + 1
        self.whole = self._one(ink.mask, whole, as_predicted)
        # The model doubts the whole: most likely digits that touch (it was
        # taught that), so each further join is no longer a surprise, and
        # its confidence in the parts says more than their widths.
        doubted = self.whole is not None and self.whole.digit.label is None
        self.join = math.log(TOUCH_RATE_DOUBTED if doubted else TOUCH_RATE)
        self.weight = CONFIDENCE_WEIGHT_DOUBTED if doubted else CONFIDENCE_WEIGHT
        # No parting scores higher at MNIST's scale: two density peaks and a
        # join (each further part adds less than nothing: a peak below the
        # join's cost), whatever the writer's scale (stretching a width law
        # moves its peaks, not their heights).
        self.bound = best_parted_prior() - math.log(TOUCH_RATE) + self.join
        self._cuts: Optional[List[int]] = None
        self._runs: dict = {}
        self._pairs: dict = {}
        self._best: dict = {}

    def ceiling(self, scale: float) -> float:
        """No reading of the group scores higher than this at ``scale`` (without reading a part)."""
        whole = self.whole.score(scale, self.weight) if self.whole else -math.inf
        return whole if self.whole_beyond_parting() else max(whole, self.bound)

    def best(self, scale: float = 1.0):
        """(score, digits) of the best reading of the group at a writer's width scale.

        Every join costs the touch rate, :data:`TOUCH_RATE_DOUBTED` when the
        model doubts the whole (its :data:`DOUBT_PENALTY` keeps a doubted
        whole below the parting bound, so it never stops the search early).
        A lower cost for joins after the first, as if a writer who lets two
        digits touch lets the next ones touch too, was measured and gained
        nothing.
        """
        if scale not in self._best:
            self._best[scale] = self._search(scale)
        return self._best[scale]

    def _search(self, scale: float):
        whole = self.whole
        read_whole = (whole.score(scale, self.weight), [whole.digit]) if whole else (-math.inf, [])
        if read_whole[0] >= self.bound or self.whole_beyond_parting():
            return read_whole
        cuts = self.cut_points()
        chains = [(0.0, [])] + [(-math.inf, [])] * (len(cuts) - 1)
        for j in range(1, len(cuts)):
            for i in range(j - 1, -1, -1):
                if cuts[j] - cuts[i] > MAX_PART_WIDTH * self.tall:
                    break
                if not chains[i][1] and i:
                    continue
                run = self._run(i, j, scale)
                score = chains[i][0] + run[0] + (self.join if i else 0.0)
                if run[1] and score > chains[j][0]:
                    chains[j] = (score, chains[i][1] + run[1])
        return chains[-1] if chains[-1][0] > read_whole[0] else read_whole

    def whole_beyond_parting(self) -> bool:
        """Whether the whole, read at MNIST's scale, scores above any parting: then it stays one digit.

        A confident digit of ordinary width is never parted for another
        scale (a wide 2 would read as 6 and 2 for a narrow writer); its width
        still counts towards the writer's scale.
        """
        return self.whole is not None and self.whole.score(1.0, self.weight) >= self.bound

    def cut_points(self) -> List[int]:
        if self._cuts is None:
            self._cuts = self.ink.cut_points()
        return self._cuts

    def _run(self, i: int, j: int, scale: float):
        """(score, digits) of the run between cuts i and j: one digit, or two parted where they touch.

        Two ways to part it are read: where thin joins vanish, and along the
        path with the least ink (which threads between overlapping digits:
        on optdigits' touching numbers 0.500 -> 0.536 whole, measured).
        """
        one = self._run_part(i, j)
        best = (one.score(scale, self.weight), [one.digit]) if one else (-math.inf, [])
        if best[0] < self.bound:
            for pair in (self._pair(i, j, "joins"), self._pair(i, j, "path")):
                if pair:
                    score = pair[0].score(scale, self.weight) + pair[1].score(scale, self.weight) + self.join
                    if score > best[0]:
                        best = (score, [pair[0].digit, pair[1].digit])
        return best

    def _run_mask(self, i: int, j: int) -> np.ndarray:
        cuts = self.cut_points()
        return self.ink.mask if i == 0 and j == len(cuts) - 1 else self.ink.columns(cuts[i], cuts[j])

    def _run_part(self, i: int, j: int) -> Optional[_Part]:
        if (i, j) not in self._runs:
            whole = i == 0 and j == len(self.cut_points()) - 1
            self._runs[(i, j)] = self.whole if whole else self._one(self._run_mask(i, j))
        return self._runs[(i, j)]

    def _pair(self, i: int, j: int, how: str):
        """The run's two parts, when it is wide enough to hold two; else None.

        Args:
            i: the run's first cut.
            j: its last cut.
            how: "joins" (where thin joins vanish) or "path" (along the least-ink path).
        """
        if (i, j, how) not in self._pairs:
            mask, pair = self._run_mask(i, j), None
            box = mask_box(mask)
            if box and (box[3] - box[2] + 1) >= JOINED_WIDTH * self.tall:
                parts = self.ink.joins(mask) if how == "joins" else self.ink.along_path(mask)
                if parts:
                    first, second = self._one(parts[0]), self._one(parts[1])
                    pair = (first, second) if first and second else None
            self._pairs[(i, j, how)] = pair
        return self._pairs[(i, j, how)]

    def _one(
        self, mask: np.ndarray, glyph: Optional[Glyph] = None, as_predicted: Optional[Reading] = None
    ) -> Optional[_Part]:
        glyph = glyph if glyph is not None else self.ink.glyph(mask)
        if glyph is None:
            return None
        return self.reader._part(glyph, as_predicted)


def is_digit_cell(gray: np.ndarray) -> bool:
    """Whether an image is one digit's cell: a size-normalised scan's, or one too small for a number.

    A size-normalised scan's cell (a form reader's, UCI Semeion's 16x16:
    one digit stretched to fill a square frame) holds one digit by
    construction, but at that size a digit's strokes often fall apart into
    pieces side by side (a 4's two strokes, a 2 broken at its neck), which
    segmentation would read as two digits. A number is wider than tall. A
    square image at most :data:`TINY_SIDE` on both sides holds one digit too.

    Args:
        gray: float grey in [0, 1], shape (H, W).
    """
    h, w = gray.shape
    if max(h, w) > CELL_MAX_ASPECT * min(h, w):
        return False  # two 8x8 scans side by side are a number
    return max(h, w) <= TINY_SIDE or is_stretched_scan(gray)


def _is_sure(reading: Reading) -> bool:
    """Whether predict's reading of the whole image settles it as one digit (:data:`SURE_LONE`)."""
    return reading.label is not None and reading.confidence >= SURE_LONE


def _union_box(pieces) -> List[int]:
    """``[x, y, w, h]`` of the box round every piece's box."""
    x0 = min(p.box[0] for p in pieces)
    y0 = min(p.box[1] for p in pieces)
    x1 = max(p.box[0] + p.box[2] for p in pieces)
    y1 = max(p.box[1] + p.box[3] for p in pieces)
    return [x0, y0, x1 - x0, y1 - y0]


def _writer_scale(partings: Sequence[_Parting]) -> float:
    """How wide this writer's digits are, as a share of MNIST's: the scale whose readings score best.

    Other writers' digits are narrower or wider than MNIST's (UCI optdigits'
    about 0.65 of their height where MNIST's 8s are 0.8), and the per-class
    width laws alone then read two narrow touching digits as one digit of
    normal width. Every group of the line is weighed at each of
    :data:`WIDTH_SCALES` (a log-normal prior, :data:`WIDTH_SCALE_SPREAD`,
    keeps the scale near MNIST's unless the line's readings agree on
    another); the model reads each part only once whatever the scale.
    """
    if not partings:
        return 1.0
    best_scale, best_total = 1.0, sum(p.best(1.0)[0] for p in partings)
    for scale in WIDTH_SCALES:
        prior = -((math.log(scale) / WIDTH_SCALE_SPREAD) ** 2) / 2
        if scale == 1.0 or prior + sum(p.ceiling(scale) for p in partings) <= best_total:
            continue  # it cannot win: no group read
        total = prior + sum(p.best(scale)[0] for p in partings)
        if total > best_total:
            best_scale, best_total = scale, total
    return best_scale


class NumberReader:
    """Reads numbers with one :class:`~mnist_edge.runtime.reading.Reader` (its model and threshold)."""

    def __init__(self, reader: Reader):
        self.reader = reader

    def read_gray(self, path: str, gray: np.ndarray) -> NumberReading:
        """Segmentation, the model on each digit, the number."""
        if is_digit_cell(gray):
            return self._single(path, gray, 1, [0, 0, gray.shape[1], gray.shape[0]], None)
        try:
            found = segment(gray)
        except NoDigitError as exc:
            return NumberReading(path, reason=f"{NOT_A_NUMBER}: {exc}")
        lone = self._lone_reading(path, gray, found)
        if lone is not None and _is_sure(lone):
            return self._single(path, gray, found.lines, found.pieces[0].box, lone)
        sure = self._sure_broken_digit(path, gray, found)
        if sure is not None:
            return self._single(path, gray, found.lines, _union_box(found.pieces), sure)
        partings = {
            k: _Parting(self, piece.ink, piece.whole, lone)
            for k, piece in enumerate(found.pieces)
            if piece.kind != "dash" and piece.ink is not None
        }
        scale = _writer_scale(list(partings.values()))
        parts: List[object] = []
        for k, piece in enumerate(found.pieces):
            if piece.kind == "dash":
                parts.append("-")
            elif k in partings:
                parts.extend(partings[k].best(scale)[1])
            elif piece.whole is not None:
                parts.append(self._digit(piece.whole))
        digits = [p for p in parts if isinstance(p, DigitReading)]
        if len(found.pieces) == 1 and len(digits) == 1:
            # One digit: exactly what predict answers for the image.
            return self._single(path, gray, found.lines, digits[0].box, lone)
        parts = [self._settled(p) if isinstance(p, DigitReading) else p for p in parts]
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

    def _lone_reading(self, path: str, gray: np.ndarray, found) -> Optional[Reading]:
        """Predict's reading of an image whose ink is one piece; None when there are more.

        The piece's whole is then weighed as predict reads it (the whole
        front-end, a doubted digit read again at other widths), not as its
        cut-out glyph reads: a lone digit predict is sure of is parted only
        if a parting beats that (of MNIST's test digits 0-2999, 33 read
        differently with ``--number`` before, 24 after).
        """
        if len(found.pieces) != 1 or found.pieces[0].kind == "dash" or found.pieces[0].ink is None:
            return None
        return self.reader.read_gray(path, gray)

    def _sure_broken_digit(self, path: str, gray: np.ndarray, found) -> Optional[Reading]:
        """Predict's reading of pieces that fit one digit's box, when predict is sure of it; else None.

        A broken stroke (a 9's loop apart from its stem, an 8 open at its
        waist) leaves pieces segmentation reads as digits side by side; when
        all the ink fits a box no wider than :data:`ONE_DIGIT_ASPECT` of its
        height, one piece is shorter than :data:`SHORT_PIECE` of it, and
        predict reads the image as one digit at :data:`SURE_LONE` or above,
        it is that digit (MNIST's 882, 1721, 1942: a sure 9, 7 and 8 read as
        "17", "51" and "8?" before).
        """
        pieces = [p for p in found.pieces if p.kind != "dash"]
        if len(pieces) < 2 or len(pieces) != len(found.pieces):
            return None
        _, _, w, h = _union_box(pieces)
        if w > ONE_DIGIT_ASPECT * h or min(p.box[3] for p in pieces) >= SHORT_PIECE * h:
            return None
        reading = self.reader.read_gray(path, gray)
        return reading if _is_sure(reading) else None

    def _single(
        self, path: str, gray: np.ndarray, lines: int, box, reading: Optional[Reading]
    ) -> NumberReading:
        """One digit: exactly the single-digit reading of the whole image (``reading`` if read already)."""
        reading = reading if reading is not None else self.reader.read_gray(path, gray)
        if reading.confidence is None:
            return NumberReading(path, reason=f"{NOT_A_NUMBER}: {reading.reason}", lines=lines)
        return self._assemble(path, [self._as_digit(reading, box)], lines)

    @staticmethod
    def _as_digit(reading: Reading, box) -> DigitReading:
        """A single-digit reading as one digit of a number, at ``box``."""
        return DigitReading(
            reading.label, reading.confidence, box, reading.top_k, reading.reason, reading.seen, reading.width
        )

    def _part(self, glyph: Glyph, as_predicted: Optional[Reading] = None) -> _Part:
        """A glyph read by the model (or as predict read the image), with the scale-free part of its score."""
        if as_predicted is not None and as_predicted.confidence is not None:
            digit = self._as_digit(as_predicted, glyph.box)
        else:
            digit = self._digit(glyph)
        label = int(digit.top_k[0][0]) if digit.top_k and str(digit.top_k[0][0]).isdigit() else None
        fixed = -DOUBT_PENALTY if digit.label is None else 0.0
        return _Part(digit, glyph.box[2] / glyph.box[3], label, math.log(max(digit.confidence, 1e-6)), fixed)

    def _settled(self, digit: DigitReading) -> DigitReading:
        """A digit the model doubts, read again at other widths; the doubt stays if that is no surer.

        Wider for a narrow hand, narrower for a 1 a size-normalised scan
        stretched into a bar. Only once the parting is chosen: another width
        must not decide where touching digits part (a doubted whole is the
        sign that they touch).
        """
        if digit.label is not None or digit.seen is None:
            return digit
        other = self.reader.read_at_other_widths("", digit.seen)
        if other is None:
            return digit
        return dataclasses.replace(
            digit,
            label=other.label,
            confidence=other.confidence,
            top_k=other.top_k,
            reason=None,
            seen=other.seen,
            width=other.width,
        )

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

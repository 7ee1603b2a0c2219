"""Reading digits from images: the front-end, the predictor and "not a digit", per input.

This is what ``mnist-edge predict``, ``mnist-edge eval --images`` and
``mnist-edge serve`` share, so one image gets one answer everywhere:

* a digit: ``label``, ``confidence``, ``probabilities``, ``top_k``;
* not a digit: ``label`` None and a ``reason``, either "no digit found (...)"
  from the front-end or "not a digit (confidence 0.41 < 0.80)" from the
  calibrated threshold (probabilities are still reported);
* an input that cannot be read: ``error`` (the others go on).

numpy, Pillow and the interpreter only.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

import numpy as np

from mnist_edge import fsutil
from mnist_edge.errors import ImageError, NoDigitError, OutputError
from mnist_edge.preprocess import (
    boxfit,
    iter_image_paths,
    load_gray,
    pil_to_gray,
    to_mnist_candidates,
    unstretch,
)
from mnist_edge.preprocess.load import open_image_bytes
from mnist_edge.runtime import abstain

DEBUG_SUFFIX = ".seen.png"
SWITCH_MARGIN = 0.2  # the other polarity's reading must be this much more confident
# A doubted digit read again at another width must be this confident: squeezed or
# widened, letters turn into digits too. Measured on 16x16 one-bit stretched frames
# (squeezed): MNIST test digits read right 1430 -> 1449 of 1500 (their 1s 0.78 -> 0.89),
# letters taken for digits 47 -> 64 of 240 (111 accepting whatever the threshold
# passes). Widened, on 25 handwriting fonts: read right 0.975 -> 0.983, "not a digit"
# 2.1 % -> 1.3 %; letters still answered "not a digit" 92.7 % -> 90.5 %, Fashion-MNIST
# 93.5 % -> 93.1 % (a bar of 0.95: 0.979, 1.7 %; letters 91.8 %).
# A stretched scan's unsure answer (below the bar) is read again too: MNIST's first
# 2,000 test digits stretched to 16x16 0.9705 -> 0.9725 (1s 0.919 -> 0.953; 2s, 4s,
# 5s, 7s 0.5-0.9 points lower, none below 0.95), plain 16x16 one-bit 0.9667 -> 0.9747,
# letters taken for digits unchanged (66 of 240).
REREAD_CONFIDENCE = 0.9
WIDER = (1.3, 1.6)  # a doubted digit is read again this many times wider
_DEBUG_NAME = re.compile(r"\.seen(-\d+)?\.png$")


def is_debug_image(name: str) -> bool:
    """True for a file name ``predict --debug-dir`` writes (never read back as an input)."""
    return bool(_DEBUG_NAME.search(name))


DEFAULT_TOP_K = 1  # classes an answer lists: predict --top-k and serve's /predict?top_k=
MAX_TOP_K = 10


@dataclasses.dataclass
class Reading:
    """One input's answer.

    Attributes:
        path: the input as named (or an upload's name).
        label: the label, or None for "not a digit" and errors.
        confidence: the top probability (None when no model ran).
        probabilities: the 10 probabilities (None when no model ran).
        top_k: ``(label, probability)`` pairs, best first.
        reason: why there is no label ("no digit found ...", "not a digit ...").
        error: why the input could not be read.
        seen: the 28x28 image the model saw.
        debug_image: where that image was saved, if it was.
        width: when the model doubted the digit as it was and was sure of it
            read again at another width, that width as a share of the
            digit's own (0.5 or 0.3: a stretched scan squeezed; 1.3 or 1.6:
            a narrow hand widened); None when read as it was.
    """

    path: str
    label: Optional[str] = None
    confidence: Optional[float] = None
    probabilities: Optional[List[float]] = None
    top_k: List[tuple] = dataclasses.field(default_factory=list)
    reason: Optional[str] = None
    error: Optional[str] = None
    seen: Optional[np.ndarray] = None
    debug_image: Optional[str] = None
    width: Optional[float] = None

    def to_json(self) -> dict:
        """The JSON object ``predict --json`` prints for this input."""
        if self.error is not None and self.seen is None:
            return {"path": self.path, "error": self.error}
        doc = {"path": self.path, "label": self.label}
        if self.reason is not None:
            doc["reason"] = self.reason
        doc.update(
            {
                "confidence": None if self.confidence is None else round(self.confidence, 6),
                "probabilities": None
                if self.probabilities is None
                else [round(float(p), 6) for p in self.probabilities],
                "top_k": [{"label": label, "probability": round(p, 6)} for label, p in self.top_k],
            }
        )
        if self.width is not None:
            doc["read_at_width"] = self.width
        if self.debug_image:
            doc["debug_image"] = self.debug_image
        if self.error is not None:
            doc["error"] = self.error
        return doc

    def error_line(self) -> str:
        """The stderr line for an input that failed."""
        return f"{_one_line(self.path)}: error: {_one_line(self.error)}"

    def to_line(self) -> str:
        """The line ``predict`` prints for this input."""
        name = _one_line(self.path)
        if self.error is not None and self.seen is None:
            return self.error_line()
        if self.label is None:
            return f"{name}: {self.reason}"
        line = f"{name}: " + "  ".join(f"{label} ({p:.3f})" for label, p in self.top_k)
        return line if self.width is None else f"{line}  (read at {self.width:g}x its width)"


def _one_line(text: str) -> str:
    """A file name or message on one line, whatever characters it holds."""
    return str(text).replace("\r", "\\r").replace("\n", "\\n")


class Reader:
    """Reads digits with one predictor and one "not a digit" threshold.

    Args:
        predictor: a :class:`mnist_edge.runtime.Predictor`.
        min_confidence: the threshold; None takes the model's calibrated
            one from its sidecar (0 when it has none); 0 never abstains. It
            applies to the score the sidecar names (:mod:`.abstain`).
        top_k: how many classes each answer lists.
    """

    def __init__(self, predictor, min_confidence: Optional[float] = None, top_k: int = DEFAULT_TOP_K):
        self.predictor = predictor
        sidecar = predictor.sidecar
        if min_confidence is None:
            min_confidence = sidecar.min_confidence if sidecar and sidecar.min_confidence else 0.0
        self.min_confidence = float(min_confidence)
        # The threshold, the model's or the user's, applies to the score the model was calibrated on.
        self.score = sidecar.abstain_score if sidecar else abstain.LEGACY_SCORE
        self.top_k = top_k

    def read_mnist_form(self, path: str, seen: np.ndarray) -> Reading:
        """Predicts a 28x28 uint8 image already in MNIST form."""
        prediction = self.predictor.predict(seen)
        labels = self.predictor.labels
        decision = abstain.decide(prediction.label, prediction.probabilities, self.min_confidence, self.score)
        return Reading(
            path=path,
            label=None if decision.label is None else labels[decision.label],
            confidence=prediction.confidence,
            probabilities=list(prediction.probabilities),
            top_k=[(labels[k], p) for k, p in prediction.top_k(self.top_k)],
            reason=decision.reason,
            seen=seen,
        )

    def read_gray(self, path: str, gray: np.ndarray) -> Reading:
        """Front-end, predictor and threshold on a grey image in [0, 1].

        When the front-end is unsure of the ink's polarity it offers both
        readings; the second is kept only when the model is clearly surer of
        it (by :data:`SWITCH_MARGIN`): a confident answer on an inverted
        image is not evidence enough on its own. A doubted digit is read
        again at other widths (:meth:`read_again`), and so is a
        size-normalised scan read below :data:`REREAD_CONFIDENCE`: its
        stretch is a reason to doubt any unsure answer (a 1 stretched into a
        bar is read as an 8 at 0.5 as often as it is doubted).
        """
        reading = self._read_as_is(path, gray)
        if reading.confidence is None:
            return reading
        doubted = reading.label is None
        if doubted or (reading.confidence < REREAD_CONFIDENCE and unstretch.is_stretched_scan(gray)):
            reading = self.read_again(path, gray, reading)
        return reading

    def _read_as_is(self, path: str, gray: np.ndarray) -> Reading:
        try:
            candidates = to_mnist_candidates(gray)
        except NoDigitError as exc:
            return Reading(path=path, reason=str(exc))
        return pick_reading([self.read_mnist_form(path, seen) for seen in candidates])

    def read_again(self, path: str, gray: np.ndarray, doubted: Reading) -> Reading:
        """A doubted digit read again at other widths; the surest reading kept if it reaches the bar.

        Two ways a real digit's width misleads the model: a size-normalised
        one-bit scan stretches a 1 into a bar (read again squeezed,
        :mod:`mnist_edge.preprocess.unstretch`), and a narrow hand writes 0s,
        4s and 9s half as wide as MNIST's writers did (read again widened,
        :data:`WIDER`). The surest of those readings replaces the doubt if it
        reaches :data:`REREAD_CONFIDENCE`. Only doubted images (and a
        stretched scan's unsure ones) are read again, so no answer the model
        was sure of changes.
        """
        narrowed = unstretch.narrowed_images(gray)
        readings = [
            dataclasses.replace(self._read_as_is(path, image), width=share)
            for image, share in zip(narrowed, unstretch.NARROWED_WIDTHS)
        ]
        if doubted.seen is not None:
            readings += self._at_widths(path, doubted.seen, WIDER)
        return _surest(readings) or doubted

    def read_at_other_widths(self, path: str, seen: np.ndarray) -> Optional[Reading]:
        """A doubted digit in MNIST form read again wider and narrower: the surest reaching the bar, or None.

        For a digit of a number (:mod:`mnist_edge.runtime.number`) once its
        parting is chosen: wider for a narrow hand, squeezed to
        :data:`~mnist_edge.preprocess.unstretch.NARROWED_WIDTHS` for a 1 a
        size-normalised scan stretched into a bar (in a number the scan's
        frame is gone, so the form itself is squeezed).
        """
        return _surest(self._at_widths(path, seen, WIDER + unstretch.NARROWED_WIDTHS))

    def _at_widths(self, path: str, seen: np.ndarray, factors) -> List[Reading]:
        forms = ((boxfit.at_width(seen, factor), factor) for factor in factors)
        return [
            dataclasses.replace(self.read_mnist_form(path, form), width=factor)
            for form, factor in forms
            if form is not None
        ]

    def read_file(self, path: Union[str, os.PathLike]) -> Reading:
        """Reads one image file (or ``.npy``); a bad file becomes an ``error`` reading."""
        try:
            return self.read_gray(str(path), load_gray(path))
        except ImageError as exc:
            return Reading(path=str(path), error=str(exc))
        except MemoryError:
            return Reading(path=str(path), error="image too large to decode in memory")

    def read_bytes(self, data: bytes, name: str = "upload") -> Reading:
        """Reads an image from bytes (an upload), through the same front-end as files."""

        try:
            return self.read_gray(name, pil_to_gray(open_image_bytes(data)))
        except ImageError as exc:
            return Reading(path=name, error=str(exc))
        except MemoryError:
            return Reading(path=name, error="image too large to decode in memory")


def _surest(readings: List[Reading]) -> Optional[Reading]:
    """The most confident reading that is a digit at :data:`REREAD_CONFIDENCE` or above, or None."""
    accepted = [r for r in readings if r.label is not None and r.confidence >= REREAD_CONFIDENCE]
    return max(accepted, key=lambda r: r.confidence) if accepted else None


def pick_reading(readings: List[Reading]) -> Reading:
    """The first (likelier polarity) reading unless the model is clearly surer of the second."""
    first = readings[0]
    for other in readings[1:]:
        if other.confidence - first.confidence > SWITCH_MARGIN:
            first = other
    return first


def debug_image_path(debug_dir: Path, path: Union[str, os.PathLike]) -> Path:
    """A new file name for the image an input became: ``<input name>.seen.png``.

    The input's full name (with its extension) keeps ``notes.jpg`` and
    ``notes.png`` apart; a file already there is never replaced (a number
    is added instead).
    """
    name = Path(path).name or "input"
    candidate = debug_dir / f"{name}{DEBUG_SUFFIX}"
    n = 2
    try:
        while candidate.exists():
            candidate = debug_dir / f"{name}.seen-{n}.png"
            n += 1
    except OSError as exc:  # a name too long for the filesystem, ...
        raise OutputError(f"{candidate}: cannot write ({exc.strerror or exc})") from None
    return candidate


def save_debug_image(image: np.ndarray, destination: Path) -> Path:
    """Writes a 28x28 PNG without ever replacing an existing file.

    Raises:
        OutputError: the file cannot be written (a folder in the way, a
            name too long, a full disk ...).
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return fsutil.write_bytes_new(destination, buffer.getvalue())


def read_inputs(
    reader: Reader, inputs: Sequence[Union[str, os.PathLike]], debug_dir: Optional[Path] = None
) -> List[Reading]:
    """Reads every image named or found in the folders named, in order.

    Args:
        reader: the :class:`Reader`.
        inputs: files and folders.
        debug_dir: where to save the 28x28 each input became (never read
            back as input, never replacing a file).

    Returns:
        One :class:`Reading` per input file (or per problem with a name).
    """
    readings = []
    for path, problem in iter_image_paths(inputs, skip=is_debug_image):
        reading = Reading(path=str(path), error=problem) if problem else reader.read_file(path)
        if debug_dir is not None and reading.seen is not None:
            try:
                destination = debug_image_path(debug_dir, path)
                reading.debug_image = str(save_debug_image(reading.seen, destination))
            except OutputError as exc:
                reading.error = f"debug image not saved: {exc}"
        readings.append(reading)
    return readings


def failed(readings: Iterable[Reading]) -> List[Reading]:
    """The readings that carry an error."""
    return [r for r in readings if r.error is not None]

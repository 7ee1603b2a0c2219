"""Segmentation: the digits of a handwritten number, left to right, each in MNIST form.

The same stages as a single digit up to the ink mask (working size,
polarity, background, :mod:`.selection`'s mask), then:

0. **lean**: writing that leans past 25 degrees (:mod:`.slant`) is
   sheared upright first, its boxes mapped back to the image;
1. **pieces**: connected components, specks dropped; on a photo, the
   paper's ruling and the rims of shadows along the edges too;
2. **lines**: bands of rows with ink (a slanted line is one band while its
   digits' rows overlap); the top line is read, and how many lines there
   were is reported;
3. **columns**: pieces of the line that share most of their width belong
   to one digit (a 5's flag over its body, a 4 written in two strokes, the
   dots of a dotted 7, a broken stroke);
4. **the line height**: the median height of the groups holding most ink;
   a group much lower than that is a dot, a speck, or (wide and at
   mid-height) a dash;
5. **touching digits**: a group's ink can be parted in two (:class:`Ink`:
   cuts at the columns with the least ink, where thin joins vanish when
   the strokes are thinned, and along the path with the least ink from top
   to bottom, :mod:`.parting`); the reader
   (:mod:`mnist_edge.runtime.number`) parts the parts again as long as that
   reads better, weighing the model's confidence in each digit against how
   likely digits are to be as wide as its parts (:func:`reading_log_prior`)
   and to touch at all;
6. each digit goes through the same box fit as a single digit.

numpy and Pillow only.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Tuple

import numpy as np

from mnist_edge.errors import NoDigitError
from mnist_edge.preprocess import background, boxfit, parting, polarity, ruling, selection, slant
from mnist_edge.preprocess.components import Components, label
from mnist_edge.preprocess.frontend import MIN_SIDE, WORK_SIDE
from mnist_edge.preprocess.morphology import dilate3, erode3, resize
from mnist_edge.preprocess.slant import Frame

NUMBER_MIN_SHORT_SIDE = 96  # a long strip keeps digits this tall at least, not a few pixels
NUMBER_MAX_SIDE = 1152  # ... but is never worked on larger than this
DOT_SIZE = 3.0  # a piece no bigger than this many stroke widths is a dot...
DOT_REACH = 2.5  # ... and dots this many stroke widths apart are one dotted stroke
SHARED_WIDTH = 0.5  # pieces sharing this much of the narrower one's width are one digit
LOW_GROUP = 0.35  # a group lower than this share of the line height is no digit
DASH_MIN_WIDTH = 0.3  # ... wide as this share of the line height and at mid-height: a dash
LINE_INK_SHARE = 0.3  # a line with less ink than this share of the inkiest is a stray mark
# A digit's width over its height, (median, mean absolute deviation) per class,
# measured on MNIST's 60,000 training digits (see digit_log_prior).
ASPECT_BY_LABEL = (
    (0.9, 0.132),
    (0.4, 0.16),
    (0.95, 0.15),
    (0.8, 0.128),
    (0.8, 0.13),
    (0.95, 0.184),
    (0.75, 0.125),
    (0.8, 0.128),
    (0.8, 0.132),
    (0.7, 0.108),
)
TOUCH_RATE = 0.02  # the prior chance that a digit touches the next one
MIN_PARTED_WIDTH = 4  # ink fewer pixels across than this is not two digits
CUT_REACH = 0.08  # a cut is the least ink within this share of the group's height...
GROW_BACK_STEPS = 4  # growths per erosion step when parted pieces grow back (then: nearest column)
MIN_DIGIT_WIDTH = 0.12  # no part narrower than this (of the group's height) is cut off
CUTS_PER_DIGIT = 2.5  # ... and a group gets at most this many cuts per digit-width (its height)

Box = Tuple[int, int, int, int]  # top, bottom, left, right (inclusive), working pixels


@dataclasses.dataclass
class Glyph:
    """One digit candidate: its MNIST form and where it is.

    Attributes:
        form: ``(28, 28)`` uint8, white on black.
        box: ``(x, y, w, h)`` in the input image's pixels.
    """

    form: np.ndarray
    box: Tuple[int, int, int, int]


@dataclasses.dataclass
class Piece:
    """One thing on the line, left to right.

    Attributes:
        kind: "digit" or "dash".
        box: ``(x, y, w, h)`` in the input image's pixels.
        whole: for a digit, the piece read as one digit (None if its box
            fit failed).
        aspect: the piece's width over its height.
        ink: for a digit, its ink, to part it when it holds touching digits.
    """

    kind: str
    box: Tuple[int, int, int, int]
    whole: Optional[Glyph] = None
    aspect: float = 0.0
    ink: Optional[Ink] = None


@dataclasses.dataclass
class Ink:
    """A group's ink and how to read parts of it: what parting touching digits needs.

    Attributes:
        mask: the group's pixels (working size, bool).
        norm: the normalised ink the box fit crops from.
        width: the stroke width (working pixels).
        frame: where its pixels are in the input (scale, and a shear when the line leaned).
    """

    mask: np.ndarray
    norm: np.ndarray
    width: float
    frame: Frame

    def glyph(self, mask: np.ndarray) -> Optional[Glyph]:
        """Part of the ink (or all of it) through the single digit's box fit; None if it holds no digit."""
        return _glyph(mask, self.norm, self.width, self.frame)

    def cut_points(self) -> List[int]:
        """Columns (offsets in the group's box) where touching digits may be cut apart, and both ends.

        The valleys of the ink's column profile: columns with no more ink
        than any within :data:`CUT_REACH` of the group's height, the
        deepest first, that far apart; at most :data:`CUTS_PER_DIGIT` per
        digit the group's width could hold.
        """
        box = mask_box(self.mask)
        top, bottom, left, right = box
        wide, tall = right - left + 1, bottom - top + 1
        ink = self.mask[top : bottom + 1, left : right + 1].sum(axis=0).astype(np.float32)
        reach = max(1, int(round(CUT_REACH * tall)))
        # No digit is narrower than a thin 1: cuts at the very ends would part off specks.
        margin = max(1, int(round(MIN_DIGIT_WIDTH * tall)))
        valleys = [
            c
            for c in range(margin, wide - margin + 1)
            if ink[c] <= ink[max(0, c - reach) : c + reach + 1].min()
        ]
        wanted = int(np.ceil(CUTS_PER_DIGIT * wide / tall)) + 1
        picked: List[int] = []
        for c in sorted(valleys, key=lambda c: ink[c]):
            if all(abs(c - p) > reach for p in picked):
                picked.append(int(c))
            if len(picked) >= wanted:
                break
        return [0] + sorted(picked) + [wide]

    def columns(self, start: int, stop: int) -> np.ndarray:
        """The group's ink between two columns of its box (offsets), as a mask."""
        left = mask_box(self.mask)[2]
        part = np.zeros_like(self.mask)
        part[:, left + start : left + stop] = self.mask[:, left + start : left + stop]
        return part

    def joins(self, mask: np.ndarray) -> Optional[List[np.ndarray]]:
        """This ink parted in two where thin joins vanish (:func:`split_at_joins`), or None."""
        box = mask_box(mask)
        if box is None or box[3] - box[2] + 1 < MIN_PARTED_WIDTH:
            return None
        return split_at_joins(mask, box, 2, self.width)

    def along_path(self, mask: np.ndarray) -> Optional[List[np.ndarray]]:
        """This ink parted in two along its least-ink path (:func:`.parting.split_along_path`), or None."""
        box = mask_box(mask)
        if box is None or box[3] - box[2] + 1 < MIN_PARTED_WIDTH:
            return None
        return parting.split_along_path(mask, box)


def mask_box(mask: np.ndarray) -> Optional[Box]:
    """The bounding box of a mask's pixels (None for an empty mask)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


@dataclasses.dataclass
class Segmentation:
    """The number found in an image.

    Attributes:
        pieces: digits and dashes of the line read, left to right.
        lines: how many lines of digits the image holds (the top one is read).
        line_height: the line's digit height, in the input's pixels.
    """

    pieces: List[Piece]
    lines: int
    line_height: float


def working_number_image(gray: np.ndarray) -> Tuple[np.ndarray, float]:
    """The image at the size segmentation works at, and that size over the input's.

    Like a single digit's working size (longest side at most 384) unless a
    long strip would then be too low for its digits: its shorter side is
    kept at 96 px (the longer at most 1152).

    Raises:
        NoDigitError: fewer than 4 pixels across.
    """
    h, w = gray.shape
    if min(h, w) < MIN_SIDE:
        raise NoDigitError(f"no digit found (image only {w}x{h} pixels)")
    f = min(1.0, WORK_SIDE / max(h, w))
    if min(h, w) * f < NUMBER_MIN_SHORT_SIDE:
        f = min(max(f, NUMBER_MIN_SHORT_SIDE / min(h, w)), NUMBER_MAX_SIDE / max(h, w))
    if f < 1.0:
        return resize(gray, (max(1, round(w * f)), max(1, round(h * f))), "box"), f
    if f > 1.0:
        k = int(np.ceil(f))
        return resize(gray, (w * k, h * k), "bilinear"), float(k)
    return gray, 1.0


def segment(gray: np.ndarray) -> Segmentation:
    """Finds the digits of the number in a grey image.

    Args:
        gray: float32 grey in [0, 1], any size from 4x4 up.

    Returns:
        The :class:`Segmentation` (at least one piece).

    Raises:
        NoDigitError: nothing digit-like (blank, specks only, ink everywhere).
    """
    gray = np.clip(np.nan_to_num(np.asarray(gray, np.float32), nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    work, scale = working_number_image(gray)
    dark_ink, certain = polarity.decide(work)
    try:
        return _segment(work, dark_ink, scale)
    except NoDigitError as first:
        if certain and first.args[0] != selection.NO_BACKGROUND:
            raise
        try:
            return _segment(work, not dark_ink, scale)
        except NoDigitError:
            raise first from None


def _segment(work: np.ndarray, dark_ink: bool, scale: float) -> Segmentation:
    ink = background.ink_map(work, dark_ink)
    if not ink.has_strokes:
        raise NoDigitError("no digit found (blank or too faint)")
    mask, width = selection.ink_mask(ink)
    if mask.mean() > selection.MAX_INK_FRACTION:
        raise NoDigitError(selection.NO_BACKGROUND)
    ink, comps, width, frame = _upright(ink, mask, width, scale)
    photo = ink.filter_width is not None
    keep = _pieces(comps, width, photo)
    lines = line_bands(comps, keep)
    on_line = np.zeros_like(keep)
    on_line[lines[0]] = True
    groups = column_groups(comps, on_line, width)
    height = line_height(comps, groups)
    tall = [
        _box_of(comps, g)
        for g in groups
        if _box_of(comps, g)[1] - _box_of(comps, g)[0] + 1 >= LOW_GROUP * height
    ]
    band = (min(b[0] for b in tall), max(b[1] for b in tall))
    norm = selection.normalised(ink)
    pieces = []
    for group in sorted(groups, key=lambda g: _box_of(comps, g)[2]):
        box = _box_of(comps, group)
        kind = classify(box, height, band)
        if kind == "digit":
            pieces.append(_digit_piece(comps, group, box, norm, width, frame))
        elif kind == "dash":
            pieces.append(Piece("dash", frame.to_input(box)))
    if not any(p.kind == "digit" for p in pieces):
        raise NoDigitError("no digit found (no stroke-like ink)")
    return Segmentation(pieces, len(lines), height / scale)


def _upright(ink: background.InkMap, mask: np.ndarray, width: float, scale: float):
    """(ink, its components, stroke width, frame), sheared upright when the writing leans past 25 degrees.

    Leaning digits' columns overlap (the top of one over the foot of the
    next), so they would group and part badly. The mask is labelled once
    for the lean and the pieces alike unless it is sheared.
    """
    frame = Frame(scale)
    comps = label(mask)
    lean = slant.line_slant(mask, comps)
    if abs(lean) < slant.DESLANT_FROM:
        return ink, comps, width, frame
    sheared, frame = slant.deslant(ink.ink, lean, frame)
    ink = dataclasses.replace(ink, ink=sheared)
    mask, width = selection.ink_mask(ink)
    return ink, label(mask), width, frame


def _pieces(comps: Components, width: float, photo: bool) -> np.ndarray:
    """Components that are strokes: specks dropped, and on a photo the rims along its edges."""
    if comps.count == 0:
        raise NoDigitError("no digit found")
    keep = selection.significant(comps, width)
    if photo:
        for k in np.flatnonzero(keep):
            box = comps.box(k)
            if selection.along_border(box, comps.labels.shape) or ruling.is_ruling_dash(box, width):
                keep[k] = False
    if not keep.any():
        raise NoDigitError("no digit found (no stroke-like ink)")
    return keep


def column_groups(comps: Components, keep: np.ndarray, width: float = 0.0) -> List[np.ndarray]:
    """Components grouped into digits: pieces sharing most of their width are one digit.

    First, dots in a chain are one stroke: pieces no bigger than
    :data:`DOT_SIZE` stroke widths, each within :data:`DOT_REACH` stroke
    widths of the next, three or more of them (a dotted 7's bar; a lone dot,
    a decimal point, stays alone).

    Returns:
        Lists of component indices, one per group.
    """
    index = [int(k) for k in np.flatnonzero(keep)]
    parent = {k: k for k in index}

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for chain in dot_chains(comps, index, width):
        for k in chain[1:]:
            parent[root(k)] = root(chain[0])
    changed = True
    while changed:  # merging widens a group, which may then take in more
        changed = False
        boxes = {}
        for k in index:
            r = root(k)
            lo, hi = boxes.get(r, (10**9, -1))
            boxes[r] = (min(lo, int(comps.left[k])), max(hi, int(comps.right[k])))
        roots = sorted(boxes, key=lambda r: boxes[r][0])
        for a_i, a in enumerate(roots):
            for b in roots[a_i + 1 :]:
                (al, ar), (bl, br) = boxes[a], boxes[b]
                if bl > ar:
                    break
                shared = min(ar, br) - max(al, bl) + 1
                narrower = min(ar - al, br - bl) + 1
                if shared >= SHARED_WIDTH * narrower and root(a) != root(b):
                    parent[root(b)] = root(a)
                    changed = True
    groups = {}
    for k in index:
        groups.setdefault(root(k), []).append(k)
    return [np.asarray(g) for g in groups.values()]


def dot_chains(comps: Components, index: List[int], width: float) -> List[List[int]]:
    """Chains of three or more dots, each within reach of the next (see :func:`column_groups`)."""
    if width <= 0:
        return []
    size = np.maximum(comps.bottom - comps.top, comps.right - comps.left) + 1
    dots = [k for k in index if size[k] <= DOT_SIZE * width]
    parent = {k: k for k in dots}

    def root(k):
        while parent[k] != k:
            k = parent[k]
        return k

    for i, a in enumerate(dots):
        for b in dots[i + 1 :]:
            gap = max(
                comps.top[b] - comps.bottom[a],
                comps.top[a] - comps.bottom[b],
                comps.left[b] - comps.right[a],
                comps.left[a] - comps.right[b],
            )
            if gap <= DOT_REACH * width:
                parent[root(b)] = root(a)
    chains: dict = {}
    for k in dots:
        chains.setdefault(root(k), []).append(k)
    return [c for c in chains.values() if len(c) >= 3]


def _box_of(comps: Components, group: np.ndarray) -> Box:
    return (
        int(comps.top[group].min()),
        int(comps.bottom[group].max()),
        int(comps.left[group].min()),
        int(comps.right[group].max()),
    )


def line_height(comps: Components, groups: List[np.ndarray]) -> float:
    """The digits' height: the upper median height of the groups holding most ink (a quarter of the most up).

    The upper median, not the mean of the middle two: a digit and its flag
    written apart (a 5, a 7) are two groups, and their mean height made the
    flag tall enough to count as a digit of its own ("5?" for a 5; of
    MNIST's test digits 0-2999 read with ``--number``, 24 -> 17 read
    differently from predict).
    """
    heights = np.array([_box_of(comps, g)[1] - _box_of(comps, g)[0] + 1 for g in groups], np.float32)
    mass = np.array([comps.area[g].sum() for g in groups], np.float32)
    heavy = np.sort(heights[mass >= 0.25 * mass.max()])
    return float(heavy[len(heavy) // 2])


def line_bands(comps: Components, keep: np.ndarray) -> List[np.ndarray]:
    """The pieces in lines of writing, top line first: bands of rows with ink, empty rows between.

    A band lower than half the tallest (a 5's flag written apart, the dots of
    a dotted stroke, an underline) belongs to the nearest tall band; a line
    with less than :data:`LINE_INK_SHARE` of the inkiest line's ink is a
    stray mark, not a line. A slanted line is one band as long as its
    digits' rows overlap.

    Returns:
        Component indices per line.
    """
    index = np.flatnonzero(keep)
    inked = np.zeros(comps.labels.shape[0] + 1, bool)
    for k in index:
        inked[comps.top[k] : comps.bottom[k] + 1] = True
    edges = np.diff(np.concatenate([[False], inked[:-1], [False]]).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    tallest = max(ends - starts) + 1
    tall = [(a, b) for a, b in zip(starts, ends) if b - a + 1 >= 0.5 * tallest]
    members: List[List[int]] = [[] for _ in tall]
    for k in index:
        middle = (comps.top[k] + comps.bottom[k]) / 2
        nearest = min(range(len(tall)), key=lambda t: max(tall[t][0] - middle, middle - tall[t][1], 0))
        members[nearest].append(int(k))
    ink = [float(comps.area[m].sum()) for m in members]
    return [np.asarray(m) for m, mass in zip(members, ink) if m and mass >= LINE_INK_SHARE * max(ink)]


def classify(box: Box, height: float, band: Tuple[int, int]) -> Optional[str]:
    """ "digit", "dash" (low, wide, at the line's mid-height) or None (a dot, a speck, an underline)."""
    top, bottom, left, right = box
    tall, wide = bottom - top + 1, right - left + 1
    middle = (top + bottom) / 2
    if tall >= LOW_GROUP * height:
        return "digit"
    line_middle = (band[0] + band[1]) / 2
    if wide >= DASH_MIN_WIDTH * height and wide >= 2 * tall and abs(middle - line_middle) <= 0.25 * height:
        return "dash"
    return None


def _glyph(mask: np.ndarray, norm: np.ndarray, width: float, frame: Frame) -> Optional[Glyph]:
    """One digit's mask through the single digit's box fit."""
    box = mask_box(mask)
    if box is None:
        return None
    digit = selection.Digit(mask, box, width)
    try:
        crop = boxfit.thicken(boxfit.crop_digit(norm, digit), width)
        form = boxfit.centre_by_mass(boxfit.to_box(crop))
    except NoDigitError:
        return None
    return Glyph(form, frame.to_input(box))


def _aspect(box: Box) -> float:
    return (box[3] - box[2] + 1) / (box[1] - box[0] + 1)


def digit_log_prior(aspect: float, label: Optional[int] = None) -> float:
    """log P(a digit is this wide for its height | it is ``label``), or over all digits when None.

    Each digit's width over its height follows a Laplace law per class
    (:data:`ASPECT_BY_LABEL`): MNIST's 1s are slim, 0s, 2s and 5s wide, and
    the tails are Laplace-like (1.5 % of digits are wider than 1.4 times
    their height), where a Gaussian's would make every wide 2 two digits.
    """
    modes = [ASPECT_BY_LABEL[label]] if label is not None else ASPECT_BY_LABEL
    density = sum(np.exp(-abs(aspect - centre) / scale) / (2 * scale) for centre, scale in modes) / len(modes)
    return float(np.log(max(density, 1e-12)))


def reading_log_prior(aspects: List[float], labels: Optional[List[Optional[int]]] = None) -> float:
    """log P(these parts are these digits, touching): each part's width, and :data:`TOUCH_RATE` per join."""
    labels = labels or [None] * len(aspects)
    return sum(digit_log_prior(a, k) for a, k in zip(aspects, labels)) + (len(aspects) - 1) * float(
        np.log(TOUCH_RATE)
    )


def _digit_piece(comps, group, box, norm, width, frame: Frame) -> Piece:
    """A group as one digit, with its ink to part if it holds touching digits."""
    member = np.zeros(comps.count + 1, bool)
    member[group] = True
    ink = Ink(member[comps.labels], norm, width, frame)
    return Piece("digit", frame.to_input(box), ink.glyph(ink.mask), _aspect(box), ink)


def best_parted_prior() -> float:
    """The highest :func:`reading_log_prior` any parting into two or more digits can reach.

    A reading's score is this prior plus the model's log-confidences (never
    above 0), and every further part adds a density peak (below 2) and a
    touch (log 0.02), so a whole reading scoring higher needs no parting tried.
    """
    peak = max(-np.log(2 * scale) for _, scale in ASPECT_BY_LABEL)
    return float(2 * peak + np.log(TOUCH_RATE))


def split_at_joins(mask: np.ndarray, box: Box, parts: int, width: float) -> Optional[List[np.ndarray]]:
    """Touching digits parted where they touch: thin joins vanish when the strokes are thinned.

    The group is eroded until it falls into ``parts`` large pieces (at most
    half a stroke width deep); every pixel of the group then goes to the
    piece it is nearest to (grown back one pixel at a time inside the
    group). Digits that overlap, which no straight cut can part, part here.

    Returns:
        The parts' masks left to right, or None when the group does not fall apart.
    """
    top, bottom, left, right = box
    inside = mask[top : bottom + 1, left : right + 1]
    core = inside.copy()
    for depth in range(max(1, int(round(width / 2)))):
        core = erode3(core.astype(np.uint8)).astype(bool)
        comps = label(core)
        if comps.count < parts:
            continue
        biggest = np.argsort(comps.area[1:])[::-1][:parts] + 1
        if comps.area[biggest[-1]] < 0.1 * comps.area[biggest[0]]:
            continue
        return _grow_back(inside, comps.labels, biggest, box, mask.shape, steps=GROW_BACK_STEPS * (depth + 1))
    return None


def _grow_back(inside, labels, seeds, box, shape, steps: int = 1_000_000) -> List[np.ndarray]:
    """Assigns each pixel of ``inside`` to the nearest seed component, growing them in turn.

    At most ``steps`` growths: what is left then (the far end of a long
    thin stroke the erosion took whole) goes to the seed nearest in column,
    as growing along a long stroke one pixel at a time costs seconds.
    """
    owner = np.zeros(inside.shape, np.int32)
    for k, seed in enumerate(seeds, 1):
        owner[labels == seed] = k
    for _ in range(steps):
        free = inside & (owner == 0)
        if not free.any():
            break
        grown = False
        for k in range(1, len(seeds) + 1):
            reach = dilate3((owner == k).astype(np.uint8)).astype(bool) & free
            if reach.any():
                owner[reach & (owner == 0)] = k
                grown = True
        if not grown:
            break  # pixels no seed reaches (a speck of the group): left out
    else:
        _nearest_in_column(inside & (owner == 0), owner, len(seeds))
    top, bottom, left, right = box
    order = sorted(range(1, len(seeds) + 1), key=lambda k: np.nonzero(owner == k)[1].mean())
    out = []
    for k in order:
        part = np.zeros(shape, bool)
        part[top : bottom + 1, left : right + 1] = owner == k
        out.append(part)
    return out


def _nearest_in_column(free: np.ndarray, owner: np.ndarray, seeds: int) -> None:
    """Gives each free pixel to the seed whose pixels' mean column is nearest."""
    ys, xs = np.nonzero(free)
    if not len(xs):
        return
    centres = np.array([np.nonzero(owner == k)[1].mean() for k in range(1, seeds + 1)])
    owner[ys, xs] = np.argmin(np.abs(xs[:, None] - centres[None, :]), axis=1) + 1

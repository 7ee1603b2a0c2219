"""Training data as the front-end will present real inputs: augmentation through the real front-end.

A model reads what the front-end makes of an image, not the image. So each
augmented training digit is drawn the way a source might hand it over (a
random :mod:`mnist_edge.synthesis.renderings` rendering of a slightly rotated, sheared
or stretched MNIST digit: a tight or enlarged scan, a very low-resolution
scan, a thin pen or fat marker, broken or dotted strokes, blur, JPEG, low
contrast, a photo of squared paper) and then passed through
:func:`mnist_edge.preprocess.to_mnist`, exactly as ``predict`` would.

The same is done for things that are not digits (:mod:`mnist_edge.synthesis.outliers`:
letters, shapes, scribbles, empty pages, garments), which teach the model
to spread its probability when it sees no digit ("outlier exposure"), and
for touching digits as a number's reader first sees them (two or three
digits in one box: :func:`touching_groups`), so that the reader can tell
one wide digit from digits that need parting.

The work is split into fixed-size chunks, each with its own seed, and spread
over processes: results depend on the seed, never on the number of workers.
numpy and Pillow only.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import os
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mnist_edge import fsutil
from mnist_edge.constants import cache_root
from mnist_edge.errors import ImageError
from mnist_edge.preprocess import boxfit, to_mnist
from mnist_edge.synthesis import outliers, renderings

CHUNK = 500  # items per task: a seed each, so results do not depend on the worker count
# Other writers' digits are narrower than MNIST's (optdigits' about 0.65 of their height):
# the range of widths, as a share of the digit's own, that --writers draws.
NARROW_WIDTH = (0.55, 0.8)


def cache_dir() -> Path:
    """Where rendered training sets are kept: ``augment/`` under :func:`~mnist_edge.constants.cache_root`."""
    return cache_root() / "augment"


def _code_digest() -> str:
    """A digest of the code that draws and preprocesses: a change invalidates the cache.

    Taken over the parsed code without its docstrings (``ast.dump``), so
    reformatting, comments and documentation do not throw away an hour of
    rendering.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(
        [
            package / name
            for name in ("augment.py", "renderings.py", "outliers.py", "synth.py", "glyphs.py", "numbers.py")
        ]
        + list((package.parent / "preprocess").glob("*.py"))
    ):
        digest.update(_code_without_docstrings(path.read_text(encoding="utf-8")).encode())
    return digest.hexdigest()[:16]


def _code_without_docstrings(source: str) -> str:
    """``ast.dump`` of *source* with every module, class and function docstring removed."""
    import ast

    tree = ast.parse(source)
    documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        if isinstance(node, documented) and ast.get_docstring(node, clean=False) is not None:
            # A body must not be empty: a function that is only a docstring keeps a pass.
            node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)


def cached(
    name: str,
    key: Sequence,
    build: Callable[[], Dict[str, np.ndarray]],
    log: Callable[[str], None] = lambda _m: None,
) -> Dict[str, np.ndarray]:
    """Arrays built once per (inputs, code) and kept in :func:`cache_dir`.

    Rendering a training set through the front-end takes minutes; training
    the same set again (another architecture, more epochs) should not.
    Unwritable cache folders are not an error: the arrays are just rebuilt.
    """
    digest = hashlib.sha256(repr((tuple(key), _code_digest())).encode()).hexdigest()[:24]
    path = cache_dir() / f"{name}-{digest}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            log(f"augment: {name} from cache {path}")
            return arrays
        except (OSError, ValueError):
            pass  # a damaged cache entry: rebuild it
    arrays = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        fsutil.write_bytes_atomic(path, buffer.getvalue())
    except OSError:
        pass
    return arrays


def affine(digit: np.ndarray, rng: np.random.Generator, writers: float = 0.0) -> np.ndarray:
    """A slightly rotated, sheared, stretched and bent copy of an MNIST digit, in MNIST form again.

    Drawn at 4x, transformed, and normalised back (box 20, centre of mass) by
    the front-end's own box fit, so only the shape changes.

    Args:
        digit: ``(28, 28)`` uint8 MNIST digit.
        rng: the random generator.
        writers: share of digits drawn as narrow as other writers' hands
            (:data:`NARROW_WIDTH` of their width). At 0 no extra random draw
            is made, so earlier training sets render exactly as before.
    """
    from PIL import Image

    narrow = writers > 0 and rng.random() < writers
    ink = renderings.enlarge(renderings.ink_box(digit), 4, "bicubic")
    ink = np.pad(ink, max(ink.shape) // 2)
    if rng.random() < 0.5:
        ink = renderings.elastic(ink, rng, rng.uniform(0.02, 0.06))
    h, w = ink.shape
    angle = np.deg2rad(rng.uniform(-12, 12))
    shear = rng.uniform(-0.25, 0.25)
    sx, sy = (rng.uniform(*NARROW_WIDTH) if narrow else np.exp(rng.uniform(-0.2, 0.2))), 1.0
    c, s = np.cos(angle), np.sin(angle)
    forward = np.array([[c, -s], [s, c]]) @ np.array([[1, shear], [0, 1]]) @ np.diag([sx, sy])
    inverse = np.linalg.inv(forward)
    centre = np.array([w / 2, h / 2])
    offset = centre - inverse @ centre
    coeffs = (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])
    img = Image.fromarray(ink.astype(np.float32), mode="F").transform(
        (w, h), Image.AFFINE, coeffs, resample=Image.BILINEAR
    )
    out = np.clip(np.asarray(img, dtype=np.float32), 0, 1)
    ys, xs = np.nonzero(out > 0.05)
    if not len(ys):
        return digit
    crop = out[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return boxfit.centre_by_mass(boxfit.to_box(crop))


def narrowed(digit: np.ndarray, width: float) -> np.ndarray:
    """A digit's ink box squeezed to ``width`` of its width (height kept): a narrower hand."""
    ink = renderings.ink_box(digit)
    w = max(1, round(ink.shape[1] * width))
    return renderings.to_u8(np.clip(renderings.resize(ink, (w, ink.shape[0]), "bilinear"), 0, 1))


def other_hand(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A digit as another writer's hand and scanner might leave it: its ink box, uint8.

    Narrower (:data:`NARROW_WIDTH`), and half the time also counted into a
    coarse bitmap (6-10 px, like the 8x8 scans of other writer collections)
    and brought back through the front-end, blur and all. Used to compose
    touching groups of such digits (composing crops every digit to its ink),
    which look like one ordinary digit.
    """
    if rng.random() < 0.5:
        coarse = through_front_end(_counted(digit, rng))
        if coarse is not None:
            digit = coarse
    return narrowed(digit, rng.uniform(*NARROW_WIDTH))


def _scan(d, rng):
    side = int(rng.choice([10, 12, 14, 16, 20, 24, 32]))
    img = renderings.fit_square(renderings.ink_box(d), side, stretch=bool(rng.random() < 0.35))
    if rng.random() < 0.3:  # scanners that keep one bit a pixel
        img = (img > rng.uniform(0.3, 0.6)).astype(np.float32)
    if rng.random() < 0.5:
        img = renderings.with_margin(img, rng.uniform(0.05, 0.3))
    factor = int(rng.choice([1, 1, 2, 3, 4]))
    if factor > 1:
        img = renderings.enlarge(img, factor, str(rng.choice(["nearest", "bilinear", "bicubic"])))
    return renderings.to_u8(img if rng.random() < 0.5 else 1 - img)


def _counted(d, rng):
    side = int(rng.choice([6, 7, 8, 8, 10]))
    ink = renderings.ink_box(d)
    if rng.random() < 0.25:  # some scanners normalise width and height both
        ink = renderings.fit_square(ink, 64, stretch=True)
    img = renderings.counted_bitmap(ink, side)
    if rng.random() < 0.5:
        img = renderings.with_margin(img, rng.uniform(0.1, 0.3))
    img = renderings.enlarge(
        img, int(rng.choice([1, 2, 4, 8])), str(rng.choice(["nearest", "bilinear", "bicubic"]))
    )
    return renderings.to_u8(img if rng.random() < 0.5 else 1 - img)


def _down_up(d, rng):
    return renderings.down_up(d, rng, int(rng.integers(7, 17)))


def _pen(d, rng):
    side = int(rng.choice([96, 128, 160]))
    skel = renderings.skeleton(d, side)
    return renderings.to_u8(renderings.on_paper(renderings.pen(skel, int(rng.integers(1, side // 10))), rng))


def _degraded(d, rng):
    choice = rng.integers(3)
    if choice == 0:
        return renderings.blurred(d, rng)
    if choice == 1:
        return renderings.jpeg_small(d, rng)
    return renderings.low_contrast(d, rng)


# (weight, rendering) for augmented digits; "as is" keeps the affine MNIST form.
DIGIT_RENDERINGS: Sequence[Tuple[float, Callable]] = (
    (0.12, lambda d, rng: d),
    (0.25, _scan),
    (0.18, _counted),
    (0.08, _down_up),
    (0.10, lambda d, rng: renderings.stroke_width(d, rng, int(rng.integers(-2, 5)))),
    (0.09, _pen),
    (0.04, renderings.broken),
    (0.02, renderings.dotted),
    (0.08, _degraded),
    (0.04, renderings.photo),
)


def _pick(table, rng):
    weights = np.array([w for w, _ in table])
    return table[int(rng.choice(len(table), p=weights / weights.sum()))][1]


def augment_digit(digit: np.ndarray, rng: np.random.Generator, writers: float = 0.0) -> Optional[np.ndarray]:
    """One augmented sample: a rendering of a transformed digit, through the front-end.

    Args:
        digit: ``(28, 28)`` uint8 MNIST digit.
        rng: the random generator.
        writers: share drawn narrow (:func:`affine`).

    Returns:
        ``(28, 28)`` uint8 as ``predict`` would see it, or None if the
        front-end found no digit in the rendering.
    """
    shaped = affine(digit, rng, writers) if rng.random() < 0.8 else digit
    image = _pick(DIGIT_RENDERINGS, rng)(shaped, rng)
    return through_front_end(image)


def through_front_end(image: np.ndarray) -> Optional[np.ndarray]:
    """uint8 grey image -> what the front-end makes of it (None for "no digit")."""
    try:
        return to_mnist(image.astype(np.float32) / 255.0)
    except ImageError:
        return None


def _digit_chunk(args):
    digits, labels, seed, writers = args
    rng = np.random.default_rng(seed)
    images, kept = [], []
    for digit, label in zip(digits, labels):
        out = augment_digit(digit, rng, writers)
        if out is not None:
            images.append(out)
            kept.append(label)
    return np.asarray(images, np.uint8).reshape(-1, 28, 28), np.asarray(kept, np.uint8)


def _run_chunks(function, tasks: List, workers: Optional[int], log: Callable[[str], None], what: str):
    workers = workers or os.cpu_count() or 1
    results = [None] * len(tasks)
    if workers <= 1 or len(tasks) <= 1:
        for i, task in enumerate(tasks):
            results[i] = function(task)
        return results
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(function, task): i for i, task in enumerate(tasks)}
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            results[futures[future]] = future.result()
            if done % max(1, len(tasks) // 10) == 0:
                log(f"augment: {what} {done}/{len(tasks)} chunks")
    return results


def augmented_digits(
    x: np.ndarray,
    y: np.ndarray,
    copies: int,
    seed: int,
    workers: Optional[int] = None,
    log: Callable[[str], None] = lambda _m: None,
    writers: float = 0.0,
) -> Tuple[np.ndarray, np.ndarray]:
    """``copies`` augmented versions of every digit, as the front-end presents them.

    Args:
        x: ``(n, 28, 28)`` uint8 digits.
        y: ``(n,)`` labels.
        copies: augmented versions per digit.
        seed: the seed (results depend on it, not on ``workers``).
        workers: processes (default: all cores).
        log: progress lines.
        writers: share drawn as narrow as other writers' hands (:func:`affine`).

    Returns:
        ``(images, labels)``; renderings the front-end found no digit in are left out.
    """
    seeds = np.random.SeedSequence([seed, 1]).spawn(copies * (-(-len(x) // CHUNK)))
    tasks = []
    for _ in range(copies):
        for start in range(0, len(x), CHUNK):
            tasks.append(
                (
                    x[start : start + CHUNK],
                    y[start : start + CHUNK],
                    seeds[len(tasks)].generate_state(1)[0],
                    writers,
                )
            )
    parts = _run_chunks(_digit_chunk, tasks, workers, log, "digits")
    return (
        np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, 28, 28), np.uint8),
        np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.uint8),
    )


def _style_chunk(args):
    from mnist_edge.synthesis import glyphs

    count, first, seed, writers = args
    rng = np.random.default_rng(seed)
    images, kept = [], []
    for k in range(first, first + count):
        label = k % 10
        out = augment_digit(glyphs.mnist_form(str(label), rng), rng, writers)
        if out is not None:
            images.append(out)
            kept.append(label)
    return np.asarray(images, np.uint8).reshape(-1, 28, 28), np.asarray(kept, np.uint8)


def style_digits(
    count: int,
    seed: int,
    workers: Optional[int] = None,
    log: Callable[[str], None] = lambda _m: None,
    writers: float = 0.0,
) -> Tuple[np.ndarray, np.ndarray]:
    """``count`` digits in the forms MNIST's writers rarely used, as the front-end presents them.

    Each is a stroke-drawn form (:mod:`mnist_edge.synthesis.glyphs`: open-top
    and triangle 4s, flagged 1s, crossed 7s, straight-stemmed and g-like 9s, looped 2s,
    ...) with a random pen and wobble, then augmented exactly like an MNIST
    digit (:func:`augment_digit`). Labels cycle 0..9, so classes are balanced.

    ``writers`` is the share drawn narrow, as in :func:`augmented_digits`.

    Returns:
        ``(images, labels)``; renderings the front-end found no digit in are left out.
    """
    seeds = np.random.SeedSequence([seed, 4]).spawn(-(-count // CHUNK))
    tasks = [
        (min(CHUNK, count - start), start, seeds[i].generate_state(1)[0], writers)
        for i, start in enumerate(range(0, count, CHUNK))
    ]
    parts = _run_chunks(_style_chunk, tasks, workers, log, "styles")
    return (
        np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, 28, 28), np.uint8),
        np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.uint8),
    )


def _outlier_chunk(args):

    kind, count, seed, fonts, items = args
    rng = np.random.default_rng(seed)
    images = []
    for k in range(count):
        if kind == "garment":
            image = outliers.garment(rng, items[k : k + 1])
            if image.shape == (28, 28) and rng.random() < 0.5:
                images.append(image)  # also as the raw array a user may pass
                continue
        else:
            image = outliers.kinds(fonts)[kind](rng)
        out = through_front_end(image)
        if out is not None:
            images.append(out)
    return np.asarray(images, np.uint8).reshape(-1, 28, 28)


# Outlier mix for outlier exposure: share of the requested count per kind.
OUTLIER_MIX = {
    "garment": 0.5,
    "letter": 0.25,
    "shape": 0.1,
    "scribble": 0.1,
    "empty-page": 0.05,
}


def outlier_images(
    count: int,
    seed: int,
    fonts: Sequence[str],
    garments: Optional[np.ndarray],
    workers: Optional[int] = None,
    log: Callable[[str], None] = lambda _m: None,
) -> np.ndarray:
    """Images of things that are not digits, as the front-end presents them.

    Args:
        count: about how many (empty pages the front-end rejects are left out).
        seed: the seed.
        fonts: font files for letters.
        garments: Fashion-MNIST images (uint8 28x28), or None to leave garments out.
        workers: processes.
        log: progress lines.

    Returns:
        ``(m, 28, 28)`` uint8.
    """
    mix = {k: v for k, v in OUTLIER_MIX.items() if k != "garment" or garments is not None}
    total = sum(mix.values())
    seeds = iter(np.random.SeedSequence([seed, 2]).spawn(10_000))
    picker = np.random.default_rng([seed, 3])
    tasks = []
    for kind, share in mix.items():
        wanted = int(round(count * share / total))
        for start in range(0, wanted, CHUNK):
            n = min(CHUNK, wanted - start)
            # Each garment task carries just its own items, not the whole set.
            items = garments[picker.integers(len(garments), size=n)] if kind == "garment" else None
            tasks.append((kind, n, next(seeds).generate_state(1)[0], tuple(fonts), items))
    parts = _run_chunks(_outlier_chunk, tasks, workers, log, "outliers")
    return np.concatenate(parts) if parts else np.zeros((0, 28, 28), np.uint8)


# Touching digits as training outliers: mostly pairs, some triples, overlapping
# by a sixteenth to a fifth of their height (the ink then touches or shares
# columns; a smaller overlap leaves most pairs apart, which teaches nothing).
TOUCHING_SIZES = ((2, 0.8), (3, 0.2))
TOUCHING_GAP = (-0.22, -0.06)


def _touching_chunk(args):
    from mnist_edge.preprocess import pil_to_gray
    from mnist_edge.preprocess.load import open_image_bytes
    from mnist_edge.preprocess.segmentation import segment
    from mnist_edge.synthesis import numbers

    digits, count, seed, writers = args
    rng = np.random.default_rng(seed)
    layout = numbers.Layout(gap=TOUCHING_GAP, drift=0.03, scale=(0.9, 1.1), slant=(-6.0, 6.0))
    sizes, shares = zip(*TOUCHING_SIZES)
    images = []
    for _ in range(count):
        size = int(rng.choice(sizes, p=np.asarray(shares) / sum(shares)))
        picked = digits[rng.integers(len(digits), size=size)]
        if writers > 0 and rng.random() < writers:  # a whole number in one other hand
            picked = [other_hand(d, rng) for d in picked]
        encoded = numbers.render(numbers.compose(picked, rng, layout), rng, str(rng.choice(numbers.STYLES)))
        try:
            found = segment(pil_to_gray(open_image_bytes(encoded)))
        except ImageError:
            continue
        wholes = [p.whole for p in found.pieces if p.kind == "digit"]
        # Only a group the reader would take for one digit teaches anything;
        # digits that stayed apart are already parted.
        if len(wholes) == 1 and wholes[0] is not None:
            images.append(wholes[0].form)
    return np.asarray(images, np.uint8).reshape(-1, 28, 28)


def touching_groups(
    digits: np.ndarray,
    count: int,
    seed: int,
    workers: Optional[int] = None,
    log: Callable[[str], None] = lambda _m: None,
    writers: float = 0.0,
) -> np.ndarray:
    """Two or three touching digits as one digit-sized box: what a number's reader sees before parting them.

    Each is composed from random ``digits`` (:func:`mnist_edge.synthesis.numbers.compose`,
    overlapping by :data:`TOUCHING_GAP` of a digit's height), handed over as
    a clean drawing, a scan or a photo, and found by the number's
    segmentation; kept when segmentation sees one group, as that group's
    28x28 form. Trained as non-digits (uniform targets), they teach the model
    to doubt a box holding two digits, which is what lets
    :mod:`mnist_edge.runtime.number` prefer parting them.

    Args:
        digits: ``(n, 28, 28)`` uint8 digits in MNIST form to compose from.
        count: about how many (compositions segmentation parts are left out).
        seed: the seed (results depend on it, not on ``workers``).
        workers: processes.
        log: progress lines.
        writers: share of groups whose digits are all in another hand
            (:func:`other_hand`: narrower, some coarse): such pairs look like
            one ordinary digit, which is what the reader must learn to doubt.

    Returns:
        ``(m, 28, 28)`` uint8.
    """
    seeds = np.random.SeedSequence([seed, 5]).spawn(-(-count // CHUNK))
    picker = np.random.default_rng([seed, 6])
    tasks = []
    for i, start in enumerate(range(0, count, CHUNK)):
        n = min(CHUNK, count - start)
        # Each task carries just the digits it may draw from.
        pool = digits[picker.integers(len(digits), size=min(len(digits), 4 * n))]
        tasks.append((pool, n, seeds[i].generate_state(1)[0], writers))
    parts = _run_chunks(_touching_chunk, tasks, workers, log, "touching digits")
    return np.concatenate(parts) if parts else np.zeros((0, 28, 28), np.uint8)

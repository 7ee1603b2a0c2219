"""Reading numbers (runtime/number.py) with the shipped model: a case table of tricky layouts.

Each number is written with a pen on white paper from stroke forms
(synthesis/glyphs.py) and a few shapes drawn here (a dot, a minus sign, a
digit broken or dotted), so the layouts are exact and need no dataset.
"""

import io

import numpy as np
import pytest
from helpers import number_png
from PIL import Image, ImageDraw

from mnist_edge.runtime import Predictor, default_model_path
from mnist_edge.runtime import number as number_mod
from mnist_edge.runtime.number import NumberReader
from mnist_edge.runtime.reading import Reader

DOT = [[(0.45, 0.9), (0.5, 0.92)]]
MINUS = [[(0.1, 0.5), (0.8, 0.5)]]
BROKEN_4 = [
    [(0.55, 0.08), (0.2, 0.62), (0.82, 0.62)],
    [(0.62, 0.72), (0.62, 0.97)],
    [(0.62, 0.3), (0.62, 0.52)],
]
DOTTED_7 = [[(0.2 + 0.1 * k, 0.1), (0.25 + 0.1 * k, 0.1)] for k in range(7)] + [
    [(0.8 - 0.045 * k, 0.1 + 0.1 * k), (0.78 - 0.045 * k, 0.15 + 0.1 * k)] for k in range(1, 9)
]
FLAGGED_5 = [
    [(0.32, 0.12), (0.78, 0.1)],
    [(0.3, 0.22), (0.27, 0.45), (0.5, 0.42), (0.7, 0.55), (0.7, 0.75), (0.45, 0.9), (0.25, 0.82)],
]


SHAPES = {".": DOT, "-": MINUS, "b4": BROKEN_4, "d7": DOTTED_7, "f5": FLAGGED_5}


def write(items, gap=0.25, lines=None) -> bytes:
    return number_png(items, gap, lines, SHAPES)


@pytest.fixture(scope="module")
def reader():
    return Reader(Predictor(default_model_path()))


@pytest.fixture(scope="module")
def numbers(reader):
    return NumberReader(reader)


LAYOUTS = [
    # (case, image, number expected)
    ("spaced digits", lambda: write(list("2047")), "2047"),
    ("touching 00", lambda: write(list("300"), gap=-0.06), "300"),
    ("touching 47", lambda: write(list("47"), gap=-0.08), "47"),
    ("three touching digits", lambda: write(list("258"), gap=-0.06), "258"),
    ("a 1 touching a 5", lambda: write(list("15"), gap=-0.06), "15"),
    ("a 1 next to a 7", lambda: write(list("17"), gap=0.08), "17"),
    ("a broken 4", lambda: write(["b4", "2"]), "42"),
    ("a dotted 7", lambda: write(["d7", "3"]), "73"),
    ("a 5 with its flag apart", lambda: write(["f5", "0"]), "50"),
    ("a dot between digits is ignored", lambda: write(["3", ".", "5"], gap=0.15), "35"),
    ("a minus sign", lambda: write(["-", "8"]), "-8"),
    ("two lines: the top one is read", lambda: write(None, lines=[list("12"), list("36")]), "12"),
]


@pytest.mark.parametrize("name,make,expected", LAYOUTS, ids=[c[0] for c in LAYOUTS])
def test_tricky_layouts(numbers, name, make, expected):
    reading = numbers.read_bytes(make(), name)
    assert reading.number == expected, reading.to_json()


def test_two_lines_are_counted_and_said(numbers):
    reading = numbers.read_bytes(write(None, lines=[list("12"), list("36")]))
    assert reading.lines == 2
    assert "2 lines" in reading.reason


def test_a_single_digit_reads_exactly_as_predict(numbers, reader):
    data = write(["6"])
    single = reader.read_bytes(data)
    number = numbers.read_bytes(data)
    assert number.number == single.label
    assert number.digits[0].confidence == single.confidence
    assert number.digits[0].top_k == single.top_k


def test_digits_come_with_boxes_left_to_right_inside_the_image(numbers):
    reading = numbers.read_bytes(write(list("583")))
    xs = [d.box[0] for d in reading.digits]
    assert xs == sorted(xs) and len(xs) == 3
    image = Image.open(io.BytesIO(write(list("583"))))
    for x, y, w, h in (d.box for d in reading.digits):
        assert x >= 0 and y >= 0 and x + w <= image.width + 1 and y + h <= image.height + 1


def test_confidence_is_the_product_of_the_digits(numbers):
    reading = numbers.read_bytes(write(list("94")))
    assert reading.confidence == pytest.approx(np.prod([d.confidence for d in reading.digits]))


def test_a_doubtful_digit_is_a_question_mark_with_its_reason(reader):
    strict = NumberReader(Reader(reader.predictor, min_confidence=0.9999))
    reading = strict.read_bytes(write(list("27"), gap=0.3))
    assert reading.number is not None and "?" in reading.number
    assert "not a digit" in reading.reason and "digit " in reading.reason


LINES = [
    # (case, number, confidence, reason, the line predict --number prints)
    ("sure", "2024", 0.95, None, "a.png: 2024 (0.950)"),
    ("unsure: worth a second look", "2024", 0.62, None, "a.png: 2024 (0.620, unsure)"),
    (
        "a doubted digit says so itself",
        "2?24",
        0.3,
        "digit 2: not a digit",
        "a.png: 2?24 (0.300)  (digit 2: not a digit)",
    ),
    ("not a number", None, None, "not a number: blank", "a.png: not a number: blank"),
]


@pytest.mark.parametrize("name,number,confidence,reason,line", LINES, ids=[c[0] for c in LINES])
def test_the_line_says_when_a_number_was_read_unsurely(name, number, confidence, reason, line):
    reading = number_mod.NumberReading("a.png", number=number, confidence=confidence, reason=reason)
    assert reading.to_line() == line


@pytest.mark.parametrize("name,number,confidence,reason,line", LINES, ids=[c[0] for c in LINES])
def test_the_json_says_so_too(name, number, confidence, reason, line):
    doc = number_mod.NumberReading("a.png", number=number, confidence=confidence, reason=reason).to_json()
    assert doc.get("unsure") == (None if number is None else "unsure" in line)


@pytest.mark.parametrize(
    "image",
    [
        lambda: _png(np.full((120, 300), 240, np.uint8)),
        lambda: _png(np.random.default_rng(0).integers(0, 256, (120, 300)).astype(np.uint8)),
    ],
    ids=["blank page", "noise"],
)
def test_nothing_there_is_not_a_number(numbers, image):
    reading = numbers.read_bytes(image())
    assert reading.number is None or reading.number.strip("?") == ""
    if reading.number is None:
        assert reading.reason.startswith("not a number")


def test_an_unreadable_upload_is_an_error(numbers):
    reading = numbers.read_bytes(b"not an image", "x.png")
    assert reading.error and reading.to_json() == {"path": "x.png", "error": reading.error}


def _png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


class WidthModel:
    """A stand-in reader: a box whose ink fills its width (two digits squeezed in) is doubted."""

    def read_gray(self, path, gray):  # the whole image, as predict reads it: its ink is too wide for a digit
        from mnist_edge.runtime.reading import Reading

        return Reading(path=path, label=None, confidence=0.2, top_k=[("0", 0.2)], reason="wide")

    def read_mnist_form(self, path, seen):
        from mnist_edge.runtime.reading import Reading

        wide = (seen > 64).any(axis=0).sum() >= 19
        label, p = (None, 0.2) if wide else ("0", 0.99)
        return Reading(
            path=path, label=label, confidence=p, top_k=[("0", p)], reason="wide" if wide else None
        )


def _rings(lefts, width=150, ring=40):
    image = Image.new("L", (width, 70), 255)
    draw = ImageDraw.Draw(image)
    for left in lefts:  # rings ``ring`` px wide, 54 high
        draw.ellipse((left, 8, left + ring, 62), outline=0, width=5)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_doubted_group_is_cut_into_the_digits_read_best():
    """Dynamic programming over the cut points: three touching rings read as three digits, not one."""
    reading = NumberReader(WidthModel()).read_bytes(_rings((10, 44, 78)), "rings")  # each overlaps the next
    assert reading.number == "000", reading.to_json()
    lefts = [d.box[0] for d in reading.digits]
    assert lefts == sorted(lefts) and lefts[1] - lefts[0] >= 25


def test_a_confident_group_as_wide_as_a_digit_is_left_whole():
    class Confident(WidthModel):
        def read_mnist_form(self, path, seen):
            from mnist_edge.runtime.reading import Reading

            return Reading(path=path, label="8", confidence=0.999, top_k=[("8", 0.999)])

        def read_gray(self, path, gray):  # one digit found: read as predict reads it
            return self.read_mnist_form(path, None)

    reading = NumberReader(Confident()).read_bytes(_rings((10, 24), 90), "rings")
    assert reading.number == "8", reading.to_json()


class PredictReads(WidthModel):
    """Predict (the whole image through the front-end) reads an 8 at ``confidence``; cut-out glyphs
    are read as WidthModel reads them (a wide box doubted)."""

    def __init__(self, confidence):
        self.confidence = confidence

    def read_gray(self, path, gray):
        from mnist_edge.runtime.reading import Reading

        return Reading(path=path, label="8", confidence=self.confidence, top_k=[("8", self.confidence)])


LONE_PIECES = [
    # (case, predict's confidence in the whole image, ring lefts, expected)
    ("two rings predict reads surely", 0.99, (10, 44), "8"),
    ("four rings, far too wide, predict sure", 0.99, (10, 44, 78, 112), "8"),
    ("four rings, predict unsure", 0.6, (10, 44, 78, 112), "0000"),
    ("two rings predict doubts", None, (10, 44), "00"),
]


@pytest.mark.parametrize("name,confidence,lefts,expected", LONE_PIECES, ids=[c[0] for c in LONE_PIECES])
def test_a_lone_piece_is_weighed_as_predict_reads_the_image(name, confidence, lefts, expected):
    """One piece of ink: predict's answer when predict is sure, else parted only if a parting beats it."""
    model = WidthModel() if confidence is None else PredictReads(confidence)
    reading = NumberReader(model).read_bytes(_rings(lefts, 200), "rings")
    assert reading.number == expected, reading.to_json()


def _broken_nine(loop_bottom=46) -> bytes:
    """A 9 written in two strokes that do not meet: its loop, and its stem apart on the right."""
    image = Image.new("L", (110, 100), 255)
    draw = ImageDraw.Draw(image)
    draw.ellipse((12, 8, 46, loop_bottom), outline=0, width=5)
    draw.line([(54, 20), (54, 92)], fill=0, width=5)
    return _png(np.asarray(image))


BROKEN_PIECES = [
    # (case, image, predict's confidence in the whole image, expected)
    ("a 9 in two pieces predict reads surely", _broken_nine(), 0.99, "8"),
    ("... predict unsure: the pieces are read", _broken_nine(), 0.6, "00"),
    ("... no piece much shorter than the ink: two digits", _broken_nine(loop_bottom=92), 0.99, "00"),
    ("two rings apart, wider than a digit, predict sure", _rings((10, 60), 150), 0.99, "00"),
]


@pytest.mark.parametrize("name,png,confidence,expected", BROKEN_PIECES, ids=[c[0] for c in BROKEN_PIECES])
def test_pieces_that_fit_one_digits_box_are_the_digit_predict_is_sure_of(name, png, confidence, expected):
    """A broken digit (pieces side by side, no wider than tall together) is the digit predict is sure of."""
    reading = NumberReader(PredictReads(confidence)).read_bytes(png, "pieces")
    assert reading.number == expected, reading.to_json()


@pytest.mark.parametrize("model,join", [("doubting", number_mod.TOUCH_RATE_DOUBTED), ("confident", None)])
def test_joins_cost_less_inside_a_group_whose_whole_is_doubted(model, join):
    from mnist_edge.preprocess import pil_to_gray
    from mnist_edge.preprocess.segmentation import TOUCH_RATE, segment

    class Doubting(WidthModel):
        def read_mnist_form(self, path, seen):
            from mnist_edge.runtime.reading import Reading

            return Reading(path=path, label=None, confidence=0.3, top_k=[("0", 0.3)], reason="doubt")

    class Wide8(Doubting):  # confident, but far too wide for one digit: parting is still tried
        def read_mnist_form(self, path, seen):
            from mnist_edge.runtime.reading import Reading

            return Reading(path=path, label="8", confidence=0.999, top_k=[("8", 0.999)])

    piece = segment(pil_to_gray(Image.open(io.BytesIO(_rings((10, 44, 78)))))).pieces[0]
    reader = NumberReader(Doubting() if model == "doubting" else Wide8())
    parting = number_mod._Parting(reader, piece.ink, piece.whole)
    parting.best()
    assert parting.join == pytest.approx(np.log(join if join else TOUCH_RATE))


class NarrowWriterModel(WidthModel):
    """A stand-in for a narrow writer's 0s: a slim ring is sure, a box half full of ink only likely.

    Two slim touching rings fill a box as wide as an ordinary 0, so only the
    width of the line's other digits tells that they are two.
    """

    def __init__(self, pair_confidence=0.4):
        self.pair_confidence = pair_confidence

    def read_mnist_form(self, path, seen):
        from mnist_edge.runtime.reading import Reading

        p = self.pair_confidence if (seen > 64).any(axis=0).sum() >= 13 else 0.99
        return Reading(path=path, label="0", confidence=p, top_k=[("0", p)])

    def read_gray(self, path, gray):
        return self.read_mnist_form(path, np.full((28, 28), 255, np.uint8))


NARROW = 24  # px wide rings, 54 high: 0s less than half as wide as tall


@pytest.mark.parametrize(
    "lefts,pair_confidence,expected",
    [
        ((10, 50, 90, 130, 153), 0.4, "00000"),  # slim 0s beside the pair: a narrow writer, the pair parts
        ((10, 33), 0.4, "0"),  # the pair alone: no evidence of a narrow writer, read at MNIST's width
        ((10, 50, 90, 130, 153), 0.95, "0000"),  # a confident whole is never parted for another width
    ],
)
def test_touching_digits_are_weighed_at_the_lines_writer_width(lefts, pair_confidence, expected):
    png = _rings(lefts, width=max(lefts) + NARROW + 20, ring=NARROW)
    reading = NumberReader(NarrowWriterModel(pair_confidence)).read_bytes(png, "rings")
    assert reading.number == expected, reading.to_json()


class TouchingNarrowModel(WidthModel):
    """A stand-in for narrow touching digits: the whole row and slivers are doubted, two slim
    rings in one box are read as one digit (only likely), a slim ring alone is sure."""

    def read_mnist_form(self, path, seen):
        from mnist_edge.runtime.reading import Reading

        columns = int((seen > 64).any(axis=0).sum())  # a slim ring is 9 columns, two 16, three 20
        if columns >= 19 or columns < 7:  # all three, or a sliver of a ring
            return Reading(path=path, label=None, confidence=0.2, top_k=[("0", 0.2)], reason="doubt")
        p = 0.5 if columns >= 11 else 0.99
        return Reading(path=path, label="0", confidence=p, top_k=[("0", p)])


@pytest.mark.parametrize(
    "doubted_weight,expected",
    [(number_mod.CONFIDENCE_WEIGHT_DOUBTED, "000"), (number_mod.CONFIDENCE_WEIGHT, "00")],
)
def test_inside_a_doubted_group_the_models_confidence_outweighs_the_width_laws(
    monkeypatch, doubted_weight, expected
):
    """Three slim touching rings, read sure one by one: narrower than MNIST's 0s, but three digits.

    With the weight a group the model reads as one digit keeps (3), two of
    them read as one ordinary-width 0 win, as on optdigits' touching numbers.
    """
    monkeypatch.setattr(number_mod, "CONFIDENCE_WEIGHT_DOUBTED", doubted_weight)
    png = _rings((10, 33, 56), width=110, ring=NARROW)  # each ring touches the next
    reading = NumberReader(TouchingNarrowModel()).read_bytes(png, "rings")
    assert reading.number == expected, reading.to_json()


def _two_strokes(shape, grey=False):
    """Two bars, one at each edge of a small frame: a stretched digit whose strokes fell apart."""
    h, w = shape
    bar = max(2, w // 8)
    image = np.zeros(shape, np.float32)
    image[:, :bar] = 1.0
    image[h // 8 :, -bar:] = 1.0
    return image * 0.6 + np.linspace(0.0, 0.35, w)[None, :] if grey else image  # grey: shaded paper


CELLS = [
    # (case, image, one digit cell)
    ("a 16x16 one-bit scan's cell", _two_strokes((16, 16)), True),
    ("a 32x30 one-bit cell", _two_strokes((32, 30)), True),
    ("a 16x48 strip: a number", _two_strokes((16, 48)), False),
    ("a grey 16x16 image: too small for a number", _two_strokes((16, 16), grey=True), True),
    ("a grey 8x8 image", _two_strokes((8, 8), grey=True), True),
    ("a grey 20x20 image", _two_strokes((20, 20), grey=True), False),
    ("two grey 8x8 scans side by side", _two_strokes((8, 16), grey=True), False),
    ("a 128x128 drawing", _two_strokes((128, 128)), False),
]


@pytest.mark.parametrize("name,image,cell", CELLS, ids=[c[0] for c in CELLS])
def test_a_size_normalised_scans_cell_is_one_digit(name, image, cell):
    assert number_mod.is_digit_cell(image) is cell


# A 0 from UCI optdigits (8x8 counts, 0-16) that segmentation once saw as "19" on two lines.
OPTDIGITS_ZERO = np.array(
    [
        [0, 2, 0, 8, 9, 0, 0, 0],
        [0, 13, 5, 14, 8, 7, 0, 0],
        [0, 12, 5, 2, 0, 9, 0, 0],
        [0, 7, 5, 0, 0, 3, 5, 0],
        [0, 3, 10, 0, 0, 2, 10, 0],
        [0, 1, 13, 0, 0, 1, 12, 0],
        [0, 0, 5, 13, 5, 9, 13, 0],
        [0, 0, 0, 9, 16, 16, 7, 0],
    ],
    np.float32,
)


def test_a_tiny_image_reads_as_predict_reads_it(numbers, reader):
    gray = OPTDIGITS_ZERO / 16
    alone = reader.read_gray("8x8", gray)
    assert numbers.read_gray("8x8", gray).number == (alone.label or "?")


def test_a_digit_cell_in_pieces_reads_as_predict_reads_it():
    """A stretched 16x16 digit whose strokes fall apart side by side is one digit, not a number."""

    class PiecesAreOnes(WidthModel):
        def read_mnist_form(self, path, seen):
            from mnist_edge.runtime.reading import Reading

            return Reading(path=path, label="1", confidence=0.99, top_k=[("1", 0.99)])

        def read_gray(self, path, gray):
            from mnist_edge.runtime.reading import Reading

            return Reading(path=path, label="4", confidence=0.9, top_k=[("4", 0.9)])

    reading = NumberReader(PiecesAreOnes()).read_gray("cell", _two_strokes((16, 16)))
    assert reading.number == "4", reading.to_json()


def test_without_groups_to_weigh_the_writer_width_is_mnists():
    assert number_mod._writer_scale([]) == 1.0


@pytest.mark.parametrize("aspect,label", [(0.5, 8), (0.3, 1), (0.45, 0)])
def test_a_narrow_digit_scores_higher_for_a_narrow_writer(aspect, label):
    part = number_mod._Part(digit=None, aspect=aspect, label=label, log_confidence=0.0, fixed=0.0)
    assert part.score(0.6) > part.score(1.0)


def _leaning(png: bytes, degrees: float) -> bytes:
    """The image sheared so its writing leans ``degrees`` to the right (tops right of feet)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    w, h = image.size
    t = np.tan(np.radians(degrees))
    pad = int(t * h)
    # Each output pixel takes the input pixel t * (rows above the bottom) to its left.
    sheared = image.transform((w + pad, h), Image.AFFINE, (1, t, -t * h, 0, 1, 0), fillcolor=250)
    buffer = io.BytesIO()
    sheared.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "text,gap,lean",
    [
        (
            "4711",
            -0.05,
            40,
        ),  # touching, leaning 40 degrees: upright, the 1s' feet no longer reach the next digit
        ("1234", -0.05, 40),
        ("2058", 0.1, 35),
    ],
)
def test_a_number_written_leaning_far_reads_as_written(numbers, text, gap, lean):
    """Writing leaning past 25 degrees (MNIST's writers lean up to ~20) is read upright."""
    png = _leaning(write(list(text), gap=gap), lean)
    reading = numbers.read_bytes(png, "leaning")
    assert reading.number == text, reading.to_json()
    width = Image.open(io.BytesIO(png)).size[0]
    lefts = [d.box[0] for d in reading.digits]
    assert lefts == sorted(lefts) and all(
        d.box[0] >= 0 and d.box[0] + d.box[2] <= width + 2 for d in reading.digits
    )


def test_overlapping_digits_are_parted_along_the_least_ink_path(numbers, mnist, monkeypatch):
    """A 2 and a 6 from MNIST's test set, overlapping: read only when the least-ink path parts them."""
    from mnist_edge.preprocess.segmentation import Ink
    from mnist_edge.synthesis import numbers as composed

    rng = np.random.default_rng(125)
    picked = composed.sample_digits(mnist.y_test, 2, rng)
    assert picked == [4506, 8517]  # the draw this case was found with
    line = composed.compose(mnist.x_test[picked], rng, composed.LAYOUTS["touching"])
    png = composed.render(line, rng, "clean")
    assert numbers.read_bytes(png, "overlapping").number == "26"
    monkeypatch.setattr(Ink, "along_path", lambda self, mask: None)
    assert numbers.read_bytes(png, "overlapping").number != "26"


def test_a_doubted_digit_of_a_number_is_read_again_wider_and_says_so(numbers, reader, mnist):
    from mnist_edge.runtime.number import DigitReading
    from mnist_edge.synthesis import augment

    narrow = np.pad(augment.narrowed(mnist.x_test[160], 0.45), 8).astype(np.float32) / 255.0  # a narrow 4
    doubted = reader._read_as_is("", narrow)
    assert doubted.label is None
    digit = DigitReading(None, doubted.confidence, [0, 0, 5, 20], doubted.top_k, doubted.reason, doubted.seen)
    settled = numbers._settled(digit)
    assert settled.label == "4" and settled.reason is None and settled.box == [0, 0, 5, 20]
    assert settled.to_json()["read_at_width"] == settled.width


def test_a_sure_digit_of_a_number_is_left_as_it_is(numbers, reader, mnist):
    from mnist_edge.runtime.number import DigitReading

    sure = reader.read_mnist_form("", mnist.x_test[0])
    digit = DigitReading(sure.label, sure.confidence, [0, 0, 20, 20], sure.top_k, None, sure.seen)
    assert numbers._settled(digit) is digit


def test_a_single_doubted_digit_is_not_read_again_beyond_what_predict_does(reader, mnist, monkeypatch):
    """A number's '?' is read again at other widths; a lone digit stays exactly predict's answer."""
    from mnist_edge.synthesis import augment

    image = np.pad(augment.narrowed(mnist.x_test[160], 0.45), 8).astype(np.float32) / 255.0
    numbers = NumberReader(reader)
    surer = reader.read_mnist_form("", mnist.x_test[0])  # a confident 7, whatever is asked
    monkeypatch.setattr(reader, "read_at_other_widths", lambda _p, _s: surer)
    monkeypatch.setattr(reader, "read_again", lambda _p, _g, doubted: doubted)  # predict keeps its doubt
    single = reader.read_gray("", image)
    number = numbers.read_gray("", image)
    assert single.label is None
    assert number.number == "?" and number.digits[0].label is None

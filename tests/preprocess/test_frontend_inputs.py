"""Every kind of input the front-end must read, with the shipped model (no TensorFlow).

MNIST test digits drawn each way (mnist_edge.synthesis.renderings), read as `predict`
does (front-end, model, "not a digit" threshold); each kind must be read
right at least as often as its floor. The acceptance sets are other people's
handwriting; these floors guard against regressions, on the whole range of
inputs, without tuning to any one of them.
"""

import numpy as np
import pytest

from mnist_edge import runtime
from mnist_edge.preprocess import frontend
from mnist_edge.runtime import reading
from mnist_edge.synthesis import renderings

N = 40

# rendering, its floor (share read right), the sizes it produces
KINDS = [
    ("scan16-tight-light", 0.9),  # a tight crop that the digit fills, light on dark, 16x16
    ("scan16-tight-light-x4", 0.9),
    ("scan16-stretched-onebit", 0.9),  # stretched both ways, one bit: a 1 is a fat bar
    ("scan16-stretched-onebit-dark", 0.9),
    ("scan16-margin-light", 0.9),
    ("scan16-margin-dark", 0.9),  # dark ink on white
    ("lowres8-native", 0.85),  # 8x8
    ("lowres8-tight-light", 0.85),
    ("lowres8-tight-nearest", 0.85),
    ("lowres8-margin-dark", 0.85),
    ("down-up-12", 0.9),
    ("inverted", 0.9),
    ("tight-crop", 0.9),
    ("dilated", 0.9),
    ("eroded", 0.9),
    ("thin-pen", 0.9),
    ("fat-marker", 0.9),
    ("broken", 0.9),
    ("dotted", 0.85),
    ("low-contrast", 0.9),
    ("blurred", 0.9),
    ("jpeg-q20", 0.9),
    ("photo", 0.9),  # squared paper, shadow, uneven light, noise, JPEG
    ("mouse-1px-white-on-black", 0.9),  # a paint program's 1 px lines (all "blank" before)
    ("mouse-1px-black-on-white", 0.9),
]


@pytest.fixture(scope="module")
def reader():
    return reading.Reader(runtime.Predictor(runtime.default_model_path()))


def read_rate(reader, images, labels):
    right = 0
    for image, label in zip(images, labels):
        result = reader.read_gray("x", image.astype(np.float32) / 255.0)
        right += result.label == str(int(label))
    return right / len(labels)


@pytest.mark.parametrize("kind,floor", KINDS, ids=[k for k, _ in KINDS])
def test_each_kind_of_input_is_read(reader, mnist, kind, floor):
    rng = np.random.default_rng([11, len(kind)])
    idx = rng.choice(10000, N, replace=False)
    images = [renderings.RENDERINGS[kind](mnist.x_test[i], rng) for i in idx]
    assert read_rate(reader, images, mnist.y_test[idx]) >= floor


@pytest.mark.parametrize("side", [8, 12, 16, 28, 64, 200, 1000])
def test_any_size_from_8_pixels(reader, mnist, side):
    """The same digits as square scans of every size (dark on white, with a margin)."""
    rng = np.random.default_rng(side)
    idx = rng.choice(10000, 20, replace=False)
    images = []
    for i in idx:
        box = renderings.fit_square(renderings.ink_box(mnist.x_test[i]), max(6, side * 3 // 4))
        page = np.pad(box, (side - box.shape[0]) // 2)
        images.append(renderings.to_u8(1 - page))
    assert read_rate(reader, images, mnist.y_test[idx]) >= 0.85


def test_a_4000_by_3000_page(reader, mnist):
    rng = np.random.default_rng(4)
    images = [renderings.huge_page(mnist.x_test[i], rng) for i in range(3)]
    assert images[0].shape == (3000, 4000)
    assert read_rate(reader, images, mnist.y_test[:3]) == 1.0


def test_mnist_form_is_used_as_is(mnist):
    for image in mnist.x_test[:100]:
        assert np.array_equal(frontend.to_mnist(image.astype(np.float32) / 255), image)


def test_strokes_apart_are_kept_together(reader):
    """A 4 of two separate strokes and a 5 whose bar floats: every stroke is in the 28x28."""
    page = np.full((200, 200), 255, np.uint8)
    page[30:110, 60:72] = 0  # the 4's left stroke...
    page[100:112, 60:150] = 0  # ...its bar...
    page[40:180, 120:132] = 0  # ...and its upright, written apart
    seen = frontend.to_mnist(page.astype(np.float32) / 255)
    assert (seen[:, :10] > 0).any() and (seen[:, 18:] > 0).any()  # both sides kept


@pytest.mark.parametrize("kind", ["letter", "shape", "scribble"])
def test_not_a_digit_is_said(reader, kind):
    from mnist_edge.synthesis import outliers

    rng = np.random.default_rng(8)
    fonts = outliers.find_fonts()
    make = {
        "letter": lambda: outliers.letter(rng, fonts),
        "shape": lambda: outliers.shape(rng),
        "scribble": lambda: outliers.scribble(rng),
    }[kind]
    answers = [reader.read_gray("x", make().astype(np.float32) / 255) for _ in range(30)]
    assert sum(a.label is None for a in answers) >= 0.6 * len(answers)


THIN_STROKES = {  # pad coordinates (0..1); unambiguous forms
    "7": [[(0.25, 0.18), (0.75, 0.18), (0.42, 0.88)]],
    "0": [[(0.5 + 0.25 * np.sin(t), 0.5 - 0.35 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 40)]],
    "2": [[(0.25, 0.3), (0.4, 0.15), (0.65, 0.18), (0.7, 0.35), (0.25, 0.85), (0.75, 0.85)]],
    "4": [[(0.6, 0.85), (0.6, 0.15), (0.2, 0.6), (0.75, 0.6)]],
}


@pytest.mark.parametrize("size", [(120, 160), (280, 280), (28, 28)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("width", [1, 2])
@pytest.mark.parametrize("light_on_dark", [True, False], ids=["white-on-black", "black-on-white"])
def test_a_mouse_drawing_with_one_pixel_strokes_is_read(reader, size, width, light_on_dark):
    """Paint-program canvases: 1-2 px lines were judged 'blank or too faint' (issue 15)."""
    from PIL import Image, ImageDraw

    w, h = size
    for label, strokes in THIN_STROKES.items():
        canvas = Image.new("L", size, 0 if light_on_dark else 255)
        draw = ImageDraw.Draw(canvas)
        for stroke in strokes:
            draw.line([(x * w, y * h) for x, y in stroke], fill=255 if light_on_dark else 0, width=width)
        reading = reader.read_gray(label, np.asarray(canvas, np.float32) / 255)
        assert reading.label == label, (label, reading.reason)

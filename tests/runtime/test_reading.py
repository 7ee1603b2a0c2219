"""Reader (runtime/reading.py): a doubted digit is read again at other widths; a sure one never is."""

import numpy as np
import pytest

from mnist_edge import runtime
from mnist_edge.preprocess import unstretch
from mnist_edge.runtime import reading
from mnist_edge.synthesis import augment, renderings


@pytest.fixture(scope="module")
def reader():
    return reading.Reader(runtime.Predictor(runtime.default_model_path()))


def _stretched(digit, light=True):
    return renderings.scan_stretched(digit, None, 16, light).astype(np.float32) / 255.0


# MNIST test 1s the shipped model doubts once stretched into a 16x16 one-bit frame.
DOUBTED_ONES = [96, 154, 176]  # model-specific: re-pick them when the shipped model changes


@pytest.mark.parametrize("light", [True, False], ids=["light-on-dark", "dark-on-light"])
@pytest.mark.parametrize("index", DOUBTED_ONES)
def test_a_stretched_one_the_model_doubts_is_read_narrower(reader, mnist, index, light):
    image = _stretched(mnist.x_test[index], light)
    assert mnist.y_test[index] == 1
    assert reader._read_as_is("", image).label is None
    result = reader.read_gray("", image)
    assert result.label == "1" and result.confidence >= reading.REREAD_CONFIDENCE
    assert result.width in unstretch.NARROWED_WIDTHS


# MNIST test 1s the shipped model reads, unsure, as another digit once stretched.
UNSURE_ONES = [251, 696, 755]  # model-specific, as DOUBTED_ONES


@pytest.mark.parametrize("index", UNSURE_ONES)
def test_a_stretched_one_read_unsure_as_another_digit_is_read_narrower(reader, mnist, index):
    image = _stretched(mnist.x_test[index])
    as_is = reader._read_as_is("", image)
    assert as_is.label not in (None, "1") and as_is.confidence < reading.REREAD_CONFIDENCE
    result = reader.read_gray("", image)
    assert result.label == "1" and result.width in unstretch.NARROWED_WIDTHS


def test_an_unsure_reading_of_an_ordinary_image_is_not_read_again(reader, mnist, monkeypatch):
    """Only a size-normalised scan's stretch is a reason to doubt an unsure answer."""
    image = mnist.x_test[8].astype(np.float32) / 255.0  # a 5 read unsure (about 0.7) in MNIST's own form
    assert reader._read_as_is("", image).confidence < reading.REREAD_CONFIDENCE
    monkeypatch.setattr(reader, "read_again", lambda *a: pytest.fail("read again"))
    assert reader.read_gray("", image).label == "5"


def test_a_confident_reading_is_not_read_again(reader, mnist, monkeypatch):
    image = _stretched(mnist.x_test[0])  # a 7 read as is
    monkeypatch.setattr(unstretch, "narrowed_images", lambda _g: pytest.fail("read again"))
    assert reader.read_gray("", image).label == "7"


def test_a_doubted_grey_image_keeps_its_doubt(reader):
    garment = np.tile(np.linspace(0.2, 0.9, 28, dtype=np.float32), (28, 1))  # grey, fills its frame
    garment[4:24, 6:22] = 0.05
    result = reader.read_gray("", garment)
    assert unstretch.narrowed_images(garment) == []
    assert result.label is None


def test_a_reading_again_below_the_bar_leaves_the_doubt(reader, mnist, monkeypatch):
    monkeypatch.setattr(reading, "REREAD_CONFIDENCE", 1.01)
    result = reader.read_gray("", _stretched(mnist.x_test[DOUBTED_ONES[0]]))
    assert result.label is None and result.reason


# MNIST test digits (index, label) the shipped model doubts once written at 0.45 of their width.
DOUBTED_NARROW = [(62, 9), (66, 6), (160, 4)]  # model-specific, as DOUBTED_ONES


@pytest.mark.parametrize("index, label", DOUBTED_NARROW)
def test_a_narrow_digit_the_model_doubts_is_read_wider(reader, mnist, index, label):
    image = np.pad(augment.narrowed(mnist.x_test[index], 0.45), 8).astype(np.float32) / 255.0
    assert mnist.y_test[index] == label
    assert reader._read_as_is("", image).label is None
    result = reader.read_gray("", image)
    assert result.label == str(label) and result.confidence >= reading.REREAD_CONFIDENCE
    assert result.width in reading.WIDER


def test_an_answer_read_at_another_width_says_so(reader, mnist):
    image = np.pad(augment.narrowed(mnist.x_test[160], 0.45), 8).astype(np.float32) / 255.0
    result = reader.read_gray("four.png", image)
    assert result.to_json()["read_at_width"] == result.width
    assert result.to_line().endswith(f"(read at {result.width:g}x its width)")


def test_an_answer_read_as_it_was_says_nothing_of_widths(reader, mnist):
    result = reader.read_gray("seven.png", mnist.x_test[0].astype(np.float32) / 255.0)
    assert result.width is None and "read_at_width" not in result.to_json()
    assert "its width" not in result.to_line()

"""The stroke-drawn digit forms MNIST lacks (synthesis/glyphs.py), checked by a model never trained on them.

The shipped model trains on these forms (``train --styles``), so it cannot
vouch for them: the check uses the small CNN fixture, trained on MNIST
alone. The forms MNIST's writers (almost) never used (the flagged 1s, the
g-like 9) it cannot read; those are checked by eye in docs/glyph_forms.png
(``python scripts/glyph_gallery.py``), listed in HUMAN_CHECKED.
"""

import io

import numpy as np
import pytest
from helpers import FIXTURES
from PIL import Image

from mnist_edge.runtime import Predictor
from mnist_edge.runtime.reading import Reader
from mnist_edge.synthesis import glyphs

# a long flag, a flag and a foot, a 9 like a g (read as 8 or 3 by MNIST alone): see docs/glyph_forms.png
HUMAN_CHECKED = {("1", 0), ("1", 1), ("9", 4)}
FORMS = [(label, k) for label, forms in glyphs.FORMS.items() for k in range(len(forms))]
MODEL_CHECKED = [form for form in FORMS if form not in HUMAN_CHECKED]


@pytest.fixture(scope="module")
def reader():
    return Reader(Predictor(FIXTURES / "mnist_cnn_int8.tflite"), min_confidence=0)


@pytest.mark.parametrize("label,form", MODEL_CHECKED, ids=[f"{label}-form{k}" for label, k in MODEL_CHECKED])
def test_every_form_is_a_legible_digit_of_its_label(reader, label, form):
    """A model trained on MNIST alone reads each form as its label some of the time."""
    rng = np.random.default_rng(3)
    right = sum(reader.read_bytes(glyphs.render(label, rng, form=form)).label == label for _ in range(12))
    assert right >= 2, f"{label} form {form}: read right {right}/12"


@pytest.mark.parametrize("pen", glyphs.PENS)
def test_each_pen_draws_a_grey_image_with_ink(pen):
    image = np.asarray(Image.open(io.BytesIO(glyphs.render("4", np.random.default_rng(0), pen=pen))))
    assert image.ndim == 2 and image.max() - image.min() > 100


def test_the_same_seed_draws_the_same_set(tmp_path):
    assert glyphs.write_set(tmp_path / "a", 2, seed=7) == glyphs.write_set(tmp_path / "b", 2, seed=7) == 20
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_the_human_checked_forms_exist():
    """Their gallery, docs/glyph_forms.png, is checked by tests/test_readme.py (docs/ is not here)."""
    assert all(k < len(glyphs.FORMS[label]) for label, k in HUMAN_CHECKED)


def test_the_mnist_form_of_a_glyph_is_in_mnist_form():
    from mnist_edge.preprocess import is_mnist_form

    digit = glyphs.mnist_form("4", np.random.default_rng(0), form=1)
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert is_mnist_form(digit.astype(np.float32) / 255)


def test_held_out_forms_are_not_training_forms():
    for label, forms in glyphs.HELD_OUT_FORMS.items():
        assert all(form not in glyphs.FORMS[label] for form in forms)


def test_render_draws_a_held_out_form_when_asked():
    a = glyphs.render("0", np.random.default_rng(5), held_out=True)
    b = glyphs.render("0", np.random.default_rng(5), form=0)
    assert a != b

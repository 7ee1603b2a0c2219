"""The stroke-drawn digit forms MNIST lacks (synthesis/glyphs.py), checked by the model itself."""

import io

import numpy as np
import pytest
from PIL import Image

from mnist_edge.runtime import Predictor, default_model_path
from mnist_edge.runtime.reading import Reader
from mnist_edge.synthesis import glyphs

FORMS = [(label, k) for label, forms in glyphs.FORMS.items() for k in range(len(forms))]


@pytest.fixture(scope="module")
def reader():
    return Reader(Predictor(default_model_path()), min_confidence=0)


@pytest.mark.parametrize("label,form", FORMS, ids=[f"{label}-form{k}" for label, k in FORMS])
def test_every_form_is_a_legible_digit_of_its_label(reader, label, form):
    """The default model never trained on these forms; each is still read as its label some of the time."""
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

"""The data every trial shares: a seeded split that never touches the test set, and the user's images."""

import numpy as np
import pytest
from PIL import Image

from mnist_edge.errors import DataError, InputError
from mnist_edge.search.data import MIN_TRAIN, MIN_VALIDATION, split, user_images

LABELS = np.arange(2000) % 10


def test_the_split_is_disjoint_balanced_and_seeded():
    train, val = split(LABELS, 500, None, seed=0)
    assert len(val) == 500 and len(train) == 1500 and not set(train) & set(val)
    assert np.bincount(LABELS[val]).tolist() == [50] * 10
    assert np.array_equal(split(LABELS, 500, None, seed=0)[1], val)
    assert not np.array_equal(split(LABELS, 500, None, seed=1)[1], val)


def test_the_train_limit_takes_a_balanced_part_of_the_rest():
    train, val = split(LABELS, 500, 600, seed=0)
    assert (
        len(train) == 600 and np.bincount(LABELS[train]).tolist() == [60] * 10 and not set(train) & set(val)
    )


@pytest.mark.parametrize("validation,limit", [(MIN_VALIDATION - 1, None), (500, MIN_TRAIN - 1)])
def test_too_few_digits_for_either_part_is_one_line(validation, limit):
    with pytest.raises(InputError, match="a search needs at least"):
        split(LABELS, validation, limit, seed=0)


def digit_folder(tmp_path, counts):
    for label, n in counts.items():
        for k in range(n):
            img = np.zeros((28, 28), np.uint8)
            img[6:22, 12 + k % 3 : 15 + k % 3] = 255
            Image.fromarray(img).save(tmp_path / f"{k}_{label}.png")
    return tmp_path


@pytest.mark.parametrize(
    "counts,message",
    [
        ({1: 3, 7: 3}, "6 readable labelled images; a search needs at least 10"),
        ({1: 9, 7: 1}, "class 7 has only one image"),
    ],
)
def test_too_few_images_say_what_train_images_says(tmp_path, counts, message):
    with pytest.raises(DataError, match=message):
        user_images(digit_folder(tmp_path, counts))


def test_the_users_images_arrive_in_mnist_form(tmp_path):
    x, y = user_images(digit_folder(tmp_path, {1: 6, 7: 6}))
    assert x.shape == (12, 28, 28) and x.dtype == np.uint8 and sorted(set(y.tolist())) == [1, 7]

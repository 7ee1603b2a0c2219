"""Videos of digits for watch's tests (written once per session with PyAV)."""

import numpy as np
import pytest
from helpers import require_extra


def clear_digit(mnist, label):
    """The first MNIST test digit of ``label`` the shipped model reads at 0.99 or more."""
    from mnist_edge.runtime import Predictor, default_model_path

    predictor = Predictor(default_model_path())
    for index in np.flatnonzero(mnist.y_test == label):
        if predictor.predict(mnist.x_test[index]).confidence > 0.99:
            return mnist.x_test[index]
    raise AssertionError(f"no clear {label}")


@pytest.fixture(scope="session")
def scenes(mnist):
    """A 3, a 7, an empty sheet, then 42, as (digits, seconds) scenes."""
    d = {k: clear_digit(mnist, k) for k in (2, 3, 4, 7)}
    return [([d[3]], 1.5), ([d[7]], 1.5), (None, 1.0), ([d[4], d[2]], 1.5)]


@pytest.fixture(scope="session")
def digit_video(tmp_path_factory, scenes):
    require_extra("av", "watch")
    from mnist_edge.synthesis import video

    return video.write(tmp_path_factory.mktemp("video") / "digits.mp4", scenes, fps=10)


@pytest.fixture(scope="session")
def seven_page(mnist):
    """A frame: a clear 7 on a light page, 640x480 uint8."""
    require_extra("av", "watch")
    from mnist_edge.synthesis import video

    return video.page([clear_digit(mnist, 7)]).astype(np.uint8)


@pytest.fixture(scope="session")
def three_page(mnist):
    """A frame: a clear 3 on a light page, 640x480 uint8."""
    require_extra("av", "watch")
    from mnist_edge.synthesis import video

    return video.page([clear_digit(mnist, 3)]).astype(np.uint8)

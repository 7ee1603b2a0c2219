"""The front-end's array helpers that stand in for slower numpy/Pillow calls: same answers, any data."""

import numpy as np
import pytest
from PIL import Image, ImageFilter

from mnist_edge.preprocess import morphology

RNG_SEED = 7


def values_of(kind: str, n: int) -> np.ndarray:
    rng = np.random.default_rng(RNG_SEED)
    v = rng.random(n).astype(np.float32)
    if kind == "mostly zeros":  # a clean video frame's second differences
        v[rng.random(n) < 0.6] = 0.0
    elif kind == "zeros and dust":  # exact ties next to rounding noise
        v[rng.random(n) < 0.6] = 0.0
        dust = rng.random(n) < 0.2
        v[dust] = 1e-7 * rng.random(int(dust.sum()))
    elif kind == "few levels":
        v = np.round(v * 10) / 10
    elif kind == "negative and wide":
        v = (rng.standard_normal(n) * 50).astype(np.float32)
    elif kind == "constant":
        v[:] = 0.25
    return v


KINDS = ["uniform", "mostly zeros", "zeros and dust", "few levels", "negative and wide", "constant"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [10, 5000, 110_000])
def test_quantiles_are_the_elements_of_rank_q_n(kind, n):
    values = values_of(kind, n)
    qs = (0.0, 0.002, 0.3, 0.5, 0.75, 0.998, 1.0)
    ordered = np.sort(values)
    expected = tuple(float(ordered[min(n - 1, int(q * n))]) for q in qs)
    assert morphology.quantiles(values, qs) == expected


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_quantiles_with_non_finite_values_match_sorting(bad):
    values = values_of("uniform", 6000)
    values[17] = bad
    ordered = np.sort(values)
    assert morphology.quantile(values, 0.5) == float(ordered[3000])


@pytest.mark.parametrize(
    "name, values, lo, hi",
    [
        ("unit range", values_of("uniform", 20_000), 0.0, 1.0),
        ("own range", values_of("negative and wide", 20_000), -200.0, 200.0),
        ("values outside left out", values_of("negative and wide", 20_000), -10.0, 10.0),
        ("the top edge counts", np.array([0.0, 0.5, 1.0], np.float32), 0.0, 1.0),
        ("empty", np.zeros(0, np.float32), 0.0, 1.0),
        ("one value", np.full(9, 0.3, np.float32), 0.3, 0.3),
    ],
)
def test_histogram_counts_as_numpy_does(name, values, lo, hi):
    counts, edges = morphology.histogram(values, 64, lo, hi)
    expected, expected_edges = np.histogram(values, bins=64, range=(lo, hi))
    assert int(np.abs(counts - expected).sum()) <= 2  # a value on an edge may fall either side
    assert counts.sum() == expected.sum()
    np.testing.assert_allclose(edges, expected_edges)


def smooth_page(stroke: bool = True, h: int = 72, w: int = 96) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    page = 0.6 + 0.3 * np.sin(xx / 30.0) * np.cos(yy / 25.0)
    if stroke:
        page[30:34, 20:70] -= 0.4  # narrower than the window
    return page.astype(np.float32)


def test_coarse_median_follows_the_full_median_on_a_smooth_background():
    page = smooth_page(stroke=False)
    full = np.asarray(Image.fromarray(page, mode="F").filter(ImageFilter.MedianFilter(9)), np.float32)
    coarse = morphology.coarse_median(page, 9, 3)
    assert coarse.shape == page.shape
    # the last pixels past the last window centre keep its value: slightly off on a slope
    assert float(np.abs(coarse - full).max()) < 0.04
    assert float(np.abs(coarse - full)[:-2, :-2].max()) < 0.005


def test_coarse_median_removes_a_stroke_narrower_than_its_window():
    with_stroke = morphology.coarse_median(smooth_page(stroke=True), 9, 3)
    without = morphology.coarse_median(smooth_page(stroke=False), 9, 3)
    assert float(np.abs(with_stroke - without).max()) < 0.05  # the stroke is 0.4 deep


@pytest.mark.parametrize("spread", [1e-45, 1e-38, 3e38])  # a denormal, a tiny and a huge range of values
def test_quantiles_of_extreme_spreads_match_sorting(spread):
    values = np.zeros(5000, np.float32)
    values[::7] = np.float32(spread)
    values[::11] = -np.float32(spread)
    ordered = np.sort(values)
    assert morphology.quantiles(values, (0.002, 0.5, 0.998)) == tuple(
        float(ordered[int(q * 5000)]) for q in (0.002, 0.5, 0.998)
    )

"""Which fonts "not a digit" is taught with (synthesis/outliers.py): never the held-out writers'."""

import pytest

from mnist_edge.synthesis import outliers

FONTS = [
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", True),
    ("/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf", True),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", False),  # the held-out family
    ("/usr/share/fonts/truetype/breip/Breip.ttf", False),  # a handwriting font: another writer
    ("/usr/share/fonts/opentype/bwht/BecauseWeBuild-Regular.otf", False),
    ("/usr/share/fonts/truetype/yusei-magic/YuseiMagic-Regular.ttf", False),
    ("/usr/share/fonts/truetype/breipish/Other.ttf", True),  # a folder that only begins alike
]


@pytest.mark.parametrize("path,trained", FONTS, ids=[p.rsplit("/", 2)[-2] + "-" + str(t) for p, t in FONTS])
def test_training_draws_letters_only_from_fonts_no_benchmark_holds_out(monkeypatch, path, trained):
    monkeypatch.setattr(outliers, "find_fonts", lambda: [f for f, _ in FONTS])
    assert (path in outliers.training_fonts()) == trained


def test_the_handwriting_benchmark_reads_the_fonts_training_leaves_out():
    assert all(outliers.is_handwriting_font(f) for f in outliers.handwriting_fonts())
    assert not set(outliers.handwriting_fonts()) & set(outliers.training_fonts())

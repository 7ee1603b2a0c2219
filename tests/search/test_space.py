"""The search space: defaults, --space files (checked before Ray or TensorFlow start), descriptions."""

import json

import pytest

from mnist_edge.errors import InputError
from mnist_edge.search.space import DEFAULT_SPACE, describe, load_space, size_of


def write(tmp_path, doc):
    path = tmp_path / "space.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_no_file_gives_the_default_space_as_a_copy():
    space = load_space()
    space["width"].append(999)
    assert load_space() == DEFAULT_SPACE


def test_a_file_replaces_only_the_entries_it_names(tmp_path):
    space = load_space(write(tmp_path, {"width": [8, 16], "epochs": [4]}))
    assert space["width"] == [8, 16] and space["epochs"] == [4]
    assert space["kernel"] == DEFAULT_SPACE["kernel"]


@pytest.mark.parametrize(
    "doc,message",
    [
        ("{not json", "cannot read the search space"),
        ("[1, 2]", "a search space is a JSON object"),
        ({"depth": [2]}, "unknown entry 'depth'"),
        ({"width": []}, "non-empty list"),
        ({"width": 8}, "non-empty list"),
        ({"width": [8.5]}, "'width' values must be ints"),
        ({"width": [0]}, "'width' values must be ints in [1, 256]"),
        ({"stages": [True]}, "'stages' values must be ints"),
        ({"pool": ["median"]}, "'pool' may hold max, avg"),
        ({"recipe": ["int4"]}, "'recipe' may hold int8, int16x8"),
    ],
    ids=[
        "bad json",
        "not an object",
        "unknown entry",
        "empty",
        "not a list",
        "fraction",
        "zero",
        "bool",
        "unknown pool",
        "recipe TFLM cannot run",
    ],
)
def test_a_bad_space_file_is_one_line(tmp_path, doc, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")) as error:
        load_space(write(tmp_path, doc))
    assert "\n" not in str(error.value)


def test_whole_numbers_given_as_floats_become_ints(tmp_path):
    assert load_space(write(tmp_path, {"epochs": [3.0]}))["epochs"] == [3]


def test_the_size_counts_distinct_members():
    space = {name: [values[0]] for name, values in DEFAULT_SPACE.items()}
    assert size_of(space) == 1
    space["width"] = [4, 8, 8]
    assert size_of(space) == 2


def test_a_member_is_described_in_one_short_line():
    member = {name: values[0] for name, values in DEFAULT_SPACE.items()}
    assert describe(member) == "2x1 w4 g1 k3 max gap d0 a0 e3 int8"


def test_starting_points_are_members_of_the_default_space_and_left_out_of_a_narrow_one(tmp_path):
    from mnist_edge.search.space import STARTING_POINTS, starting_points

    assert starting_points(load_space()) == list(STARTING_POINTS)
    assert all(set(p) == set(DEFAULT_SPACE) for p in STARTING_POINTS)
    assert starting_points(load_space(write(tmp_path, {"width": [4]}))) == []

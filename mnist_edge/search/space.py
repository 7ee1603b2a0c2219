"""The search space: every choice ``mnist-edge search`` may make, as named lists.

:data:`DEFAULT_SPACE` spans the device CNN family (:mod:`mnist_edge.search.family`),
augmentation strength, epochs and the export recipe. ``--space FILE.json``
narrows or widens any entry (``{"width": [8, 16], "epochs": [4]}``); the rest
keep their defaults. Standard library only: the CLI checks a space file
before Ray or TensorFlow start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

from mnist_edge.errors import InputError

DEFAULT_SPACE: Dict[str, List] = {
    "stages": [2, 3],  # convolution stages, a pooling between them (one stage sees 5 px at most)
    "convs": [1, 2],  # convolutions per stage
    "width": [4, 8, 12, 16, 24, 32],  # filters of the first stage
    "growth": [1.0, 1.5, 2.0],  # filters grow by this per stage
    "kernel": [3, 5],
    "pool": ["max", "avg"],
    "head": ["gap", "flatten"],  # global average pooling, or pool + flatten
    "dense": [0, 16, 32, 64],  # a hidden dense layer before the softmax (0: none)
    "augment": [0.0, 0.5, 1.0],  # training-only rotation/shift/zoom, times the tiny model's
    "epochs": [3, 6, 10],
    "recipe": ["int8", "int16x8"],  # both run on TFLM; int16x8: 16-bit activations
}
# Members tried first (where the space holds them), so that 16 trials do not start blind:
# the shape of `train --arch tiny` (99.1 % at 30 epochs, 15 KB), and two small flatten-head CNNs.
_SMALL_FLATTEN = {
    "stages": 2,
    "convs": 1,
    "width": 8,
    "growth": 2.0,
    "kernel": 3,
    "pool": "max",
    "head": "flatten",
    "dense": 0,
    "augment": 0.5,
    "epochs": 6,
    "recipe": "int8",
}
STARTING_POINTS = (
    dict(_SMALL_FLATTEN, convs=2, width=12, epochs=10),
    dict(_SMALL_FLATTEN, stages=3, convs=2, head="gap", epochs=10),  # the tiny model's shape
    _SMALL_FLATTEN,
)
# What each entry's values must be, so a space file fails on one line, not in a trial.
_KINDS = {
    "stages": (int, 1, 4),
    "convs": (int, 1, 3),
    "width": (int, 1, 256),
    "growth": (float, 0.25, 4.0),
    "kernel": (int, 1, 7),
    "dense": (int, 0, 1024),
    "augment": (float, 0.0, 3.0),
    "epochs": (int, 1, 200),
}
_WORDS = {"pool": ("max", "avg"), "head": ("gap", "flatten"), "recipe": ("int8", "int16x8")}


def _check_entry(name: str, values, where: str) -> List:
    if not isinstance(values, list) or not values:
        raise InputError(f"{where}: {name!r} must be a non-empty list of choices")
    if name in _WORDS:
        bad = [v for v in values if v not in _WORDS[name]]
        if bad:
            raise InputError(f"{where}: {name!r} may hold {', '.join(_WORDS[name])}, not {bad[0]!r}")
        return values
    kind, low, high = _KINDS[name]
    for value in values:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or (kind is int and value != int(value)) or not low <= value <= high:
            raise InputError(
                f"{where}: {name!r} values must be {kind.__name__}s in [{low}, {high}], not {value!r}"
            )
    return [kind(v) for v in values]


def load_space(path=None) -> Dict[str, List]:
    """The default space, with the entries of a JSON file replacing their defaults.

    Raises:
        InputError: the file cannot be read, is not a JSON object, names an
            unknown entry or holds a value that entry cannot take.
    """
    space = {name: list(values) for name, values in DEFAULT_SPACE.items()}
    if path is None:
        return space
    where = str(path)
    try:
        given = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{where}: cannot read the search space ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(given, dict):
        raise InputError(f'{where}: a search space is a JSON object of lists, e.g. {{"width": [8, 16]}}')
    unknown = sorted(set(given) - set(space))
    if unknown:
        raise InputError(f"{where}: unknown entry {unknown[0]!r}; the space has {', '.join(space)}")
    for name, values in given.items():
        space[name] = _check_entry(name, values, where)
    return space


def starting_points(space: Dict[str, List]) -> List[Dict]:
    """The :data:`STARTING_POINTS` the space holds (each of their values among its choices)."""
    return [dict(p) for p in STARTING_POINTS if all(p[name] in values for name, values in space.items())]


def size_of(space: Dict[str, List]) -> int:
    """How many distinct members the space holds."""
    count = 1
    for values in space.values():
        count *= len(set(map(str, values)))
    return count


def describe(member: Dict) -> str:
    """A member in one short word group, e.g. ``3x2 w8 g2 k3 max gap d0 a0.5 e6 int8``."""
    return (
        f"{member['stages']}x{member['convs']} w{member['width']} g{member['growth']:g} k{member['kernel']} "
        f"{member['pool']} {member['head']} d{member['dense']} a{member['augment']:g} e{member['epochs']} "
        f"{member['recipe']}"
    )

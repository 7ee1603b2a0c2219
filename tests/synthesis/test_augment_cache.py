"""The rendered-set cache's code digest (synthesis/augment.py): code changes count, documentation does not."""

import pytest

from mnist_edge.synthesis import augment

BASE = '''"""Module doc."""


def draw(x):
    """Draw x."""
    return x + 1
'''

CASES = [
    ("docstring reworded", BASE.replace("Draw x.", "Draw x, twice as clearly."), True),
    ("module docstring reworded", BASE.replace("Module doc.", "Another module doc."), True),
    ("comment added", BASE.replace("    return x + 1", "    # why\n    return x + 1"), True),
    ("code changed", BASE.replace("x + 1", "x + 2"), False),
    ("string constant changed", BASE.replace("return x + 1", 'return x + "1"'), False),
]


@pytest.mark.parametrize("what, changed, same", CASES, ids=[c[0] for c in CASES])
def test_digest_ignores_documentation_but_not_code(what, changed, same):
    assert (augment._code_without_docstrings(BASE) == augment._code_without_docstrings(changed)) is same


def test_a_function_that_is_only_a_docstring_still_counts():
    only_doc = 'def f():\n    """Nothing."""\n'
    assert augment._code_without_docstrings(only_doc) != augment._code_without_docstrings("")

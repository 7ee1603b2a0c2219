"""The package's shape: no import cycle, device side apart from build side, __init__ only re-exports."""

import ast
from pathlib import Path

import pytest

import mnist_edge

# The package as imported: the source tree here, the installed copy in CI's runtime-only venv.
PACKAGE = Path(mnist_edge.__file__).resolve().parent
DEVICE_SIDE = ("runtime", "preprocess", "serve", "watch", "evaluation", "bench", "data", "cli")
BUILD_SIDE = ("training", "export", "synthesis", "search")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(path: Path, top_level_only: bool = False) -> set:
    """The mnist_edge modules ``path`` imports (inside functions too unless ``top_level_only``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]  # fmt: skip
        else:
            continue
        found |= {n for n in names if n in MODULES}
    return found


GRAPH = {name: imported(path) - {name} for name, path in MODULES.items()}


def find_cycle(graph: dict):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_there_is_no_import_cycle_even_through_imports_inside_functions():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH))


@pytest.mark.parametrize(
    "graph,cycle",
    [({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]), ({"a": {"b"}, "b": {"c"}, "c": set()}, None)],
    ids=["two modules", "a chain"],
)
def test_the_cycle_finder_finds_cycles(graph, cycle):
    assert find_cycle(graph) == cycle


def side(name: str) -> str:
    part = name.split(".")[1] if "." in name else ""
    return "build" if part in BUILD_SIDE else "device"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if side(n) == "device" and ".cli" not in n))
def test_the_device_side_never_imports_the_build_side_at_module_level(name):
    """Device modules may reach TensorFlow's side only inside a function (a .keras given on purpose)."""
    build = sorted(m for m in imported(MODULES[name], top_level_only=True) if side(m) == "build")
    assert not build, build


@pytest.mark.parametrize("name", sorted(n for n, p in MODULES.items() if p.name == "__init__.py"))
def test_package_inits_only_re_export(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    logic = [
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        and name != "mnist_edge.cli"
    ]
    assert not logic, f"{name} defines {logic}: put them in a module and re-export them"

"""The README's command lines, run as a user would type them (the Pi install line, the Quickstart)."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_edge.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"## {title}")
    return README[start : README.index("\n## ", start + 3)]


def pip_install_lines() -> list:
    return [
        line.strip()
        for line in README.splitlines()
        if re.match(r"\s*(~/mnist-edge/bin/)?pip install .*\.whl", line)
    ]


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


@pytest.mark.slow
@pytest.mark.parametrize("line", pip_install_lines())
def test_the_readmes_wheel_install_lines_work_as_written(wheel_dir, line):
    """The quotes once stopped the glob: 'mnist_edge-*.whl[runtime,serve]' is not a wheel name."""
    command = line.split("#", 1)[0].strip()
    pip = f"{shlex.quote(sys.executable)} -m pip install --dry-run --no-deps --no-index"
    command = re.sub(r"^(~/mnist-edge/bin/)?pip install", pip, command)
    result = subprocess.run(
        ["bash", "-c", command], cwd=wheel_dir, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (command, result.stderr[-1500:])
    assert "Would install mnist-edge" in result.stdout, result.stdout


def test_the_readme_has_a_wheel_install_line():
    assert len(pip_install_lines()) >= 2  # the Pi section and serve


def quickstart_commands() -> list:
    block = section("Quickstart").split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].split() for line in block.splitlines() if line.startswith("mnist-edge ")]


@pytest.mark.parametrize("words", quickstart_commands(), ids=lambda w: " ".join(w[1:3]))
def test_every_quickstart_command_exists_with_its_options(runner, words):
    options = [w for w in words[1:] if w.startswith("--")]
    subcommand = [w for w in words[1:3] if not w.startswith("-") and not w.startswith(("out/", "models/"))]
    result = runner.invoke(main, [*subcommand, "--help"])
    assert result.exit_code == 0, (words, result.output)
    for option in options:
        assert option in result.output, (words, option)


def test_the_quickstart_activates_the_venv_before_typing_mnist_edge():
    block = section("Quickstart")
    assert block.index("source .venv/bin/activate") < block.index("\nmnist-edge predict")


def test_the_readmes_exit_code_table_lists_every_code():
    from mnist_edge.errors import EXIT_CODES

    rows = {int(m.group(1)) for m in re.finditer(r"^\| (\d+) \|", section("Quickstart"), flags=re.M)}
    assert rows == set(EXIT_CODES)


@pytest.mark.slow
def test_build_wheel_says_only_what_it_built(tmp_path):
    """build's own chatter (~300 lines) stays in its log unless the build fails."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_wheel.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith("dist/mnist_edge-") and result.stdout.strip().endswith(".whl")
    assert len(result.stderr.splitlines()) <= 2, result.stderr


def test_the_glyph_gallery_the_form_tests_rely_on_is_committed():
    """tests/synthesis/test_glyphs.py leaves the flagged 1s to this human-checked gallery."""
    assert (ROOT / "docs" / "glyph_forms.png").is_file()

"""Light paths stay light: checked in a fresh interpreter, as click's own tests do."""

import subprocess
import sys

from helpers import heavy, modules_after


def test_help_does_not_import_tensorflow():
    code = (
        "from click.testing import CliRunner\nfrom mnist_edge.cli import main\n"
        "r = CliRunner().invoke(main, ['--help'])\nassert r.exit_code == 0, r.output\n"
        "for verb in ('train', 'eval'):\n    assert verb in r.output, verb\n"
    )
    assert heavy(modules_after(code)) == []


def test_data_module_is_numpy_only():
    assert heavy(modules_after("import mnist_edge.data")) == []


def test_python_dash_m_matches_console_script():
    out = subprocess.run([sys.executable, "-m", "mnist_edge", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "Usage: mnist-edge" in out.stdout


def test_search_help_imports_neither_ray_nor_tensorflow():
    code = (
        "from click.testing import CliRunner\nfrom mnist_edge.cli import main\n"
        "r = CliRunner().invoke(main, ['search', '--help'])\nassert r.exit_code == 0, r.output\n"
        "assert '--ray-address' in r.output and '--max-arena-kb' in r.output, r.output\n"
    )
    assert heavy(modules_after(code)) == []

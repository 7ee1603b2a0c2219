"""Helpers shared by every report: figures written atomically, library versions."""

from __future__ import annotations

import io
import platform
import sys
from pathlib import Path
from typing import Dict

import numpy as np

from mnist_edge import fsutil


def library_versions() -> Dict[str, str]:
    """Versions of the libraries that decide the numbers (those already imported)."""
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("tensorflow", "keras"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "unknown")
    return versions


def save_figure(fig, path: Path) -> Path:
    """Writes a matplotlib figure as PNG atomically and closes it.

    Args:
        fig: the figure.
        path: the destination.

    Returns:
        The path written.
    """
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    fsutil.write_bytes_atomic(path, buffer.getvalue())
    return Path(path)

"""The int8 per-layer error report (``export --debug``), via TensorFlow's QuantizationDebugger."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import List

import numpy as np

from mnist_edge import fsutil
from mnist_edge.evaluation.reporting import save_figure
from mnist_edge.export.recipes import layer_errors


def quantization_debug_report(concrete, calibration: np.ndarray, out_dir: Path, stem: str) -> List[Path]:
    """Per-layer int8 error report via ``tf.lite.experimental.QuantizationDebugger``.

    Writes ``<stem>_debug.csv`` (one row per quantised tensor: op, tensor,
    scale, zero point, RMSE, max abs error, RMSE/scale) and ``<stem>_debug.png``
    (RMSE / scale per layer: values well above ~0.3 mean the layer loses more
    than rounding alone would).

    Args:
        concrete: the frozen concrete function.
        calibration: the calibration images (also the debug dataset).
        out_dir: destination folder.
        stem: file stem.

    Returns:
        The CSV and PNG paths.
    """

    rows = layer_errors(concrete, calibration)
    fields = list(rows[0].keys()) if rows else ["op_name", "tensor_name", "rmse", "rmse_over_scale"]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    csv_path = fsutil.write_bytes_atomic(out_dir / f"{stem}_debug.csv", text.getvalue().encode())

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"{r.get('op_name', '?')}\ntensor {r.get('tensor_idx', '?').split('.')[0]}" for r in rows]
    values = [float(r["rmse_over_scale"]) for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(rows)), 4.5))
    ax.bar(range(len(rows)), values, color="tab:orange")
    ax.axhline(1 / np.sqrt(12), color="grey", linestyle="--", label="pure rounding (1/sqrt(12))")
    ax.set_xticks(range(len(rows)), names, fontsize=7)
    ax.set_ylabel("RMSE / scale")
    ax.set_title(f"{stem}: int8 quantisation error per layer")
    ax.legend()
    return [csv_path, save_figure(fig, out_dir / f"{stem}_debug.png")]

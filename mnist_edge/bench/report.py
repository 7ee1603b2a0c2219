"""Rendering bench results: the summary table and the Markdown report with figures."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np

from mnist_edge import fsutil
from mnist_edge.evaluation.reporting import save_figure


def _model_name(m: dict) -> str:
    """The file's stem (the format alone does not tell two int8 models apart), at most 23 characters."""
    name = Path(m["path"]).stem
    return name if len(name) <= 23 else name[:22] + "…"


def format_table(result: dict) -> str:
    """The summary table: model, format, size, accuracy, agreement, p50/p99 µs, images/s, speed-up."""
    models = result["models"]
    keras = next((m for m in models if m.get("format") == "keras"), None)
    head = (
        f"{'model':<24}{'format':<9}{'size KB':>9}{'accuracy':>10}{'agreement':>11}{'max|dp|':>9}"
        f"{'init ms':>9}{'p50 µs':>9}{'p99 µs':>9}{'invoke p50':>11}{'images/s':>10}"
        f"{'vs Keras':>9}"
    )
    lines = [head, "-" * len(head)]
    for m in models:
        if "error" in m:  # its one mention; the command's closing error line counts the failures
            lines.append(f"{Path(m['path']).name:<33}  error: {m['error']}")
            continue
        speedup = (
            f"{keras['latency_us']['p50'] / m['latency_us']['p50']:.1f}x"
            if keras and m is not keras
            else ("1.0x" if keras else "-")
        )
        invoke = f"{m['invoke_latency_us']['p50']:.2f}" if m.get("invoke_latency_us") else "-"
        agreement = "-" if m.get("agreement") is None else f"{m['agreement']:.4f}"
        max_dp = "-" if m.get("max_abs_diff") is None else f"{m['max_abs_diff']:.4f}"
        init = "-" if m.get("init_ms") is None else f"{m['init_ms']:.1f}"
        lines.append(
            f"{_model_name(m):<24}{m['format']:<9}{m['size_bytes'] / 1024:9.1f}{m['accuracy']:10.4f}"
            f"{agreement:>11}{max_dp:>9}{init:>9}{m['latency_us']['p50']:9.2f}"
            f"{m['latency_us']['p99']:9.2f}{invoke:>11}{m['throughput_ips']:10.0f}{speedup:>9}"
        )
    if all("error" in m for m in models):
        return "\n".join(lines[2:])  # no measurement: no header, no footer about windows
    env = result["environment"]
    lines.append(
        f"single image, end to end (uint8 pixels in, label out), {env['threads'][0]} thread(s), "
        f"XNNPACK; p50 = least-disturbed of {_windows(models)} interleaved windows over >= 2 s"
        f"{'; Keras p50 is model(x)' if keras else ''}. {env['cpu']}, {env['interpreter']} "
        f"{env['interpreter_version']}"
    )
    parity_from = sorted({m.get("reference") for m in models if m.get("reference")})
    if parity_from:
        lines.append("agreement and max|dp| against: " + ", ".join(parity_from))
    if env.get("emulated"):
        lines.append(
            f"EMULATED ({env['emulated']}): these timings are not the device's; accuracy and agreement are."
        )
    return "\n".join(lines)


def _windows(models) -> int:
    return max([(m.get("latency_us") or {}).get("windows", 0) for m in models if "error" not in m] or [0])


def _sweep_table(result: dict) -> List[str]:
    md = [
        "| format | threads | XNNPACK | e2e p50 µs | invoke p50 µs | first µs | images/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in result["models"]:
        for row in m.get("sweep", []):
            md.append(
                f"| {m['format']} | {row['threads']} | {'on' if row['xnnpack'] else 'off'} | "
                f"{row['latency_us']['p50']:.2f} | {row['invoke_latency_us']['p50']:.2f} | "
                f"{row['first_inference_us']:.1f} | {row['throughput_ips']:.0f} |"
            )
    return md


def _report_heading(result: dict) -> list:
    """The report's title and the machine it was measured on, as Markdown lines."""
    env = result["environment"]
    return [
        "# mnist-edge bench report",
        "",
        f"{env['cpu']}, {env['cores']} cores, {env['os']}; Python {env['python']}, numpy "
        f"{env['numpy']}, {env['interpreter']} {env['interpreter_version']}.",
        "",
    ]


def _text_report(result: dict) -> str:
    lines = _report_heading(result) + [
        "(matplotlib is not installed here, so this report has tables and no figures.)",
        "",
        "```",
        format_table(result),
        "```",
        "",
        "## Thread and delegate sweep",
        "",
    ]
    return "\n".join(lines + _sweep_table(result)) + "\n"


def _latency_figure(plt, latency_samples: Dict[str, np.ndarray]):
    names = list(latency_samples)
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(names)), 4.5))
    ax.violinplot([latency_samples[n] for n in names], showmedians=True)
    ax.set_yscale("log")
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20)
    ax.set_ylabel("µs per image (log scale)")
    ax.set_title("Single-image end-to-end latency")
    return fig


def _size_figure(plt, result: dict):
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for m in result["models"]:
        if "error" in m:
            continue
        point = (m["size_bytes"] / 1024, m["accuracy"] * 100)
        ax.scatter(*point, s=60)
        ax.annotate(m["format"], point, textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("file size (KB, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Size vs accuracy")
    return fig


def disagreements(predictions: Dict[str, np.ndarray]):
    """``(float32 name, int8 name, indices where they disagree)``, or None without both."""
    f32 = next((n for n in predictions if n.startswith("float32")), None)
    i8 = next((n for n in predictions if n.startswith("int8")), None)
    if not (f32 and i8):
        return None
    return f32, i8, np.flatnonzero(predictions[f32] != predictions[i8])


def _gallery_figure(plt, x_test_u8, y_test, predictions, f32, i8, differ):
    shown = differ[:40]
    cols = 8
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.4, rows * 1.7), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), shown):
        ax.imshow(x_test_u8[i], cmap="gray")
        ax.set_title(f"#{i} y={y_test[i]}\nf32 {predictions[f32][i]} / i8 {predictions[i8][i]}", fontsize=7)
    fig.suptitle(f"Test images where {f32} and {i8} disagree ({len(differ)} of {len(y_test)})")
    return fig


def _gallery_text(found, n_images: int) -> str:
    if found is None:
        return "(no float32 and int8 pair was benchmarked)"
    f32, i8, differ = found
    if not len(differ):
        return f"{f32} and {i8} agree on every one of the {n_images} test images."
    return (
        f"![disagreements](disagreements.png)\n\n{f32} and {i8} disagree on {len(differ)} of "
        f"{n_images} test images; the first {min(40, len(differ))} are shown (true label, "
        "float32 / int8)."
    )


def _markdown(result: dict, gallery: str) -> str:
    lines = _report_heading(result) + [
        "```",
        format_table(result),
        "```",
        "",
        "## Latency distribution",
        "",
        "![latency](latency.png)",
        "",
        "## Size vs accuracy",
        "",
        "![size vs accuracy](size_vs_accuracy.png)",
        "",
        "## Where float32 and int8 disagree",
        "",
        gallery,
        "",
        "## Thread and delegate sweep",
        "",
    ]
    return "\n".join(lines + _sweep_table(result)) + "\n"


def write_report(
    result: dict,
    out_dir: Path,
    x_test_u8: np.ndarray,
    y_test: np.ndarray,
    predictions: Dict[str, np.ndarray],
    latency_samples: Dict[str, np.ndarray],
) -> List[Path]:
    """Markdown report with figures: latency distributions, size vs accuracy, disagreements.

    Args:
        result: the bench result document.
        out_dir: destination folder.
        x_test_u8: test images.
        y_test: test labels.
        predictions: per format, the predicted labels on the test set.
        latency_samples: per format, end-to-end single-image samples in µs.

    Returns:
        The files written.
    """

    out_dir = fsutil.ensure_writable_dir(out_dir)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # a device without matplotlib: the tables still say everything
        return [fsutil.write_bytes_atomic(out_dir / "report.md", _text_report(result).encode())]

    written = [
        save_figure(_latency_figure(plt, latency_samples), out_dir / "latency.png"),
        save_figure(_size_figure(plt, result), out_dir / "size_vs_accuracy.png"),
    ]
    found = disagreements(predictions)
    if found is not None and len(found[2]):
        written.append(
            save_figure(
                _gallery_figure(plt, x_test_u8, y_test, predictions, *found), out_dir / "disagreements.png"
            )
        )
    text = _markdown(result, _gallery_text(found, len(y_test)))
    written.append(fsutil.write_bytes_atomic(out_dir / "report.md", text.encode()))
    return written

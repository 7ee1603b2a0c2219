"""Rendering bench results: the summary table and the Markdown report with figures."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np


def format_table(result: dict) -> str:
    """The summary table: format, size, accuracy, agreement, p50/p99 µs, images/s, speed-up."""
    models = result["models"]
    keras = next((m for m in models if m["format"] == "keras"), None)
    head = (
        f"{'format':<20}{'size KB':>9}{'accuracy':>10}{'agreement':>11}{'max|dp|':>9}"
        f"{'init ms':>9}{'p50 µs':>9}{'p99 µs':>9}{'invoke p50':>11}{'images/s':>10}"
        f"{'vs Keras':>9}"
    )
    lines = [head, "-" * len(head)]
    for m in models:
        if "error" in m:
            lines.append(f"{Path(m['path']).name:<20}  error: {m['error']}")
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
            f"{m['format']:<20}{m['size_bytes'] / 1024:9.1f}{m['accuracy']:10.4f}"
            f"{agreement:>11}{max_dp:>9}{init:>9}{m['latency_us']['p50']:9.2f}"
            f"{m['latency_us']['p99']:9.2f}{invoke:>11}{m['throughput_ips']:10.0f}{speedup:>9}"
        )
    env = result["environment"]
    lines.append(
        f"single image, end to end (uint8 pixels in, label out), {env['threads'][0]} thread(s), "
        f"XNNPACK; p50 = median of {_windows(models)} interleaved windows"
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


def _text_report(result: dict) -> str:
    env = result["environment"]
    lines = [
        "# mnist-edge bench report",
        "",
        f"{env['cpu']}, {env['cores']} cores, {env['os']}; Python {env['python']}, numpy "
        f"{env['numpy']}, {env['interpreter']} {env['interpreter_version']}.",
        "",
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
    from mnist_edge import fsutil

    out_dir = fsutil.ensure_writable_dir(out_dir)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # a device without matplotlib: the tables still say everything
        return [fsutil.write_bytes_atomic(out_dir / "report.md", _text_report(result).encode())]
    from mnist_edge.reporting import save_figure

    written = []

    def save(fig, name):
        written.append(save_figure(fig, out_dir / name))
        return name

    names = list(latency_samples)
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(names)), 4.5))
    data = [latency_samples[n] for n in names]
    ax.violinplot(data, showmedians=True)
    ax.set_yscale("log")
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20)
    ax.set_ylabel("µs per image (log scale)")
    ax.set_title("Single-image end-to-end latency")
    latency_png = save(fig, "latency.png")

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for m in result["models"]:
        if "error" in m:
            continue
        ax.scatter(m["size_bytes"] / 1024, m["accuracy"] * 100, s=60)
        ax.annotate(
            m["format"],
            (m["size_bytes"] / 1024, m["accuracy"] * 100),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_xlabel("file size (KB, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Size vs accuracy")
    size_png = save(fig, "size_vs_accuracy.png")

    gallery_md = "float32 and int8 agree on every test image."
    f32 = next((n for n in predictions if n.startswith("float32")), None)
    i8 = next((n for n in predictions if n.startswith("int8")), None)
    if f32 and i8:
        differ = np.flatnonzero(predictions[f32] != predictions[i8])
        if len(differ):
            shown = differ[:40]
            cols = 8
            rows = -(-len(shown) // cols)
            fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.4, rows * 1.7), squeeze=False)
            for ax in axes.ravel():
                ax.axis("off")
            for ax, i in zip(axes.ravel(), shown):
                ax.imshow(x_test_u8[i], cmap="gray")
                ax.set_title(
                    f"#{i} y={y_test[i]}\nf32 {predictions[f32][i]} / i8 {predictions[i8][i]}", fontsize=7
                )
            fig.suptitle(f"Test images where {f32} and {i8} disagree ({len(differ)} of {len(y_test)})")
            gallery_md = (
                f"![disagreements](disagreements.png)\n\n{len(differ)} of {len(y_test)} "
                f"test images; the first {len(shown)} shown (true label, float32 / int8)."
            )
            save(fig, "disagreements.png")

    env = result["environment"]
    md = [
        "# mnist-edge bench report",
        "",
        f"{env['cpu']}, {env['cores']} cores, {env['os']}; Python {env['python']}, numpy "
        f"{env['numpy']}, {env['interpreter']} {env['interpreter_version']}.",
        "",
        "```",
        format_table(result),
        "```",
        "",
        "## Latency distribution",
        "",
        f"![latency]({latency_png})",
        "",
        "## Size vs accuracy",
        "",
        f"![size vs accuracy]({size_png})",
        "",
        "## Where float32 and int8 disagree",
        "",
        gallery_md,
        "",
        "## Thread and delegate sweep",
        "",
    ] + _sweep_table(result)
    written.append(fsutil.write_bytes_atomic(out_dir / "report.md", ("\n".join(md) + "\n").encode()))
    return written

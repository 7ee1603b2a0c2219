"""A search's trials as rows: their verdicts, the best feasible one, the table, the CSV and the Pareto plot.

A trial is *feasible* when it was measured (trained to its last epoch),
passed the parity gate on the validation split and stays within every limit
of the budget. Only a feasible trial can be the best: the highest int8
validation accuracy, then the smaller, then the faster.

Scores, what Ray Tune's sampler and ASHA see (higher is better): a feasible
trial scores its accuracy (0..1); one that failed the parity gate its
accuracy - 1; one over budget -1 - how far over (so the sampler learns the
direction to the budget). numpy only; matplotlib inside :func:`pareto_figure`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Dict, List, Optional

from mnist_edge import fsutil
from mnist_edge.evaluation.reporting import save_figure
from mnist_edge.search.config import Budget
from mnist_edge.search.space import DEFAULT_SPACE, describe

MAX_OVERSHOOT_PENALTY = 9.0  # a member 50x over the budget is no more informative than one 10x over
FIELDS = (
    ["trial", "status", "feasible", "val_accuracy", "val_accuracy_keras", "images_accuracy", "size_kb"]
    + ["p50_us", "arena_kb", "multiply_adds", "agreement", "drop_pp", "epochs_done", "seconds", "reasons"]
    + list(DEFAULT_SPACE)
    + ["model"]
)


def infeasible_score(over: Dict[str, float], failures: List[str], accuracy: Optional[float] = None) -> float:
    """The score of a trial that cannot be chosen (see the module docstring)."""
    if over:
        return -1.0 - min(max(over.values()), MAX_OVERSHOOT_PENALTY)
    return (accuracy or 0.0) - 1.0


def reasons_of(
    gate_failures: List[str], over: Dict[str, float], arena_bytes, arena_error: Optional[str], when: str = ""
) -> List[str]:
    """Why a trial cannot be chosen: the parity gate's failures, ``over budget[ when]: size, ...``
    and, when TFLM could not measure the arena under an arena limit, why."""
    reasons = list(gate_failures)
    if over:
        reasons.append(f"over budget{when}: {', '.join(sorted(over))}")
        if "arena" in over and arena_bytes is None and arena_error:
            reasons.append(arena_error)
    return reasons


def status_of(metrics: dict, error: Optional[str], interrupted: bool) -> str:
    """measured, over budget, stopped early (ASHA), unfinished (interrupted) or error."""
    if error:
        return "error"
    stage = metrics.get("stage")
    if stage == "measured":
        return "measured"
    if stage == "preflight":
        return "over budget"
    return "unfinished" if interrupted or not stage else "stopped early"


def make_row(
    trial: str, member: Dict, metrics: dict, status: str, seconds: float, error: Optional[str]
) -> dict:
    """One trial's row (every :data:`FIELDS` entry; None where not measured)."""
    reasons = [r for r in (metrics.get("reasons") or "").split("; ") if r] + ([error] if error else [])
    row = {
        "trial": trial,
        "status": status,
        "feasible": bool(metrics.get("feasible")) and status == "measured",
        "val_accuracy": metrics.get("val_accuracy"),
        "val_accuracy_keras": metrics.get("val_accuracy_keras"),
        "images_accuracy": metrics.get("images_accuracy"),
        "size_kb": _kb(metrics.get("size_bytes")),
        "p50_us": metrics.get("p50_us"),
        "arena_kb": _kb(metrics.get("arena_bytes")),
        "multiply_adds": metrics.get("multiply_adds"),
        "agreement": metrics.get("agreement"),
        "drop_pp": metrics.get("drop_pp"),
        "epochs_done": metrics.get("epoch", 0),
        "seconds": round(seconds, 1),
        "reasons": "; ".join(reasons),
        "gate_failures": metrics.get("gate_failures") or "",
        "arena_error": metrics.get("arena_error"),
        "model": None,
        "over_budget": metrics.get("over_budget") or {},
    }
    row.update({name: member.get(name) for name in DEFAULT_SPACE})
    return row


def _kb(n: Optional[int]) -> Optional[float]:
    return None if n is None else round(n / 1024, 2)


def judge(row: dict, budget: Budget) -> None:
    """Re-decides a measured row's feasibility from its (quiet) figures; the reasons follow."""
    if row["status"] != "measured":
        return
    arena = None if row["arena_kb"] is None else row["arena_kb"] * 1024
    over = budget.overshoot(round(row["size_kb"] * 1024), row["p50_us"], arena)
    gate_failures = [f for f in row["gate_failures"].split("; ") if f]
    row["over_budget"] = over
    row["feasible"] = not over and not gate_failures
    row["reasons"] = "; ".join(reasons_of(gate_failures, over, arena, row["arena_error"]))


def choose(rows: List[dict]) -> Optional[dict]:
    """The best feasible row: highest int8 validation accuracy, then smaller, then faster (None: none)."""
    feasible = [r for r in rows if r["feasible"]]
    return max(feasible, key=lambda r: (r["val_accuracy"], -r["size_kb"], -r["p50_us"])) if feasible else None


def pareto(rows: List[dict], costs: tuple = ("size_kb", "p50_us")) -> List[dict]:
    """The measured rows no other measured row beats: as accurate or more, no costlier in any of ``costs``."""
    measured = [r for r in rows if r["status"] == "measured"]

    def beats(a, b):
        no_worse = a["val_accuracy"] >= b["val_accuracy"] and all(a[c] <= b[c] for c in costs)
        better = a["val_accuracy"] > b["val_accuracy"] or any(a[c] < b[c] for c in costs)
        return no_worse and better

    return [r for r in measured if not any(beats(o, r) for o in measured if o is not r)]


def closest(rows: List[dict], n: int = 5) -> List[dict]:
    """The ``n`` infeasible rows nearest the budget (least over it; gate failures after)."""
    near = [r for r in rows if not r["feasible"] and r["status"] in ("measured", "over budget")]
    return sorted(
        near, key=lambda r: (max(r["over_budget"].values(), default=0.0), -(r["val_accuracy"] or 0))
    )[:n]


def _cell(value, width: int, digits: int = 4) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if isinstance(value, float):
        return f"{value:>{width}.{digits}f}"
    return f"{value!s:>{width}}"


def table(rows: List[dict], best: Optional[dict] = None, title: str = "") -> str:
    """Rows as a printed table: feasible first, then measured, by int8 validation accuracy (* the best)."""
    header = (
        f"  {'trial':<10}{'keras':>7}{'int8':>8}{'images':>8}{'size KB':>9}{'p50 µs':>8}{'arena KB':>9}"
        f"{'s':>6}  member: verdict"
    )
    lines = ([title] if title else []) + [header, "-" * len(header)]
    order = sorted(
        rows, key=lambda r: (not r["feasible"], r["status"] != "measured", -(r["val_accuracy"] or 0))
    )
    for r in order:
        verdict = (
            "feasible" if r["feasible"] else r["status"] + (f" ({r['reasons']})" if r["reasons"] else "")
        )
        lines.append(
            f"{'*' if r is best else ' '} {r['trial']:<10}{_cell(r['val_accuracy_keras'], 7, 3)}"
            f"{_cell(r['val_accuracy'], 8)}{_cell(r['images_accuracy'], 8, 3)}{_cell(r['size_kb'], 9, 1)}"
            f"{_cell(r['p50_us'], 8, 1)}{_cell(r['arena_kb'], 9, 1)}{_cell(float(r['seconds']), 6, 0)}"
            f"  {describe(r)}: {verdict}"
        )
    return "\n".join(lines)


def write_csv(rows: List[dict], path: Path) -> Path:
    """Every trial, one line each, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in FIELDS})
    return fsutil.write_bytes_atomic(path, buffer.getvalue().encode("utf-8"))


def pareto_figure(rows: List[dict], best: Optional[dict], budget: Budget, path: Path) -> Path:
    """Accuracy against size and against latency, feasible and infeasible trials, the front, the budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r["status"] == "measured"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, key, limit, label in (
        (axes[0], "size_kb", budget.max_kb, "model size, KB"),
        (axes[1], "p50_us", budget.max_us, "p50 µs (one image, this machine)"),
    ):
        for feasible, colour in ((True, "tab:blue"), (False, "tab:grey")):
            group = [r for r in measured if r["feasible"] == feasible]
            ax.scatter(
                [r[key] for r in group],
                [100 * r["val_accuracy"] for r in group],
                c=colour,
                s=40,
                label="feasible" if feasible else "infeasible",
            )
        line = sorted(pareto(rows, (key,)), key=lambda r: r[key])
        ax.plot(
            [r[key] for r in line], [100 * r["val_accuracy"] for r in line], "k:", lw=1, label="Pareto front"
        )
        if best is not None:
            ax.scatter(
                [best[key]],
                [100 * best["val_accuracy"]],
                s=160,
                facecolors="none",
                edgecolors="red",
                linewidths=2,
                label="chosen",
            )
        if limit is not None:
            ax.axvline(limit, color="red", linestyle="--", lw=1, label="budget")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("int8 validation accuracy, %")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle(f"mnist-edge search: {len(rows)} trials, {len(measured)} measured, budget {budget.text()}")
    fig.tight_layout()
    return save_figure(fig, path)

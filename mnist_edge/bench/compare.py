"""``mnist-edge bench --compare A.json B.json ...``: earlier runs side by side, with ratios.

The Pi against the laptop, int8 against float32, before against after: each
run's models are matched by format (the file name when formats repeat), and
every figure is shown per run with its ratio to the first run's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Sequence

from mnist_edge.errors import DataError

FIGURES = (
    ("p50 µs", lambda m: (m.get("latency_us") or {}).get("p50")),
    ("p99 µs", lambda m: (m.get("latency_us") or {}).get("p99")),
    ("invoke p50 µs", lambda m: (m.get("invoke_latency_us") or {}).get("p50")),
    ("init ms", lambda m: m.get("init_ms")),
    ("images/s", lambda m: m.get("throughput_ips")),
    ("peak RSS MB", lambda m: m["peak_rss_bytes"] / 2**20 if m.get("peak_rss_bytes") else None),
    ("accuracy", lambda m: m.get("accuracy")),
    ("agreement", lambda m: m.get("agreement")),
)


def load_run(path) -> dict:
    """A ``bench --json`` document, checked enough to compare.

    Raises:
        DataError: unreadable or not a bench document.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise DataError(f"{path}: not a readable bench --json document ({str(exc)[:100]})") from None
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("models"), list)
        or not isinstance(document.get("environment"), dict)
    ):
        raise DataError(f"{path}: not a bench --json document (no environment and models)")
    return document


def _key(model: dict) -> str:
    return model.get("format") or Path(model.get("path", "?")).name


def _label(run: dict, path) -> str:
    env = run["environment"]
    where = env.get("emulated") or env.get("machine", "?")
    return f"{Path(path).stem} ({where}, {env.get('interpreter', '?')} {env.get('interpreter_version', '')})"


def compare(paths: Sequence) -> dict:
    """The JSON-ready comparison: per model key and figure, each run's value and ratio to the first."""
    runs = [load_run(p) for p in paths]
    keys: List[str] = []
    for run in runs:
        for model in run["models"]:
            if "error" not in model and _key(model) not in keys:
                keys.append(_key(model))
    rows = []
    for key in keys:
        found = _found(runs, key)
        for name, get in FIGURES:
            values = [get(m) if m else None for m in found]
            if all(v is None for v in values):
                continue
            base = values[0]
            ratios = [
                round(v / base, 3)
                if isinstance(v, (int, float)) and isinstance(base, (int, float)) and base
                else None
                for v in values
            ]
            rows.append({"model": key, "figure": name, "values": values, "ratios": ratios})
    warnings = [different_models(key, found) for key in keys for found in [_found(runs, key)]]
    return {
        "runs": [_label(run, p) for run, p in zip(runs, paths)],
        "rows": rows,
        "warnings": [w for w in warnings if w],
    }


def _found(runs, key):
    return [next((m for m in run["models"] if "error" not in m and _key(m) == key), None) for run in runs]


def different_models(key: str, found: Sequence) -> str:
    """A warning when the runs measured different files under one row name (their SHA-256 differ)."""
    hashes = [(k + 1, m.get("sha256")) for k, m in enumerate(found) if m and m.get("sha256")]
    if len({h for _, h in hashes}) <= 1:
        return ""
    shown = ", ".join(f"run {k} {h[:12]}" for k, h in hashes)
    return (
        f"warning: '{key}' is not the same model in every run (sha256 {shown}); "
        "the ratios compare different files"
    )


def format_comparison(result: dict) -> str:
    """The side-by-side table."""
    runs = result["runs"]
    width = max(12, *(len(f"run {k + 1}") for k in range(len(runs))))
    lines = [f"run {k + 1}: {label}" for k, label in enumerate(runs)]
    head = f"{'model':<18}{'figure':<15}" + "".join(f"{f'run {k + 1}':>{width}}" for k in range(len(runs)))
    head += "".join(f"{f'r{k + 1}/r1':>9}" for k in range(1, len(runs)))
    lines += [head, "-" * len(head)]
    for row in result["rows"]:
        cells = "".join(f"{'-' if v is None else f'{v:.4g}':>{width}}" for v in row["values"])
        ratios = "".join(f"{'-' if r is None else f'{r:.3f}':>9}" for r in row["ratios"][1:])
        lines.append(f"{row['model'][:17]:<18}{row['figure']:<15}{cells}{ratios}")
    return "\n".join(lines + result.get("warnings", []))

"""The snapshot evaluation's report: one JSON (the record) and one Markdown page (two tables).

Quality: one row per snapshot and method, P/R/F1 over all test links and over new links only.
Cost: one row per snapshot, the engine's update against encoding and aligning from scratch —
the ratio is what incremental recompute buys (or costs) at that snapshot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPORT_JSON, REPORT_MD = "report.json", "report.md"


def write_snapshot_report(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / REPORT_JSON, out_dir / REPORT_MD]
    paths[0].write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    paths[1].write_text(markdown(report), encoding="utf-8")
    return paths


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _count(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _quality_row(row: dict[str, Any], method: str, result: dict[str, Any]) -> str:
    every, new = result["all"], result["new"] or {}
    new_links = row["new_test_links"]
    cells = [row["snapshot"], f"{row['entities_a']:,} / {row['entities_b']:,}",
             f"{row['test_links']:,}" + ("" if new_links is None else f" ({new_links:,} new)"),
             method, _num(every["precision"]), _num(every["recall"]), _num(every["f1"]),
             _num(new.get("precision")), _num(new.get("recall")), _num(new.get("f1")),
             f"{every['predicted']:,}" + (f" ({new['predicted']:,})" if new else "")]
    return "| " + " | ".join(cells) + " |"


def _cost_row(row: dict[str, Any]) -> str:
    methods = row["methods"]
    engine, full = methods.get("engine", {}), methods.get("full_recompute")
    baseline = next((m for name, m in methods.items() if name.startswith("baseline:")), None)
    ratio = None if not full or not full["seconds"] or not engine else (
        engine["engine_seconds"] / full["seconds"])
    cells = [row["snapshot"], _count(engine.get("events")), _num(engine.get("engine_seconds"), 1),
             _num(engine.get("events_per_s"), 0), _count(engine.get("recomputed")),
             "n/a" if not full else f"{full['seconds']:.1f} ({full['encode_seconds']:.1f})",
             "n/a" if not full else f"{full['embeddings']:,.0f}", _num(ratio, 2),
             "n/a" if not baseline else _num(baseline["seconds"], 1),
             _num(row["peak_rss_mb"], 0)]
    return "| " + " | ".join(cells) + " |"


def markdown(report: dict[str, Any]) -> str:
    """Metadata lines, the quality table, the cost table."""
    meta, rows = report["meta"], report["snapshots"]
    lines = [f"# Snapshot streaming evaluation: {meta.get('dataset', '?')}", ""]
    lines += [f"- {key}: {value}" for key, value in meta.items()]
    head = ["snapshot", "entities A / B", "test links", "method", "P", "R", "F1", "new P",
            "new R", "new F1", "predicted (new)"]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [_quality_row(row, name, result)
              for row in rows for name, result in row["methods"].items()]
    head = ["snapshot", "events", "engine s", "events/s", "embeddings recomputed",
            "full recompute s (encode s)", "embeddings encoded", "engine / full",
            "baseline s", "peak RSS MB"]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [_cost_row(row) for row in rows]
    return "\n".join(lines) + "\n"

"""Benchmark reports: one JSON (everything), one Markdown table, one PR-curve PNG.

The JSON is the record; the Markdown is what goes into ``docs/BENCHMARKS.md``; the PNG shows
the pair-protocol precision/recall curves of all methods on one plot.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPORT_JSON, REPORT_MD, PR_PNG = "report.json", "report.md", "pr_curve.png"


@dataclass
class MethodResult:
    """Every number the benchmark measures for one method on one dataset and track.

    ``assignment`` maps an assignment name (``hungarian``, ...) to Hits@1 after it.
    ``pr_curve`` holds thinned ``(recall, precision)`` points. ``train_seconds`` is ``None``
    when the method's training happened elsewhere and its artifact does not say.
    ``fit_peak_rss_mb`` is the peak once the method was fitted or loaded (before evaluation:
    the dense test similarity and the assignments), ``peak_rss_mb`` the peak at the end.
    """

    method: str
    ranking: dict[str, float]
    assignment: dict[str, float]
    protocol: dict[str, float]
    pr_curve: list[tuple[float, float]]
    train_seconds: float | None
    eval_seconds: float
    fit_peak_rss_mb: float
    peak_rss_mb: float
    notes: list[str] = field(default_factory=list)


def write_report(results: list[MethodResult], meta: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``pr_curve.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / REPORT_JSON, out_dir / REPORT_MD, out_dir / PR_PNG]
    payload = {"meta": meta, "methods": [asdict(r) for r in results]}
    paths[0].write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    paths[1].write_text(markdown(results, meta), encoding="utf-8")
    plot_pr_curves(results, str(meta.get("dataset", "")), paths[2])
    return paths


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def markdown(results: list[MethodResult], meta: dict[str, Any]) -> str:
    """Metadata lines, then one table row per method."""
    assignments = sorted({name for r in results for name in r.assignment})
    head = ["Method", "Hits@1", "Hits@10", "MRR", *[f"Hits@1 1:1 ({a})" for a in assignments],
            "PRAUC", "best F1", "R@P0.95", "train s", "eval s", "peak RSS MB fit / all"]
    lines = [f"# Benchmark: {meta.get('dataset', '?')}", ""]
    lines += [f"- {key}: {value}" for key, value in meta.items()]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [r.method, _num(r.ranking.get("hits1")), _num(r.ranking.get("hits10")),
                 _num(r.ranking.get("mrr")), *[_num(r.assignment.get(a)) for a in assignments],
                 _num(r.protocol.get("prauc")), _num(r.protocol.get("best_f1")),
                 _num(r.protocol.get("recall_at_p95")), _num(r.train_seconds, 1),
                 _num(r.eval_seconds, 1),
                 f"{_num(r.fit_peak_rss_mb, 0)} / {_num(r.peak_rss_mb, 0)}"]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {r.method}: {note}" for r in results for note in r.notes]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def plot_pr_curves(results: list[MethodResult], title: str, path: Path) -> None:
    """Pair-protocol precision/recall curves, one line per method (Agg backend: no display)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r in results:
        if r.pr_curve:
            recall, precision = zip(*r.pr_curve, strict=True)
            label = f"{r.method} (PRAUC {_num(r.protocol.get('prauc'))})"
            ax.plot(recall, precision, label=label, drawstyle="steps-post")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.01),
           title=f"{title}: paper protocol")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

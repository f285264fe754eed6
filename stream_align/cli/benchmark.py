"""``stream-align benchmark``: run baselines and trained models on one split, write the report.

Imports of the harness (scikit-learn, scipy, torch for models) happen inside :func:`execute`,
so building the CLI parser stays fast for every other subcommand.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any


def comma_list(text: str) -> tuple[str, ...]:
    """``"a, b,c"`` → ``("a", "b", "c")`` (names are checked by the harness)."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``benchmark`` and ``eval``: the split, the track, how to measure."""
    parser.add_argument("--dataset", type=Path, required=True, metavar="DIR",
                        help="dataset directory (any layout under shared/datasets)")
    parser.add_argument("--hide-names", action="store_true",
                        help="structure-only track: every entity name is hidden")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the id remap, the split and the protocol's negatives "
                        "(a model must have been trained with the same one)")
    parser.add_argument("--report", type=Path, required=True, metavar="OUT_DIR",
                        help="directory for report.json, report.md and pr_curve.png")
    parser.add_argument("--assignments", type=comma_list, metavar="LIST",
                        help="one-to-one assignments to report Hits@1 after, comma-separated, "
                        "from hungarian, mutual_best, sinkhorn (default: all three)")
    parser.add_argument("--negatives", type=int, default=10,
                        help="paper protocol: sampled negatives per graph per test positive")
    parser.add_argument("--in-process", action="store_true",
                        help="run every method in this process (faster start; peak RSS is then "
                        "the process-wide peak, not per method)")
    parser.add_argument("--csls-k", type=int, default=3, metavar="K",
                        help="trained models: CSLS hubness correction of retrieval as the "
                        "service applies it (hub score = mean of the K best; 0: plain scores)")
    parser.add_argument("--csls-depth", type=int, default=20, metavar="N",
                        help="trained models: retrieval list depth CSLS re-ranks (the "
                        "service's csls_depth)")
    parser.add_argument("--anchor-candidates", type=int, default=10, metavar="M",
                        help="trained models: each source's candidates also hold its M best "
                        "targets by shared anchors, as the service's (decision 0045; 0: none)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "benchmark", help="run baselines and trained models on one split and write a report",
        description="Fit each baseline (or load each trained model) on the same split, compute "
        "Hits@1/Hits@10/MRR over all test targets, Hits@1 after one-to-one assignment, and "
        "PRAUC/best F1/R@P0.95 on the paper's protocol; write JSON, Markdown and a PR-curve PNG.")
    add_evaluation_arguments(parser)
    parser.add_argument("--methods", type=comma_list, metavar="LIST",
                        help="comma-separated from names, propagation1, propagation2, model "
                        "(default: the three baselines; 'model' needs --model)")
    parser.add_argument("--model", type=Path, action="append", default=[], metavar="MODEL_DIR",
                        help="trained model artifact to run as method 'model' (repeatable: "
                        "one row per artifact, e.g. the attention ablations)")
    parser.set_defaults(func=run)


def execute(args: argparse.Namespace, methods: tuple[str, ...] | None,
            models: tuple[Path, ...]) -> int:
    """Run the harness, write the report, print the Markdown table (a bad dataset, method or
    model raises: ``main`` prints it in one line with its exit code)."""
    from stream_align.eval.benchmark import BenchmarkSettings, report_meta, run_benchmark
    from stream_align.eval.report import markdown, write_report

    chosen: dict[str, Any] = {"methods": methods, "assignments": args.assignments}
    settings = BenchmarkSettings(
        dataset=args.dataset, hide_names=args.hide_names, seed=args.seed, models=models,
        negatives=args.negatives, isolate=not args.in_process, csls_k=args.csls_k,
        depth=args.csls_depth, anchor_k=args.anchor_candidates,
        **{key: value for key, value in chosen.items() if value is not None})
    meta = report_meta(settings, "stream-align " + shlex.join(sys.argv[1:]))
    results = run_benchmark(settings)
    write_report(results, meta, args.report)
    print(markdown(results, meta))
    return 0


def run(args: argparse.Namespace) -> int:
    return execute(args, args.methods, tuple(args.model))

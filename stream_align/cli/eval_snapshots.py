"""``stream-align eval-snapshots``: stream a growing dataset (ContEA) and score every snapshot.

Imports of the engine and the harness happen inside :func:`run`, so building the CLI parser stays
fast for every other subcommand.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from stream_align.cli.options import add_neighbourhood_rule_arguments

DESCRIPTION = """\
Replay a continual dataset (ContEA layout: base/ then batch1..batchN/) snapshot by snapshot
through the incremental engine, without Kafka (a temporary RocksDB store), and after each
snapshot report precision / recall / F1 of the engine's current one-to-one alignment against
that snapshot's test links — over all test links and over the new links only — counted as
ContEA counts (train/valid entities are not candidates). Next to it: the same model recomputed
from scratch on the snapshot's graphs (encode + batch align: the cost an update avoids) and a
learning-free baseline fitted in full per snapshot, scored by bidirectional best match.
Writes report.json and report.md into --report after every snapshot (a run stopped by a time
limit keeps the snapshots it finished) and prints the Markdown at the end."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval-snapshots", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="stream a growing dataset (ContEA) snapshot by snapshot; P/R/F1 and cost per "
        "snapshot")
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR",
                        help="trained model artifact (`stream-align train` on the same dataset)")
    parser.add_argument("--dataset", type=Path, required=True, metavar="DIR",
                        help="continual dataset directory, e.g. ../shared/datasets/contea/ZH-EN "
                        "(any layout loads; one without snapshots gives the base row only)")
    parser.add_argument("--report", type=Path, required=True, metavar="OUT_DIR",
                        help="directory for report.json and report.md")
    parser.add_argument("--max-snapshot", type=int, default=None, metavar="K",
                        help="stop after snapshot K (0 = base only, 1 = base + batch1, ...; "
                        "default: all)")
    parser.add_argument("--batch", type=int, default=2000, metavar="N",
                        help="events per engine micro-batch (default 2000); 0 = each snapshot "
                        "in one engine call (one update per snapshot, as ContEA grows)")
    parser.add_argument("--baseline", default="propagation1", metavar="NAME",
                        help="learning-free reference fitted per snapshot: names, propagation1 "
                        "or propagation2, or 'none' (default propagation1)")
    parser.add_argument("--no-full-recompute", action="store_true",
                        help="skip encoding + aligning each snapshot from scratch (the cost "
                        "comparison then shows n/a)")
    parser.add_argument("--no-engine", action="store_true",
                        help="do not stream: only the from-scratch rows (full recompute, "
                        "baseline) per snapshot — quick quality numbers when the engine is slow")
    parser.add_argument("--match-threshold", type=float, default=None, metavar="SCORE",
                        help="minimum pair score of a match (and of a kept one), for the engine "
                        "and the full recompute (default: EngineSettings' 0.5; calibrate on "
                        "validation links, decision 0040)")
    parser.add_argument("--unnamed-threshold", type=float, default=None, metavar="SCORE",
                        help="minimum score of a match where either entity has no name, for "
                        "the engine and the full recompute (default: the match threshold; "
                        "calibrate with benchmarks/unnamed_threshold.py)")
    parser.add_argument("--unnamed-margin", type=float, default=None, metavar="SCORE",
                        help="where either entity has no name, a match must also beat the "
                        "runner-up (best other candidate of either entity) by this much, for "
                        "the engine and the full recompute (default: none; decision 0026)")
    parser.add_argument("--neighbourhood-rounds", type=int, default=0, metavar="R",
                        help="match unnamed entities by their relation-consistent aligned "
                        "neighbours in R rounds instead of by score, in the engine and the full "
                        "recompute (default 0: off; decisions 0025, 0035)")
    add_neighbourhood_rule_arguments(parser)  # for the engine and the full recompute
    parser.add_argument("--anchor-candidates", type=int, default=10, metavar="M",
                        help="candidates per entity also taken by shared anchors, in the engine "
                        "and the full recompute (default 10, the service's; 0: retrieval "
                        "alone, as ContEA was measured before decision 0045)")
    parser.add_argument("--hide-names", action="store_true",
                        help="structure-only track (the model must have been trained so)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the id remap (the model must have been trained with it)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--engine", action="append", default=[], metavar="FIELD=VALUE",
                        help="any other engine setting (EngineSettings field, repeatable), "
                        "e.g. the snapshot profile of decision 0093: --engine "
                        "candidate_index=ivf --engine vector_tolerance=1e-3 --engine "
                        "max_affected_per_batch=250000")
    parser.set_defaults(func=run)


def engine_fields(options: list[str]) -> dict[str, str]:
    """``FIELD=VALUE`` options → fields (pydantic converts the values); a malformed one is
    a usage error, not a silently ignored setting."""
    from stream_align.cli.errors import ConfigError

    fields: dict[str, str] = {}
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--engine takes FIELD=VALUE, got {option!r}")
        fields[name.strip()] = value.strip()
    return fields


def run(args: argparse.Namespace) -> int:
    """Run the evaluation, write the report, print the Markdown (a bad dataset, model or option
    raises: ``main`` prints it in one line with its exit code)."""
    import torch
    from pydantic import ValidationError

    from stream_align.cli.errors import ConfigError, validation_summary
    from stream_align.engine.settings import EngineSettings
    from stream_align.eval.snapshot_eval import SnapshotEvalSettings, run_snapshot_eval
    from stream_align.eval.snapshot_report import markdown, write_snapshot_report

    torch.set_num_threads(args.threads)
    try:
        fields: dict[str, object] = {
            "unnamed_threshold": args.unnamed_threshold, "unnamed_margin": args.unnamed_margin,
            "neighbourhood_rounds": args.neighbourhood_rounds,
            "neighbourhood_named": args.neighbourhood_named,
            "neighbourhood_csls": args.neighbourhood_csls,
            "anchor_candidates": args.anchor_candidates}
        if args.match_threshold is not None:
            fields |= {"match_threshold": args.match_threshold,
                       "keep_threshold": args.match_threshold}
        engine = EngineSettings(**(fields | engine_fields(args.engine)))
    except ValidationError as exc:  # an option out of range
        raise ConfigError(validation_summary(exc)) from exc
    settings = SnapshotEvalSettings(
        dataset=args.dataset, model=args.model, max_snapshot=args.max_snapshot,
        batch=args.batch, baseline=None if args.baseline == "none" else args.baseline,
        full_recompute=not args.no_full_recompute, stream=not args.no_engine, seed=args.seed,
        hide_names=args.hide_names, engine=engine)
    report = run_snapshot_eval(settings, "stream-align " + shlex.join(sys.argv[1:]),
                               on_snapshot=lambda done: write_snapshot_report(done, args.report))
    write_snapshot_report(report, args.report)
    print(markdown(report))
    return 0

"""``stream-align train``: fit CG-MuAlign on a dataset's seed pairs and write the artifact."""

from __future__ import annotations

import argparse
import json
import resource
from pathlib import Path

from stream_align.eval.datasets.loader import load_dataset
from stream_align.model.artifact import save
from stream_align.model.settings import (
    ArchitectureSettings,
    FeatureSettings,
    SamplingSettings,
    TrainSettings,
)
from stream_align.model.train import train


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="Train a CG-MuAlign model on a dataset's seed pairs.",
                              description=__doc__)
    p.add_argument("--dataset", type=Path, required=True, help="Dataset directory (any layout).")
    p.add_argument("--out", type=Path, required=True, help="Model artifact directory to write.")
    p.add_argument("--hide-names", action="store_true", help="Structure-only: ignore names.")
    p.add_argument("--seed", type=int, default=0, help="Seed of the data split and training.")
    p.add_argument("--epochs", type=int, default=TrainSettings().epochs, help="Max epochs.")
    p.add_argument("--loss", choices=["hinge", "bce"], default="hinge",
                   help="Margin hinge on L2 distance (paper) or BCE on h_a⊙h_b (reference code).")
    p.add_argument("--batch-size", type=int, default=TrainSettings().batch_size,
                   help="Seed pairs per step.")
    p.add_argument("--negatives", type=int, default=10, help="Negatives per graph per positive.")
    p.add_argument("--random-negatives", action="store_true",
                   help="Uniform negatives instead of hard ones from retrieval top-k.")
    p.add_argument("--hidden-dim", type=int, default=ArchitectureSettings().hidden_dim,
                   help="Layer width.")
    p.add_argument("--fanout", type=int, default=10, help="Sampled neighbours per node and hop.")
    p.add_argument("--no-self-attention", action="store_true", help="Ablation: β uniform.")
    p.add_argument("--no-cross-attention", action="store_true", help="Ablation: α uniform.")
    p.add_argument("--time-limit", type=float, default=TrainSettings().time_limit_s,
                   help="Stop training after this many seconds.")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads.")
    p.add_argument("--report", type=Path, help="Also write the training report (JSON) here.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    pair = load_dataset(args.dataset, hide_names=args.hide_names, seed=args.seed)
    settings = TrainSettings(loss=args.loss, epochs=args.epochs, batch_size=args.batch_size,
                             negatives=args.negatives, hard_negatives=not args.random_negatives,
                             seed=args.seed, threads=args.threads, time_limit_s=args.time_limit)
    arch = ArchitectureSettings(hidden_dim=args.hidden_dim,
                                self_attention=not args.no_self_attention,
                                cross_attention=not args.no_cross_attention)
    bundle, report = train(pair, settings, arch, FeatureSettings(),
                           SamplingSettings(fanout=args.fanout, seed=args.seed))
    bundle.provenance = {"dataset": pair.name, "seed": args.seed, "hide_names": args.hide_names}
    version = save(bundle, args.out)
    summary = {"version": version, "seconds": round(report.seconds, 1),
               "best_epoch": report.best_epoch, "best_valid_hits1": report.best_valid_hits1,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if args.report:
        args.report.write_text(json.dumps({**summary, "history": report.history}, indent=1))
    print(json.dumps(summary))
    return 0

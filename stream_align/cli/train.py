"""``stream-align train``: fit CG-MuAlign on a dataset's seed pairs and write the artifact."""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from stream_align.model.settings import (
    STRUCTURE_BLOCKS,
    ArchitectureSettings,
    FeatureSettings,
    SamplingSettings,
    TrainSettings,
)

#: Floats in the retrieval vector of the structure-only default (decision 0037).
RETRIEVAL_DIM = 256


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
    p.add_argument("--fanout", type=int, default=None,
                   help="Sampled neighbours per node and hop (default 10; 20 with --hide-names, "
                   "where structure is the only signal: decision 0008).")
    p.add_argument("--structure-dim", type=int, default=None,
                   help="Buckets per fixed structural block (default 512 with --hide-names, "
                   "else 0 = off).")
    p.add_argument("--learning-rate", type=float, default=TrainSettings().learning_rate,
                   help="Adam learning rate.")
    p.add_argument("--bootstrap-rounds", type=int, default=None,
                   help="Self-training rounds after the epochs: mutual nearest non-anchor "
                   "pairs become frozen anchors (decisions 0008, 0015; default 2, 5 with "
                   "--hide-names: decisions 0052, 0060).")
    p.add_argument("--projection-epochs", type=int, default=None,
                   help="Passes that pre-fit the fixed blocks' projections on the seed pairs "
                   "before the epochs (default 10 with --hide-names, else 0: decision 0037).")
    p.add_argument("--refit-epochs", type=int, default=None,
                   help="Passes of the projections' contrastive fit after each self-training "
                   "round, on seed and pseudo anchors (default 5; 10 with --hide-names: "
                   "decision 0041).")
    p.add_argument("--bootstrap-csls-k", type=int, default=TrainSettings().bootstrap_csls_k,
                   help="Self-training pairs: mutual best by CSLS over this many best matches "
                   "(0: plain inner product; decision 0041).")
    p.add_argument("--bootstrap-by-head", action=argparse.BooleanOptionalAction, default=None,
                   help="Self-training pairs: mutual best by the pair head among each free "
                   "entity's retrieval candidates (default on with --hide-names, else off: "
                   "decision 0049).")
    p.add_argument("--bootstrap-rechoose", action=argparse.BooleanOptionalAction, default=None,
                   help="Each self-training round chooses every pseudo pair again, the last "
                   "round's as context, instead of only adding pairs (default on with "
                   "--hide-names, else off: decision 0052).")
    p.add_argument("--bootstrap-guard", choices=["strict", "sign-test"],
                   default=TrainSettings().bootstrap_guard,
                   help="A self-training round is undone when it loses more validation pairs "
                   "than it gains beyond chance (sign-test, the default on both tracks: "
                   "decisions 0056, 0117) or when validation Hits@1 falls at all (strict).")
    p.add_argument("--pool-every", type=int, default=TrainSettings().pool_every,
                   help="Epochs between hard-negative pool refreshes.")
    p.add_argument("--skip-widths", type=_widths, default=None,
                   help="Comma-separated width of each fixed block in the retrieval vector "
                   "(names per hop, anchors, structural blocks), or 'raw' for no projection "
                   "(default: 112,64,32 with names; with --hide-names one shared block of the "
                   "eight structural blocks filling 256 floats; raw with names and "
                   "--structure-dim). One width for all structural blocks projects them "
                   "jointly.")
    p.add_argument("--fixed-projection", action="store_true",
                   help="Keep the fixed blocks' projections at their signed fold (not trained).")
    p.add_argument("--no-self-attention", action="store_true", help="Ablation: β uniform.")
    p.add_argument("--no-cross-attention", action="store_true", help="Ablation: α uniform.")
    p.add_argument("--time-limit", type=float, default=None,
                   help="Stop the epochs after this many seconds (default 540; 240 with "
                   "--hide-names, leaving time for the bootstrap rounds).")
    p.add_argument("--threads", type=int, default=2,
                   help="torch CPU threads (and FAISS's for the IVF ladder's large k-means).")
    p.add_argument("--report", type=Path, help="Also write the training report (JSON) here.")
    p.set_defaults(func=run)


def _widths(text: str) -> tuple[int, ...] | str:
    if text == "raw":
        return text
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of widths: {text!r}") from exc


def _default(value: float | None, args: argparse.Namespace, hidden: float,
             named: float) -> float:
    """A flag's value, else its default for the track (names hidden or not)."""
    if value is not None:
        return value
    return hidden if args.hide_names else named


def _architecture(args: argparse.Namespace) -> ArchitectureSettings:
    """Names hidden: no (all-zero) name blocks; the structural blocks replace the 1-hop anchor
    block (they contain it) and share one projected block that fills the 256 floats
    (decision 0037). Widths given for one block fewer than there are fixed blocks (one
    structural width) project the structural blocks jointly too."""
    structure = _default(args.structure_dim, args, 512, 0)
    anchor_dim = 0 if structure else ArchitectureSettings().anchor_skip_dim
    common = {"hidden_dim": args.hidden_dim, "self_attention": not args.no_self_attention,
              "cross_attention": not args.no_cross_attention, "name_skip": not args.hide_names,
              "anchor_skip_dim": anchor_dim, "structure_dim": structure,
              "learn_projection": not args.fixed_projection}
    widths = args.skip_widths
    if widths is None and args.hide_names and structure:
        widths = (RETRIEVAL_DIM - 3 * args.hidden_dim,)
    if widths is None:
        return ArchitectureSettings(**common)
    if widths == "raw":
        return ArchitectureSettings(**common, skip_widths=None)
    separate = ArchitectureSettings(**common, skip_widths=None).fixed_blocks
    joint = bool(structure) and len(widths) == separate - STRUCTURE_BLOCKS + 1
    return ArchitectureSettings(**common, skip_widths=widths, structure_joint=joint)


def _train_settings(args: argparse.Namespace) -> TrainSettings:
    """The track's optimisation defaults: with names hidden the projections are pre-fit on the
    seeds (decision 0037); on both tracks they are refit on seed and pseudo anchors after each
    self-training round (decision 0041)."""
    return TrainSettings(loss=args.loss, epochs=args.epochs, batch_size=args.batch_size,
                         negatives=args.negatives, hard_negatives=not args.random_negatives,
                         learning_rate=args.learning_rate, pool_every=args.pool_every,
                         bootstrap_rounds=int(_default(args.bootstrap_rounds, args, 5, 2)),
                         refit_epochs=int(_default(args.refit_epochs, args, 10, 5)),
                         bootstrap_csls_k=args.bootstrap_csls_k,
                         bootstrap_by_head=bool(_default(args.bootstrap_by_head, args, True,
                                                         False)),
                         projection_epochs=int(_default(args.projection_epochs, args, 10, 0)),
                         bootstrap_rechoose=bool(_default(args.bootstrap_rechoose, args, True,
                                                          False)),
                         bootstrap_guard=args.bootstrap_guard,
                         seed=args.seed, threads=args.threads,
                         time_limit_s=_default(args.time_limit, args, 240, 540))


def run(args: argparse.Namespace) -> int:
    from stream_align.eval.datasets.loader import load_dataset
    from stream_align.model.artifact import save
    from stream_align.model.quantiser import fit_quantisers
    from stream_align.model.train import train

    started = time.monotonic()
    pair = load_dataset(args.dataset, hide_names=args.hide_names, seed=args.seed)
    settings = _train_settings(args)
    fanout = _default(args.fanout, args, 20, 10)
    bundle, report = train(pair, settings, _architecture(args), FeatureSettings(),
                           SamplingSettings(fanout=fanout, seed=args.seed))
    bundle.quantisers = fit_quantisers(bundle, pair)  # the IVF cells (decision 0080)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # What the benchmark harness reports as the model's training cost: the whole command up to
    # here (loading, frozen statistics, training), not only the epochs.
    bundle.provenance = {"dataset": pair.name, "seed": args.seed, "hide_names": args.hide_names,
                         "train_seconds": round(time.monotonic() - started, 1),
                         "train_peak_rss_mb": round(peak_mb, 1)}
    version = save(bundle, args.out)
    summary = {"version": version, "seconds": round(report.seconds, 1),
               "train_seconds": bundle.provenance["train_seconds"],
               "best_epoch": report.best_epoch, "best_valid_hits1": report.best_valid_hits1,
               "bootstrap_added": report.bootstrap_added,
               "valid_hits1_after_bootstrap": report.valid_hits1_after_bootstrap,
               "projection_loss": report.projection_loss,
               "peak_rss_mb": peak_mb}
    if args.report:
        args.report.write_text(json.dumps({**summary, "history": report.history}, indent=1))
    print(json.dumps(summary))
    return 0

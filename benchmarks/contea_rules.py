"""Decision rules for unnamed entities on ContEA snapshots, from one encode per snapshot.

    python benchmarks/contea_rules.py --dataset ../shared/datasets/contea/ZH-EN --model M \
        --rule plain --rule unnamed=0.75 --rule margin=0.05 --rule unnamed=0.75,margin=0.05

Each snapshot's graphs are encoded from scratch and their candidate pairs scored once (what
``eval-snapshots``' full recompute does; the engine's streamed alignment equals it within
0.005 F1, docs/BENCHMARKS.md); then every ``--rule`` (unnamed threshold and/or unnamed margin,
decision 0026) is applied to the same scores with the batch aligner's one-to-one and scored
with ContEA's counting (``eval/snapshot_metrics.py``). It also prints why new links are missed:
whether the gold pair is a candidate at all, whether it is its entities' best pair, and the
scores of right and wrong structure-only matches. Test links are read to *score* only.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from stream_align.engine.batch_align import candidates, one_to_one, thresholds
from stream_align.engine.margin import runner_up
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.snapshot_metrics import Timeline, score_snapshot, snapshot_pair
from stream_align.graph import GraphPair
from stream_align.model.artifact import load
from stream_align.model.bundle import ModelBundle
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings


def parse_rule(text: str) -> AlignSettings:
    """``plain`` | ``unnamed=T`` | ``margin=M`` | ``unnamed=T,margin=M``."""
    fields = dict(part.split("=") for part in text.split(",") if part != "plain")
    return AlignSettings(unnamed_threshold=float(fields["unnamed"]) if "unnamed" in fields
                         else None,
                         unnamed_margin=float(fields["margin"]) if "margin" in fields else None,
                         evidence=0)


def diagnose(pairs: np.ndarray, scores: np.ndarray, unnamed: np.ndarray, gold: np.ndarray,
             width: int) -> str:
    """Where the new links stand among the candidate pairs."""
    code, gcode = pairs[:, 0] * width + pairs[:, 1], gold[:, 0] * width + gold[:, 1]
    right = np.isin(code, gcode)
    ahead = scores - runner_up(pairs, scores)
    top = unnamed & (ahead > 0)
    q = (0.25, 0.5, 0.75)

    def quartiles(values: np.ndarray) -> str:
        return str(np.quantile(values, q).round(3).tolist()) if len(values) else "-"

    return (f"new links {len(gold)}: candidate pair {np.isin(gcode, code).mean():.3f}, best pair "
            f"of both entities {(ahead[right] > 0).mean():.3f}; gold score quartiles "
            f"{quartiles(scores[right])}; "
            f"unnamed best-of-both pairs {int(top.sum())}, right {right[top].mean():.3f}, "
            f"margin quartiles right {quartiles(ahead[top & right])} wrong "
            f"{quartiles(ahead[top & ~right])}")


def contea_parser(doc: str) -> argparse.ArgumentParser:
    """The options every ContEA benchmark here takes (dataset, model, threads)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    return parser


def open_contea(args: argparse.Namespace) -> tuple[ModelBundle, GraphPair, Timeline]:
    """The model, the dataset loaded as the model was, and its snapshot timeline."""
    torch.set_num_threads(args.threads)
    bundle = load(args.model)
    pair = load_dataset(args.dataset, seed=int(bundle.provenance.get("seed", 0)))
    return bundle, pair, Timeline.of(pair)


def main() -> None:
    parser = contea_parser(__doc__)
    parser.add_argument("--rule", action="append", default=[], help="see the module docstring")
    parser.add_argument("--snapshots", type=int, nargs="*", help="default: all")
    args = parser.parse_args()
    bundle, pair, timeline = open_contea(args)
    rules = {text: parse_rule(text) for text in args.rule or ["plain"]}
    print("| snapshot | rule | P | R | F1 | new P | new R | new F1 | predicted (new) |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for k in args.snapshots if args.snapshots is not None else range(len(timeline)):
        started = time.perf_counter()
        sub, keep_a, keep_b = snapshot_pair(pair, timeline, k)
        scorer = ModelScorer(bundle, sub)
        pairs = candidates(scorer, 10)
        scores, _ = scorer.pair_scores(pairs[:, 0], pairs[:, 1])
        seconds = time.perf_counter() - started
        named_a = np.array([bool(n) for n in sub.a.names])
        named_b = np.array([bool(n) for n in sub.b.names])
        unnamed = ~(named_a[pairs[:, 0]] & named_b[pairs[:, 1]])
        for text, rule in rules.items():
            chosen = pairs[one_to_one(pairs, scores, thresholds(scorer, pairs, rule, scores))]
            got = score_snapshot(timeline, k, np.stack([keep_a[chosen[:, 0]],
                                                        keep_b[chosen[:, 1]]], 1))
            a, n = got["all"], got["new"]
            new = (f"{n.precision:.3f} | {n.recall:.3f} | {n.f1:.3f} | {a.predicted:,} "
                   f"({n.predicted:,})") if n else f"– | – | – | {a.predicted:,}"
            print(f"| {timeline.names[k]} | {text} | {a.precision:.3f} | {a.recall:.3f} | "
                  f"**{a.f1:.3f}** | {new} |", flush=True)
        if timeline.new_test[k] is not None:
            index_a = np.full(pair.a.num_entities, -1)
            index_b = np.full(pair.b.num_entities, -1)
            index_a[keep_a], index_b[keep_b] = np.arange(len(keep_a)), np.arange(len(keep_b))
            gold = np.stack([index_a[timeline.new_test[k][:, 0]],
                             index_b[timeline.new_test[k][:, 1]]], 1)
            print(f"<!-- {timeline.names[k]}: {len(pairs):,} pairs, encode + score "
                  f"{seconds:.0f} s; {diagnose(pairs, scores, unnamed, gold, len(keep_b))} -->",
                  flush=True)


if __name__ == "__main__":
    main()

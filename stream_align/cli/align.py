"""``stream-align align``: batch-align a dataset's two graphs with a trained model → JSONL."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stream_align.cli.options import add_neighbourhood_rule_arguments
from stream_align.model.settings import AlignSettings


def register(subparsers: argparse._SubParsersAction) -> None:
    d = AlignSettings()
    p = subparsers.add_parser("align", help="Align two graphs in batch with a trained model.",
                              description=__doc__)
    p.add_argument("--model", type=Path, required=True, help="Model artifact directory.")
    p.add_argument("--dataset", type=Path, required=True, help="Dataset directory (any layout).")
    p.add_argument("--out", type=Path, required=True, help="JSONL file of aligned pairs.")
    p.add_argument("--seed", type=int, help="Loader seed (default: the one the model used).")
    p.add_argument("--hide-names", action="store_true", default=None,
                   help="Ignore names (default: as the model was trained).")
    p.add_argument("--candidates", type=int, default=d.candidates,
                   help="FAISS candidates per entity, both directions, re-ranked.")
    p.add_argument("--csls-k", type=int, default=d.csls_k,
                   help="CSLS hubness correction of retrieval, as the service's csls_k "
                   "(decision 0036): hub score = mean of the K best scores; 0: plain.")
    p.add_argument("--anchor-candidates", type=int, default=d.anchor_candidates, metavar="M",
                   help="Also the M best candidates by shared anchors, both directions, as the "
                   "service's anchor_candidates (decision 0045); 0: retrieval alone.")
    p.add_argument("--threshold", type=float, default=d.threshold, help="Minimum pair score.")
    p.add_argument("--unnamed-threshold", type=float, default=d.unnamed_threshold,
                   help="Minimum pair score where either entity has no name (structure-only "
                   "evidence; default: --threshold).")
    p.add_argument("--unnamed-margin", type=float, default=d.unnamed_margin,
                   help="Where either entity has no name, a match must also beat the runner-up "
                   "(best other candidate of either entity) by this much (default: none).")
    p.add_argument("--neighbourhood-rounds", type=int, default=d.neighbourhood_rounds,
                   help="Match pairs of unnamed entities by their relation-consistent aligned "
                   "neighbours instead of by score, in this many rounds (default 0: by score; "
                   "decision 0025).")
    add_neighbourhood_rule_arguments(p)
    p.add_argument("--evidence", type=int, default=d.evidence,
                   help="Neighbour pairs reported per match (by attention weight).")
    p.add_argument("--no-progress", action="store_true", help="No progress bar (stderr).")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from stream_align.engine.batch_align import ALIGN_STAGES, align
    from stream_align.eval.datasets.loader import load_dataset
    from stream_align.model.artifact import load
    from stream_align.model.scorer import ModelScorer

    settings = AlignSettings(candidates=args.candidates, csls_k=args.csls_k,
                             anchor_candidates=args.anchor_candidates, threshold=args.threshold,
                             unnamed_threshold=args.unnamed_threshold,
                             unnamed_margin=args.unnamed_margin, evidence=args.evidence,
                             neighbourhood_rounds=args.neighbourhood_rounds,
                             neighbourhood_named=args.neighbourhood_named,
                             neighbourhood_csls=args.neighbourhood_csls)
    stages = ("load model", "load dataset", "embed graphs", *ALIGN_STAGES, "write")
    with tqdm(total=len(stages), desc="align", unit="step", disable=args.no_progress,
              bar_format="{desc}: {n}/{total} steps |{bar}| {elapsed} {postfix}") as bar:

        def stage(name: str) -> None:
            """Close the step before, name this one (the bar counts finished steps)."""
            bar.update(stages.index(name) - bar.n)
            bar.set_postfix_str(name)

        stage("load model")
        bundle = load(args.model)
        seed = args.seed if args.seed is not None else int(bundle.provenance.get("seed", 0))
        hide = (args.hide_names if args.hide_names is not None
                else bool(bundle.provenance.get("hide_names", False)))
        stage("load dataset")
        pair = load_dataset(args.dataset, hide_names=hide, seed=seed)
        stage("embed graphs")
        scorer = ModelScorer(bundle, pair, rerank_k=settings.candidates)
        matches = align(scorer, settings, on_stage=stage)
        stage("write")
        _write(args.out, matches, bundle.version)
        bar.update(len(stages) - bar.n)
    print(json.dumps({"pairs": len(matches), "out": str(args.out)}))
    return 0


def _write(out: Path, matches: list, version: str) -> None:
    with out.open("w", encoding="utf-8") as fh:
        for m in matches:
            fh.write(json.dumps({"left": m.left, "right": m.right, "score": round(m.score, 6),
                                 "model_version": version, "evidence": m.evidence},
                                ensure_ascii=False) + "\n")

"""Would confident matches as new anchors help ContEA's new entities? A batch experiment.

    python benchmarks/contea_anchors.py --dataset ../shared/datasets/contea/ZH-EN --model M \
        --snapshot 1 --margin 0.1 --rounds 1

Encodes one snapshot from scratch, aligns it with the unnamed margin (decision 0026), adds the
matches that are not anchors yet as anchors — exactly as the trainer's self-training does
(``model.bootstrap.add_anchors``: their neighbours' anchor blocks change, their own learnt
anchor embedding stays zero) — and re-encodes and re-aligns, ``--rounds`` times. Scored with
ContEA's counting after every round (test links read to score only). If this batch fixed point
does not move the scores, building the same loop into the engine (anchors as feature changes
through ``affected``) would not either.
"""

from __future__ import annotations

import numpy as np
from contea_rules import contea_parser, open_contea

from stream_align.engine.batch_align import candidates, one_to_one, thresholds
from stream_align.eval.snapshot_metrics import score_snapshot, snapshot_pair
from stream_align.model.bootstrap import add_anchors
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings


def main() -> None:
    parser = contea_parser(__doc__)
    parser.add_argument("--snapshot", type=int, default=1)
    parser.add_argument("--margin", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    bundle, pair, timeline = open_contea(args)
    sub, keep_a, keep_b = snapshot_pair(pair, timeline, args.snapshot)
    rule = AlignSettings(unnamed_margin=args.margin, evidence=0)
    anchored = {a for a, _ in bundle.frozen.anchors}
    for round_ in range(args.rounds + 1):
        scorer = ModelScorer(bundle, sub)
        pairs = candidates(scorer, 10)
        scores, _ = scorer.pair_scores(pairs[:, 0], pairs[:, 1])
        chosen = pairs[one_to_one(pairs, scores, thresholds(scorer, pairs, rule, scores))]
        got = score_snapshot(timeline, args.snapshot,
                             np.stack([keep_a[chosen[:, 0]], keep_b[chosen[:, 1]]], 1))
        a, n = got["all"], got["new"]
        new_f1 = f"{n.f1:.3f} (P {n.precision:.3f}, R {n.recall:.3f})" if n else "–"
        print(f"round {round_}: {len(bundle.frozen.anchors):,} anchors; all links P "
              f"{a.precision:.3f} R {a.recall:.3f} F1 {a.f1:.3f}; new links F1 {new_f1}",
              flush=True)
        if round_ < args.rounds:
            fresh = [(sub.a.keys[x], sub.b.keys[y]) for x, y in chosen.tolist()
                     if sub.a.keys[x] not in anchored]
            anchored.update(x for x, _ in fresh)
            add_anchors(bundle, fresh)


if __name__ == "__main__":
    main()

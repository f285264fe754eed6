"""Why a steady insert re-scores the pairs it does: each re-scored pair by reason, source and move.

    python benchmarks/rescored_pairs.py --dataset ../shared/datasets/dbp15k/zh_en --model M \\
        --load 150000 --batch 100 --events 500

Loads the first ``--load`` events of the seeded shuffle in one bulk call (drained), then feeds
the next ``--events`` in batches of ``--batch`` and reports, over those batches, what the scores
stage (``engine.pairs``) re-scored:

- why: the left entity was recomputed, the right one, both, or the pair is new to the book;
- where the pair comes from: a CSLS candidate of the left or of the right entity, a
  shared-anchor candidate (decision 0045) only, a MATCH label only;
- how many pairs each recomputed entity has (mean, 90th percentile, max);
- whether the inputs moved: recomputed vectors bit-identical to the indexed ones, and each
  re-scored pair's score before and after (identical, moved < 1e-6, < 1e-3), and how many
  of them reach 0.1 / 0.3 / 0.5 before or after (the match threshold is 0.5).

It reads the engine's state around ``PairScores.update`` and ``Side.put_vectors`` (wrapped
here, in this process only) and changes nothing the engine computes. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from stream_align.engine import packed, pairs, side
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.model.artifact import load
from stream_align.service.engine_state import StoredState, process_into
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

TOTALS: Counter[str] = Counter()
PER_NODE: list[np.ndarray] = []


def _put_vectors(original):  # a wrapper of Side.put_vectors
    def wrapped(self, delta, nodes, vectors, version, ids):
        if nodes and self.index is not None:
            had = self.faiss_ids(np.asarray(nodes, dtype=np.int64)) >= 0
            if had.any():
                old = self.vectors(np.asarray(nodes)[had].tolist())
                TOTALS["vectors_recomputed"] += int(had.sum())
                TOTALS["vectors_bit_identical"] += int((old == vectors[had]).all(axis=1).sum())
        return original(self, delta, nodes, vectors, version, ids)
    return wrapped


def _classify(scores: pairs.PairScores, every: np.ndarray, moved: tuple[np.ndarray, np.ndarray]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pairs ``update`` re-scores (its own test, repeated), why and from where."""
    lefts, rights = packed.split(every)
    known = ~np.isnan(scores.book.node_scores(lefts, rights))
    left, right = np.isin(lefts, moved[0]), np.isin(rights, moved[1])
    again = scores._wanted(lefts, rights) & (left | right | ~known)
    a, b = scores.sides
    heads = a.lists.holds(lefts, rights), b.lists.holds(rights, lefts)
    anchor = np.zeros(len(lefts), dtype=bool)
    if scores.anchors is not None:
        anchor = scores.anchors.holds(0, lefts, rights) | scores.anchors.holds(1, rights, lefts)
    listed = heads[0] | heads[1]
    for name, mask in (("left_recomputed_only", left & ~right), ("right_recomputed_only",
                       right & ~left), ("both_recomputed", left & right),
                       ("new_pair", ~left & ~right), ("in_left_csls_head", heads[0]),
                       ("in_right_csls_head", heads[1]), ("list_and_anchor", listed & anchor),
                       ("list_only", listed & ~anchor), ("anchor_only", anchor & ~listed),
                       ("label_only", ~listed & ~anchor)):
        TOTALS[name] += int(np.count_nonzero(again & mask))
    for s, mine in ((0, left), (1, right)):
        if len(moved[s]):
            at = np.searchsorted(moved[s], (lefts, rights)[s][again & mine])
            PER_NODE.append(np.bincount(at, minlength=len(moved[s])))
    return lefts[again], rights[again], again, known[again]


def _update(original):  # a wrapper of PairScores.update
    def wrapped(self, touched, computed, removed, labelled, stats, *more, **named):
        every = np.union1d(touched, self._related(computed, removed, labelled))
        every = np.union1d(every, getattr(self, "owed", every[:0]))  # none in a steady tail
        moved = pairs._sorted(computed[0]), pairs._sorted(computed[1])
        lefts, rights, again, known = _classify(self, every, moved)
        before = self.book.node_scores(lefts, rights)
        out = original(self, touched, computed, removed, labelled, stats, *more, **named)
        after = self.book.node_scores(lefts, rights)
        moved_by = np.abs(before[known] - after[known])
        TOTALS["batches"] += 1
        TOTALS["recomputed"] += len(computed[0]) + len(computed[1])
        TOTALS["rescored"] += int(again.sum())
        TOTALS["rescored_known"] += int(known.sum())
        TOTALS["score_identical"] += int((moved_by == 0).sum())
        TOTALS["score_moved_below_1e-6"] += int((moved_by < 1e-6).sum())
        TOTALS["score_moved_below_1e-3"] += int((moved_by < 1e-3).sum())
        top = np.fmax(before, after)
        for bar in (0.1, 0.3, 0.5):
            TOTALS[f"reaching_{bar}"] += int((top >= bar).sum())
        return out
    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--load", type=int, default=150_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--events", type=int, default=500)
    args = parser.parse_args()
    pair = load_dataset(args.dataset)
    events = list(triple_changes(pair, ReplayOrder.SHUFFLE, 7))
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(StoreSettings(path=Path(tmp)))
        with store.transaction() as tx:
            engine = AlignmentEngine.restore(load(args.model), StoredState(tx), EngineSettings())
        batches = [(events[:args.load], list(labels(pair)))]
        while True:  # the load and its drain, unobserved
            with store.transaction() as tx:
                process_into(tx, engine, *batches.pop())
            if not engine.pending_count:
                break
            batches.append(([], []))
        side.Side.put_vectors = _put_vectors(side.Side.put_vectors)
        pairs.PairScores.update = _update(pairs.PairScores.update)
        tail = events[args.load:args.load + args.events]
        for start in range(0, len(tail), args.batch):
            with store.transaction() as tx:
                process_into(tx, engine, tail[start:start + args.batch], [])
        store.close()
    per_node = np.concatenate(PER_NODE) if PER_NODE else np.zeros(1, dtype=np.int64)
    inserts = len(tail)
    report = {"inserts": inserts, "batch": args.batch, **TOTALS,
              "recomputed_per_insert": TOTALS["recomputed"] / inserts,
              "rescored_per_insert": TOTALS["rescored"] / inserts,
              "pairs_per_recomputed_mean": float(per_node.mean()),
              "pairs_per_recomputed_p90": float(np.percentile(per_node, 90)),
              "pairs_per_recomputed_max": int(per_node.max())}
    for key, value in report.items():
        print(f"{key:>28}: {value:,.2f}" if isinstance(value, float) else f"{key:>28}: {value:,}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()

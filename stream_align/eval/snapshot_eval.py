"""ContEA snapshot streaming evaluation: the engine follows growing graphs, scored per snapshot.

DESIGN.md §6 asks, for ContEA, precision/recall/F1 per snapshot and the cost of each snapshot's
update against a full recompute. This runs, without Kafka, what the service would do: the
dataset replayed in ``snapshots`` order (base, then batch1..K: each batch's new entities, then its
triples) through one :class:`AlignmentEngine` on a temporary :class:`StateStore`, in micro-batches
of ``batch`` events, the seed labels with the first one. After each snapshot (and after draining
the engine's deferred queue) three methods are scored by :mod:`stream_align.eval.snapshot_metrics`
(ContEA's counting: see there, all test links and new links only):

- ``engine``: the engine's current one-to-one alignment; its cost is the wall time of this
  snapshot's ``process`` calls and commits, and the embeddings it recomputed for them.
- ``full_recompute``: the same model on the snapshot's graphs from scratch — encode both graphs,
  then :func:`~stream_align.engine.batch_align.align` (FAISS top-k both ways, cross-attention
  re-rank, threshold, one-to-one) with the engine's ``top_k`` and thresholds. Its time
  is what a service without incremental updates would pay per snapshot (no retraining either).
  Its alignment also checks streaming parity: the engine forces the seed pairs (labels), batch
  alignment does not, so the two may differ around seed entities.
- ``baseline:<name>``: a learning-free baseline (:data:`~stream_align.eval.baselines.BASELINES`,
  names + neighbour propagation + seed anchors) fitted in full on each snapshot's graphs, its
  predicted pairs ContEA's bidirectional best match on its scores.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from stream_align.engine.batch_align import align
from stream_align.engine.delta import StateDelta
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.baselines import BASELINES
from stream_align.eval.benchmark import check_provenance, machine, peak_rss_mb
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.errors import EvaluationError
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.eval.snapshot_metrics import (
    Score,
    Timeline,
    bidirectional_best,
    score_snapshot,
    snapshot_pair,
)
from stream_align.events.contracts import Label, TripleChange, TripleOp
from stream_align.graph import GraphPair
from stream_align.model.artifact import load
from stream_align.model.bundle import ModelBundle
from stream_align.model.errors import ModelError
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings
from stream_align.service.engine_state import write_delta
from stream_align.service.row_slices import commit_rows_first, forget_kept
from stream_align.service.settings import RunnerSettings
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

COMMIT_SLICE_ROWS = RunnerSettings().commit_slice_rows
"""The service's default: list and pair rows committed at a time ahead of a batch's commit."""


@dataclass(frozen=True)
class SnapshotEvalSettings:
    """What to run: dataset and model, how far, how the engine is fed, which references."""

    dataset: Path
    model: Path
    max_snapshot: int | None = None  # last snapshot streamed (0 = base only); None = all
    batch: int = 2_000  # events per engine micro-batch; 0 = the whole snapshot in one call
    baseline: str | None = "propagation1"  # a BASELINES name, or None for no baseline row
    full_recompute: bool = True
    stream: bool = True  # False: no engine, only the from-scratch references per snapshot
    seed: int = 0
    hide_names: bool = False
    engine: EngineSettings = field(default_factory=EngineSettings)

    def __post_init__(self) -> None:
        if self.baseline is not None and self.baseline not in BASELINES:
            raise EvaluationError(f"unknown baseline {self.baseline!r}; known: "
                                  f"{', '.join(BASELINES)}")
        if self.batch < 0:
            raise EvaluationError(f"--batch must be >= 0 (0: one call per snapshot), got "
                                  f"{self.batch}")
        if self.max_snapshot is not None and self.max_snapshot < 0:
            raise EvaluationError(f"--max-snapshot must be >= 0, got {self.max_snapshot}")


def load_model(settings: SnapshotEvalSettings, pair: GraphPair) -> ModelBundle:
    """The artifact, refused when trained on another dataset or loader setting (its entity keys
    and seed anchors would name other entities)."""
    if not Path(settings.model).is_dir():
        raise ModelError(f"no model artifact directory at {settings.model}")
    bundle = load(settings.model)
    check_provenance(bundle.provenance, pair.name, settings.seed, settings.hide_names)
    return bundle


def snapshot_events(events: Iterator[TripleChange], timeline: Timeline, k: int,
                    index: tuple[dict[str, int], dict[str, int]]) -> list[TripleChange]:
    """The next snapshot's events from the ``snapshots`` replay: its new entities and triples.

    The count comes from the timeline; every upsert taken is checked to belong to snapshot ``k``,
    so a change to the replay's order fails here instead of mis-attributing events.
    """
    count = (int((timeline.first_a == k).sum()) + len(timeline.blocks_a[k])
             + int((timeline.first_b == k).sum()) + len(timeline.blocks_b[k]))
    chunk = list(islice(events, count))
    first = {"A": (index[0], timeline.first_a), "B": (index[1], timeline.first_b)}
    for event in chunk:
        if event.op is TripleOp.UPSERT_ENTITY:
            keys, seen = first[event.graph]
            if seen[keys[event.head]] != k:
                raise EvaluationError(f"replay upserts {event.head} in snapshot {k}, expected "
                                      f"{seen[keys[event.head]]}")
    if len(chunk) != count:
        raise EvaluationError(f"snapshot {k}: replay ended after {len(chunk)} of {count} events")
    return chunk


def _process(store: StateStore, engine: AlignmentEngine, changes: list[TripleChange],
             seeds: list[Label], cost: dict[str, float]) -> None:
    """One micro-batch committed as the service commits one: the delta's list and pair rows
    first, in slices of the service's ``commit_slice_rows`` (``row_slices``), then the rest in
    the batch's transaction, the delta let go once staged — a snapshot's refresh rewrites every
    list and pair row, and held whole beside their staged copies at one commit they were its
    peak (decision 0139). Wall time includes the commits (the service pays them)."""
    started = time.perf_counter()
    with store.transaction() as tx:
        outcome = engine.process(changes, seeds)
        forget_kept(tx, commit_rows_first(store, outcome.delta, COMMIT_SLICE_ROWS))
        write_delta(tx, outcome.delta)
        outcome.delta = StateDelta()  # staged: not held beside its rows at the commit
    cost["engine_seconds"] += time.perf_counter() - started
    cost["recomputed"] += outcome.stats.get("recomputed", 0.0)
    cost["batches"] += 1
    cost["rejected"] += len(outcome.rejected)


def stream_snapshot(store: StateStore, engine: AlignmentEngine, changes: list[TripleChange],
                    seeds: list[Label], batch: int, desc: str) -> dict[str, float]:
    """Feed one snapshot in micro-batches (seed labels with the first), then drain the queue.

    ``batch`` 0 sends the whole snapshot in one call: ContEA's setting (one update per
    snapshot), and the cheapest for the engine — a micro-batch recomputes and re-scores every
    entity its changes reach, so an entity touched by many batches is recomputed many times.
    """
    batch = batch or max(len(changes), 1)
    cost = {"events": float(len(changes)), "engine_seconds": 0.0, "recomputed": 0.0,
            "batches": 0.0, "rejected": 0.0}
    with tqdm(total=len(changes), desc=desc, unit="ev", leave=False) as bar:
        for start in range(0, max(len(changes), 1), batch):
            part = changes[start:start + batch]
            _process(store, engine, part, seeds if start == 0 else [], cost)
            bar.update(len(part))
        while engine.pending_count:
            bar.set_postfix(pending=engine.pending_count, refresh=True)
            _process(store, engine, [], [], cost)
    seconds = cost["engine_seconds"]
    cost["events_per_s"] = cost["events"] / seconds if seconds > 0 else 0.0
    return cost


def _as_pairs(matches: list[tuple[str, str]],
              index: tuple[dict[str, int], dict[str, int]]) -> np.ndarray:
    """Entity-key pairs → full-dataset index pairs ``int64 (n, 2)``."""
    rows = [(index[0][left], index[1][right]) for left, right in matches]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


def _method_row(scores: dict[str, Score | None], **extra: float) -> dict[str, Any]:
    return {"all": asdict(scores["all"]),
            "new": None if scores["new"] is None else asdict(scores["new"]), **extra}


def full_recompute_row(bundle: ModelBundle, sub: GraphPair, timeline: Timeline, k: int,
                       index: tuple[dict[str, int], dict[str, int]],
                       engine: EngineSettings) -> dict[str, Any]:
    """Encode the snapshot's graphs from scratch and batch-align them; time and score it."""
    started = time.perf_counter()
    scorer = ModelScorer(bundle, sub, rerank_k=engine.top_k)
    encoded = time.perf_counter()
    matches = align(scorer, AlignSettings(candidates=engine.top_k,
                                          csls_depth=engine.csls_depth,
                                          csls_k=engine.csls_k,
                                          anchor_candidates=engine.anchor_candidates,
                                          anchor_fanout=engine.anchor_fanout,
                                          threshold=engine.match_threshold,
                                          unnamed_threshold=engine.unnamed_threshold,
                                          unnamed_margin=engine.unnamed_margin,
                                          neighbourhood_rounds=engine.neighbourhood_rounds,
                                          neighbourhood_named=engine.neighbourhood_named,
                                          neighbourhood_csls=engine.neighbourhood_csls,
                                          neighbourhood_fanout=engine.neighbourhood_fanout,
                                          neighbourhood_group_fanout=(
                                              engine.neighbourhood_group_fanout),
                                          evidence=0))
    seconds = time.perf_counter() - started
    predicted = _as_pairs([(m.left, m.right) for m in matches], index)
    return _method_row(score_snapshot(timeline, k, predicted), seconds=seconds,
                       encode_seconds=encoded - started,
                       embeddings=float(sub.a.num_entities + sub.b.num_entities))


def baseline_row(name: str, sub: GraphPair, keep: tuple[np.ndarray, np.ndarray],
                 timeline: Timeline, k: int) -> dict[str, Any]:
    """Fit the baseline on the snapshot's graphs, take ContEA's bidirectional best pairs."""
    started = time.perf_counter()
    scorer = BASELINES[name](sub)
    fitted = time.perf_counter()
    cand_a, cand_b = timeline.candidates(k)
    local = bidirectional_best(scorer, sub, np.searchsorted(keep[0], cand_a),
                               np.searchsorted(keep[1], cand_b))
    predicted = np.stack([keep[0][local[:, 0]], keep[1][local[:, 1]]], axis=1)
    return _method_row(score_snapshot(timeline, k, predicted),
                       seconds=time.perf_counter() - started, fit_seconds=fitted - started)


def _growth(timeline: Timeline, k: int) -> dict[str, Any]:
    present_a, present_b = timeline.present(k)
    new = timeline.new_test[k]
    return {"snapshot": timeline.names[k], "k": k,
            "entities_a": len(present_a), "entities_b": len(present_b),
            "triples_a": sum(len(b) for b in timeline.blocks_a[:k + 1]),
            "triples_b": sum(len(b) for b in timeline.blocks_b[:k + 1]),
            "test_links": len(timeline.test[k]),
            "new_test_links": None if new is None else len(new)}


def evaluate_snapshot(settings: SnapshotEvalSettings, bundle: ModelBundle, pair: GraphPair,
                      timeline: Timeline, k: int, engine: AlignmentEngine | None,
                      cost: dict[str, float],
                      index: tuple[dict[str, int], dict[str, int]]) -> dict[str, Any]:
    """One report row: growth, then the engine (when streamed), full recompute and baseline
    scores and costs."""
    methods: dict[str, dict[str, Any]] = {}
    if engine is not None:
        current = engine.final_alignment()
        predicted = _as_pairs([(left, right) for left, (right, _) in current.items()], index)
        methods["engine"] = _method_row(score_snapshot(timeline, k, predicted), **cost,
                                        matches=float(len(current)))
    if settings.full_recompute or settings.baseline:
        sub, keep_a, keep_b = snapshot_pair(pair, timeline, k)
        if settings.full_recompute:
            methods["full_recompute"] = full_recompute_row(bundle, sub, timeline, k, index,
                                                           settings.engine)
        if settings.baseline:
            methods[f"baseline:{settings.baseline}"] = baseline_row(
                settings.baseline, sub, (keep_a, keep_b), timeline, k)
    return {**_growth(timeline, k), "methods": methods, "peak_rss_mb": peak_rss_mb()}


def run_snapshot_eval(settings: SnapshotEvalSettings, command: str,
                      on_snapshot: Callable[[dict[str, Any]], None] | None = None
                      ) -> dict[str, Any]:
    """Stream snapshots ``0..max_snapshot`` through one engine: report meta + one row each.

    ``on_snapshot`` gets the report so far after every snapshot (the CLI rewrites its files),
    so a run stopped by a time limit still leaves the snapshots it finished.
    """
    pair = load_dataset(settings.dataset, hide_names=settings.hide_names, seed=settings.seed)
    bundle = load_model(settings, pair)
    timeline = Timeline.of(pair)
    last = len(timeline) - 1 if settings.max_snapshot is None else min(
        settings.max_snapshot, len(timeline) - 1)
    meta = report_meta(settings, command, bundle.version)
    meta["snapshots"] = f"{', '.join(timeline.names[:last + 1])} of {len(timeline)}"
    index = (pair.a.index(), pair.b.index())
    rows: list[dict[str, Any]] = []
    report = {"meta": meta, "snapshots": rows}
    with ExitStack() as stack:
        engine, store, events = None, None, iter(())
        if settings.stream:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="snapshot-eval-"))
            store = stack.enter_context(StateStore(StoreSettings(path=Path(tmp))))
            engine = AlignmentEngine.empty(bundle, settings.engine)
            events = triple_changes(pair, ReplayOrder.SNAPSHOTS)
        for k in tqdm(range(last + 1), desc="snapshots", unit="snapshot"):
            cost: dict[str, float] = {}
            if engine is not None and store is not None:
                changes = snapshot_events(events, timeline, k, index)
                cost = stream_snapshot(store, engine, changes,
                                       list(labels(pair)) if k == 0 else [], settings.batch,
                                       f"{timeline.names[k]}: engine")
            rows.append(evaluate_snapshot(settings, bundle, pair, timeline, k, engine, cost,
                                          index))
            if on_snapshot is not None:
                on_snapshot(report)
    return report


def _engine_line(settings: SnapshotEvalSettings) -> str:
    if not settings.stream:
        return "not streamed (--no-engine)"
    feed = (f"micro-batches of {settings.batch} events" if settings.batch
            else "one engine call per snapshot (then the deferred queue drained)")
    engine = settings.engine
    return (f"{feed}, top_k {engine.top_k}, at most {engine.max_affected_per_batch:,} "
            f"embeddings recomputed per call, {engine.candidate_index} candidate lists, "
            f"vector tolerance {engine.vector_tolerance:g}")


def _thresholds_line(engine: EngineSettings) -> str:
    unnamed = "as match" if engine.unnamed_threshold is None else engine.unnamed_threshold
    margin = "none" if engine.unnamed_margin is None else engine.unnamed_margin
    rule = "".join(text for on, text in ((engine.neighbourhood_named, ", free named eligible"),
                                         (engine.neighbourhood_csls, ", ties hub-corrected"))
                   if on and engine.neighbourhood_rounds)
    return (f"match {engine.match_threshold}, unnamed {unnamed}, unnamed margin {margin}, "
            f"neighbourhood rounds {engine.neighbourhood_rounds}{rule} (engine and full "
            "recompute)")


def report_meta(settings: SnapshotEvalSettings, command: str, version: str) -> dict[str, Any]:
    """The header of a report: what ran, where, when, and how to read it."""
    return {
        "dataset": str(settings.dataset),
        "model": f"{settings.model} (version {version})",
        "command": command,
        "machine": machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "engine": _engine_line(settings),
        "thresholds": _thresholds_line(settings.engine),
        "protocol": "ContEA: candidates exclude train/valid entities; P = hits / predicted, "
                    "R = hits / test links of the snapshot; new = pairs with an entity first "
                    "seen in this snapshot vs its new test links (see snapshot_metrics.py)",
    }

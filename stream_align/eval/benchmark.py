"""The benchmark harness: every method on the same split, measured by the same code.

Per method: fit it (baselines) or load it (trained models), compute the similarity of every test
source to every test target, read ranking metrics and Hits@1 after each one-to-one assignment
off that matrix, then score the paper-protocol pairs.

Peak RSS: by default each method runs in its own spawned process (``isolate``), and its peak is
that process's ``ru_maxrss`` — the method plus loading the dataset and the imports it needs,
nothing left over from other methods. In-process runs report the process-wide peak so far.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from stream_align.eval.assignment import ASSIGNMENTS, assign
from stream_align.eval.baselines import BASELINES
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.errors import EvaluationError
from stream_align.eval.metrics import (
    curve_points,
    gold_ranks,
    matching_accuracy,
    precision_recall_curve,
    protocol_metrics,
    protocol_pairs,
    ranking_metrics,
)
from stream_align.eval.report import MethodResult
from stream_align.eval.scorer import PairScorer
from stream_align.graph import GraphPair
from stream_align.model.errors import ModelError

DEFAULT_METHODS = ("names", "propagation1", "propagation2")
DEFAULT_ASSIGNMENTS = ("hungarian", "mutual_best", "sinkhorn")
MODEL_PREFIX = "model"
SOURCE_BLOCK = 512
PAIR_BLOCK = 16384
NO_NAMES_NOTES = {
    "names": "names hidden: every score is 0, so names alone is meaningless on this track",
    "propagation1": "names hidden: S0 is the training-pair anchors alone",
    "propagation2": "names hidden: S0 is the training-pair anchors alone",
}


@dataclass(frozen=True)
class BenchmarkSettings:
    """What to run: one dataset and track, a list of methods, how to assign and sample."""

    dataset: Path
    hide_names: bool = False
    seed: int = 0
    methods: tuple[str, ...] = DEFAULT_METHODS
    models: tuple[Path, ...] = ()
    assignments: tuple[str, ...] = DEFAULT_ASSIGNMENTS
    negatives: int = 10
    isolate: bool = True
    csls_k: int = 3
    """Trained models: CSLS retrieval as the service's default (decision 0036); 0: plain."""
    depth: int = 20
    """Trained models: each source's retrieval list (the service's top_k + candidate_reserve)."""
    anchor_k: int = 10
    """Trained models: candidates also taken by shared anchors (decision 0045); 0: none."""

    def __post_init__(self) -> None:
        method_labels(self)  # raises on an unknown method or 'model' without a path
        missing = [str(path) for path in self.models if not Path(path).is_dir()]
        if missing:
            raise ModelError(f"no model artifact directory at {', '.join(missing)}")
        unknown = [name for name in self.assignments if name not in ASSIGNMENTS]
        if unknown:
            raise EvaluationError(f"unknown assignment {unknown}; known: {', '.join(ASSIGNMENTS)}")


def method_labels(settings: BenchmarkSettings) -> list[str]:
    """The methods to run, with ``model`` expanded to one ``model:<dir>`` per model artifact."""
    labels: list[str] = []
    for method in settings.methods:
        if method == MODEL_PREFIX:
            if not settings.models:
                raise EvaluationError("method 'model' needs at least one --model directory")
            labels += [f"{MODEL_PREFIX}:{path}" for path in settings.models]
        elif method in BASELINES:
            labels.append(method)
        else:
            known = ", ".join([*BASELINES, MODEL_PREFIX])
            raise EvaluationError(f"unknown method {method!r}; known: {known}")
    return labels


def build_scorer(label: str, pair: GraphPair, settings: BenchmarkSettings) -> PairScorer:
    """Fit a baseline, or load a trained model (imported lazily: torch only when needed)."""
    if not label.startswith(f"{MODEL_PREFIX}:"):
        return BASELINES[label](pair)
    from stream_align.model.scorer import ModelScorer

    scorer = ModelScorer.from_path(Path(label.split(":", 1)[1]), pair, csls_k=settings.csls_k,
                                   depth=settings.depth, anchor_k=settings.anchor_k)
    _check_provenance(scorer, pair, settings)
    return scorer


def provenance(scorer: PairScorer) -> dict[str, Any]:
    """Where a trained model came from (``bundle.provenance``; empty for baselines).

    Keys read here: ``dataset``, ``seed``, ``hide_names`` (checked against the run) and, when
    training recorded them, ``train_seconds`` and ``train_peak_rss_mb`` (reported).
    """
    return dict(getattr(getattr(scorer, "bundle", None), "provenance", None) or {})


def _check_provenance(scorer: PairScorer, pair: GraphPair, settings: BenchmarkSettings) -> None:
    check_provenance(provenance(scorer), pair.name, settings.seed, settings.hide_names)


def check_provenance(recorded: Mapping[str, Any], dataset: str, seed: int,
                     hide_names: bool) -> None:
    """A model trained on another dataset or split would be scored on pairs it trained on (or
    on indices that mean other entities): refuse it."""
    wanted = {"dataset": dataset, "seed": seed, "hide_names": hide_names}
    wrong = {k: recorded[k] for k, v in wanted.items() if k in recorded and recorded[k] != v}
    if wrong:
        raise EvaluationError(f"model was trained with {wrong}, this run is {wanted}: its "
                              "training pairs or entity indices do not match this split")


def similarity_matrix(pair: GraphPair, scorer: PairScorer, sources: np.ndarray,
                      targets: np.ndarray) -> np.ndarray:
    """Dense ``float32 (sources × targets)``, computed in blocks of sources."""
    sim = np.empty((len(sources), len(targets)), dtype=np.float32)
    for start in tqdm(range(0, len(sources), SOURCE_BLOCK), desc=f"{scorer.name}: similarity",
                      unit="block", leave=False):
        block = sources[start:start + SOURCE_BLOCK]
        sim[start:start + len(block)] = scorer.similarity(pair, block, targets)
    return sim


def score_in_blocks(pair: GraphPair, scorer: PairScorer, pairs: np.ndarray) -> np.ndarray:
    """``scorer.score_pairs`` over ``pairs`` in blocks (bounded memory, progress shown)."""
    parts = [scorer.score_pairs(pair, pairs[start:start + PAIR_BLOCK])
             for start in tqdm(range(0, len(pairs), PAIR_BLOCK), desc=f"{scorer.name}: pairs",
                               unit="block", leave=False)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def evaluate(pair: GraphPair, scorer: PairScorer, assignments: tuple[str, ...],
             negatives: int, seed: int) -> dict[str, Any]:
    """Ranking, assignment and pair-protocol metrics of ``scorer`` on ``pair.test``."""
    if not len(pair.test):
        raise EvaluationError(f"{pair.name} has no test pairs")
    sources, rows = np.unique(pair.test[:, 0], return_inverse=True)
    targets, cols = np.unique(pair.test[:, 1], return_inverse=True)
    queries = np.stack([rows, cols], axis=1)
    sim = similarity_matrix(pair, scorer, sources, targets)
    out: dict[str, Any] = {"ranking": ranking_metrics(gold_ranks(sim, queries))}
    out["assignment"] = {name: matching_accuracy(assign(sim, name), queries)
                         for name in assignments}
    del sim
    gold = np.concatenate([pair.train, pair.valid, pair.test])
    pairs, labels = protocol_pairs(pair.test, negatives, seed, gold=gold)
    curve = precision_recall_curve(score_in_blocks(pair, scorer, pairs), labels)
    out["protocol"] = protocol_metrics(curve)
    out["pr_curve"] = curve_points(curve)
    return out


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_method(settings: BenchmarkSettings, label: str,
               pair: GraphPair | None = None) -> MethodResult:
    """Fit or load one method, evaluate it; loads the dataset unless ``pair`` is given."""
    if pair is None:
        pair = load_dataset(settings.dataset, hide_names=settings.hide_names, seed=settings.seed)
    started = time.perf_counter()
    scorer = build_scorer(label, pair, settings)
    fitted, fit_peak = time.perf_counter(), peak_rss_mb()
    metrics = evaluate(pair, scorer, settings.assignments, settings.negatives, settings.seed)
    is_model = label.startswith(f"{MODEL_PREFIX}:")
    # A trained model's fit time is its training, done elsewhere; its artifact may record it.
    train_seconds = provenance(scorer).get("train_seconds") if is_model else fitted - started
    return MethodResult(method=label, train_seconds=train_seconds,
                        eval_seconds=time.perf_counter() - fitted, fit_peak_rss_mb=fit_peak,
                        peak_rss_mb=peak_rss_mb(),
                        notes=_notes(label, scorer, pair, fitted - started), **metrics)


def _notes(label: str, scorer: PairScorer, pair: GraphPair, load_seconds: float) -> list[str]:
    """What a reader needs to interpret the row: model version and load cost, hidden names."""
    notes = []
    if label.startswith(f"{MODEL_PREFIX}:"):
        notes.append(f"version {getattr(scorer, 'version', '?')}, loaded and graphs encoded in "
                     f"{load_seconds:.1f} s")
        train_rss = provenance(scorer).get("train_peak_rss_mb")
        if train_rss is not None:
            notes.append(f"training peak RSS {float(train_rss):.0f} MB")
    if not any(pair.a.names) and not any(pair.b.names) and label in NO_NAMES_NOTES:
        notes.append(NO_NAMES_NOTES[label])
    return notes


def run_benchmark(settings: BenchmarkSettings) -> list[MethodResult]:
    """Run every method; each in a fresh spawned process when ``settings.isolate``."""
    labels = method_labels(settings)
    if not settings.isolate:
        pair = load_dataset(settings.dataset, hide_names=settings.hide_names, seed=settings.seed)
        return [run_method(settings, label, pair) for label in tqdm(labels, desc="methods")]
    context = multiprocessing.get_context("spawn")
    results = []
    for label in tqdm(labels, desc="methods"):
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            results.append(pool.submit(run_method, settings, label).result())
    return results


def _proc_field(path: str, key: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return next((line.split(":", 1)[1].strip() for line in fh if line.startswith(key)), "?")


def machine() -> str:
    """CPU count and model, memory, and the load average (the machine is shared)."""
    model = _proc_field("/proc/cpuinfo", "model name")
    memory_gb = int(_proc_field("/proc/meminfo", "MemTotal").split()[0]) / 1024**2
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPU ({model}), {memory_gb:.0f} GB RAM, load average {load}"


def report_meta(settings: BenchmarkSettings, command: str) -> dict[str, Any]:
    """The header of a report: what ran, where, when, and how to read it."""
    return {
        "dataset": str(settings.dataset),
        "track": "structure-only (names hidden)" if settings.hide_names else "with names",
        "seed": settings.seed,
        "command": command,
        "machine": machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "ranking": "each test source ranks all test targets; ties pessimistic",
        "protocol": f"each test positive + {settings.negatives} negatives per graph (seeded)",
        "peak_rss": "per method (own process)" if settings.isolate
        else "process-wide peak so far (in-process run)",
    }

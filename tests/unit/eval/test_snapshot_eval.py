"""The ContEA snapshot evaluation: hand-checked counting, then the CLI end to end on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import stream_align.eval.snapshot_eval as snapshot_eval
from stream_align.cli import main
from stream_align.cli.exit_codes import ExitCode
from stream_align.eval.baselines.factored import FactoredScorer
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.errors import EvaluationError
from stream_align.eval.snapshot_eval import SnapshotEvalSettings, run_snapshot_eval
from stream_align.eval.snapshot_metrics import (
    Timeline,
    bidirectional_best,
    first_seen,
    prf,
    score_snapshot,
    snapshot_pair,
)
from stream_align.eval.snapshot_report import markdown
from stream_align.graph import Graph, GraphPair, Snapshot
from stream_align.store.keys import Table, pack, unpack

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo"]


def _graph(label: str, n: int, triples: list[tuple[int, int, int]]) -> Graph:
    return Graph(label=label, keys=[f"{label.lower()}:{i}" for i in range(n)],
                 names=[f"e{i}" for i in range(n)], types=[""] * n,
                 attributes=[{} for _ in range(n)], relations=["r"],
                 triples=np.array(triples, dtype=np.int64).reshape(-1, 3))


def _chain_pair() -> GraphPair:
    """A path 0-1-2-3 at the base, extended by 3-4-5 in batch1, the same in both graphs;
    entity 6 is in no triple. Train (0, 0), valid (1, 1)."""
    base = [(0, 0, 1), (1, 0, 2), (2, 0, 3)]
    grown = np.array([(3, 0, 4), (4, 0, 5)], dtype=np.int64)
    links = np.array([(2, 2), (3, 3), (4, 4), (5, 5)], dtype=np.int64)
    batch1 = Snapshot(name="batch1", triples_a=grown, triples_b=grown, test=links,
                      new_test=links[2:])
    return GraphPair(name="chain", a=_graph("A", 7, base), b=_graph("B", 7, base),
                     train=np.array([(0, 0)]), valid=np.array([(1, 1)]), test=links[:2],
                     snapshots=[batch1])


def test_first_seen_follows_the_triples_and_puts_isolated_entities_at_the_base() -> None:
    blocks = [np.array([(0, 0, 1)]), np.array([(1, 0, 2), (3, 0, 2)]), np.zeros((0, 3), int)]
    assert first_seen(5, blocks).tolist() == [0, 0, 1, 1, 0]


def test_prf_counts_hits_against_gold_and_is_zero_without_hits() -> None:
    score = prf(np.array([(1, 1), (2, 3), (1, 1)]), np.array([(1, 1), (2, 2), (3, 3)]))
    assert (score.hits, score.predicted, score.gold) == (1, 2, 3)
    assert score.precision == pytest.approx(1 / 2) and score.recall == pytest.approx(1 / 3)
    assert score.f1 == pytest.approx(2 / 5)
    assert prf(np.array([(0, 1)]), np.array([(1, 1)])).f1 == 0.0
    assert prf(np.zeros((0, 2)), np.array([(1, 1)])).precision == 0.0


def test_snapshot_scores_drop_seed_entities_and_split_new_links() -> None:
    """Worked by hand: (0,0) is a train pair and (1,5) touches valid A1, so neither counts;
    (2,2) and (5,5) are hits, (3,4) a miss. All: P 2/3, R 2/4. New (an entity first seen in
    batch1: B4, A5/B5): (3,4) and (5,5), one hit of the two new links."""
    timeline = Timeline.of(_chain_pair())
    predicted = np.array([(0, 0), (1, 5), (2, 2), (3, 4), (5, 5)])
    scores = score_snapshot(timeline, 1, predicted)
    every, new = scores["all"], scores["new"]
    assert (every.hits, every.predicted, every.gold) == (2, 3, 4)
    assert every.precision == pytest.approx(2 / 3) and every.recall == pytest.approx(1 / 2)
    assert every.f1 == pytest.approx(4 / 7)
    assert new is not None and (new.hits, new.predicted, new.gold) == (1, 2, 2)
    assert new.f1 == pytest.approx(1 / 2)
    base = score_snapshot(timeline, 0, np.array([(2, 2), (3, 3)]))
    assert base["new"] is None and base["all"].f1 == pytest.approx(1.0)


def test_snapshot_pair_holds_only_what_exists_at_that_snapshot() -> None:
    pair = _chain_pair()
    timeline = Timeline.of(pair)
    sub, keep_a, keep_b = snapshot_pair(pair, timeline, 0)
    assert keep_a.tolist() == [0, 1, 2, 3, 6] and keep_b.tolist() == [0, 1, 2, 3, 6]
    assert sub.a.keys == ["a:0", "a:1", "a:2", "a:3", "a:6"] and len(sub.a.triples) == 3
    assert sub.test.tolist() == [[2, 2], [3, 3]]
    assert [c.tolist() for c in timeline.candidates(0)] == [[2, 3, 6], [2, 3, 6]]
    grown, _, _ = snapshot_pair(pair, timeline, 1)
    assert grown.a.num_entities == 7 and len(grown.b.triples) == 5 and len(grown.test) == 4


@pytest.mark.parametrize("block", [1, 2, 512])
def test_bidirectional_best_keeps_only_mutual_top_pairs(monkeypatch: pytest.MonkeyPatch,
                                                         block: int) -> None:
    """Sources 10, 11 both prefer target 0, which prefers 11: (11, 0) is kept, 10 stays
    unmatched (its best is taken); 12 and target 2 are each other's best. Target 1's best is
    10, but 10's is target 0. Any row-block size gives the same pairs."""
    monkeypatch.setattr("stream_align.eval.snapshot_metrics.ROW_BLOCK", block)
    sim = np.array([[0.8, 0.7, 0.0], [0.9, 0.1, 0.0], [0.0, 0.2, 0.5]], dtype=np.float32)
    features_a = sp.vstack([sp.csr_matrix((10, 3), dtype=np.float32), sp.csr_matrix(sim)])
    scorer = FactoredScorer("hand", features_a, sp.identity(3, format="csr"))
    pairs = bidirectional_best(scorer, _chain_pair(), np.array([10, 11, 12]), np.arange(3))
    assert sorted(map(tuple, pairs.tolist())) == [(11, 0), (12, 2)]


def _write(path: Path, rows: list[tuple[object, ...]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(str(x) for x in row) + "\n" for row in rows))


def write_tiny_contea(root: Path, n: int = 60, seed: int = 0) -> Path:
    """Two noisy copies of one graph growing in three snapshots, in ContEA's file layout.

    Raw A ids ``0..n-1``, B ids ``n..2n-1`` (entity ``i`` ↔ ``n + i``); the first 60% of the
    entities exist at the base (named through the URI file), 20% arrive in each batch unnamed.
    A triple belongs to the snapshot of its later endpoint; B loses about 15% of them.
    """
    rng = np.random.default_rng(seed)
    born = np.repeat([0, 1, 2], [int(n * 0.6), int(n * 0.2), n - int(n * 0.6) - int(n * 0.2)])
    edges = np.stack([rng.integers(0, n, 4 * n), rng.integers(0, 3, 4 * n),
                      rng.integers(0, n, 4 * n)], 1)
    edges = np.unique(edges[edges[:, 0] != edges[:, 2]], axis=0)
    keep_b = rng.random(len(edges)) < 0.85
    when = np.maximum(born[edges[:, 0]], born[edges[:, 2]])
    _write(root / "rel_dict", [(r, f"http://{g}.example/rel{r}") for g, rs in
                               (("a", range(3)), ("b", range(3, 6))) for r in rs])
    base = np.flatnonzero(born == 0)
    _write(root / "DERIVED_base_entity_uris.tsv",
           [(i + off, side, f"http://{g}.example/{WORDS[i % 18]}_{WORDS[i * 7 % 18]}_{i}", "")
            for side, g, off in ((1, "a", 0), (2, "b", n)) for i in base.tolist()])
    for k, folder in enumerate(["base", "batch1", "batch2"]):
        prefix = "" if k == 0 else "new_"
        mine = edges[when == k]
        _write(root / folder / f"{prefix}triples_1", [tuple(e) for e in mine.tolist()])
        _write(root / folder / f"{prefix}triples_2", [(h + n, r + 3, t + n) for h, r, t in
                                                       edges[(when == k) & keep_b].tolist()])
    order = rng.permutation(base)
    _write(root / "base" / "train_links", [(i, n + i) for i in order[:10].tolist()])
    _write(root / "base" / "valid_links", [(i, n + i) for i in order[10:15].tolist()])
    _write(root / "base" / "test_links", [(i, n + i) for i in order[15:].tolist()])
    for k in (1, 2):
        _write(root / f"batch{k}" / "new_test_links",
               [(i, n + i) for i in np.flatnonzero(born == k).tolist()])
        _write(root / f"batch{k}" / "all_test_links",
               [(i, n + i) for i in order[15:].tolist() + np.flatnonzero(
                   (born >= 1) & (born <= k)).tolist()])
    return root


@pytest.fixture(scope="module")
def tiny_contea(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny dataset and a one-epoch model trained on its base snapshot."""
    root = tmp_path_factory.mktemp("snapshots")
    data = write_tiny_contea(root / "contea" / "TINY")
    model = root / "model"
    assert main(["train", "--dataset", str(data), "--out", str(model), "--epochs", "1",
                 "--hidden-dim", "16", "--threads", "1"]) == 0
    return data, model


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def test_eval_snapshots_cli_end_to_end(tiny_contea: tuple[Path, Path], tmp_path: Path) -> None:
    data, model = tiny_contea
    out = tmp_path / "report"
    assert main(["eval-snapshots", "--model", str(model), "--dataset", str(data), "--report",
                 str(out), "--max-snapshot", "1", "--batch", "50", "--threads", "1"]) == 0
    report = json.loads((out / "report.json").read_text())
    rows = report["snapshots"]
    assert [row["snapshot"] for row in rows] == ["base", "batch1"]
    assert rows[0]["test_links"] == _lines(data / "base" / "test_links")
    assert rows[1]["new_test_links"] == _lines(data / "batch1" / "new_test_links")
    pair = load_dataset(data)
    triples = [_lines(data / "base" / f"triples_{s}") for s in (1, 2)]
    # every entity of both graphs upserted once (isolated ones at the base) plus every triple
    expected = rows[0]["entities_a"] + rows[0]["entities_b"] + sum(triples)
    assert rows[0]["methods"]["engine"]["events"] == expected
    assert rows[1]["entities_a"] > rows[0]["entities_a"]
    assert rows[1]["entities_a"] <= pair.a.num_entities
    for row in rows:
        assert set(row["methods"]) == {"engine", "full_recompute", "baseline:propagation1"}
        for result in row["methods"].values():
            every = result["all"]
            assert every["gold"] == row["test_links"] and every["hits"] <= every["predicted"]
            assert (result["new"] is None) == (row["snapshot"] == "base")
        engine = row["methods"]["engine"]
        assert engine["recomputed"] > 0 and engine["rejected"] == 0
        assert row["methods"]["baseline:propagation1"]["all"]["hits"] > 0
    markdown = (out / "report.md").read_text()
    assert markdown.count("| batch1 |") == 4  # three quality rows and one cost row


def test_eval_snapshots_cli_takes_a_calibrated_match_threshold(tiny_contea: tuple[Path, Path],
                                                               tmp_path: Path) -> None:
    data, model = tiny_contea
    out = tmp_path / "report"
    assert main(["eval-snapshots", "--model", str(model), "--dataset", str(data), "--report",
                 str(out), "--max-snapshot", "0", "--no-engine", "--baseline", "none",
                 "--threads", "1", "--match-threshold", "0.4"]) == 0
    assert "thresholds: match 0.4, " in (out / "report.md").read_text()


def test_eval_snapshots_cli_takes_engine_settings(tiny_contea: tuple[Path, Path],
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``--engine FIELD=VALUE`` reaches the engine (decision 0093's snapshot profile); a
    malformed or unknown one is refused, not ignored."""
    data, model = tiny_contea
    out = tmp_path / "report"
    assert main(["eval-snapshots", "--model", str(model), "--dataset", str(data), "--report",
                 str(out), "--max-snapshot", "1", "--batch", "0", "--baseline", "none",
                 "--no-full-recompute", "--threads", "1", "--engine", "vector_tolerance=1e-3",
                 "--engine", "max_affected_per_batch=250000"]) == 0
    meta = json.loads((out / "report.json").read_text())["meta"]
    assert "at most 250,000 embeddings" in meta["engine"]
    assert "vector tolerance 0.001" in meta["engine"]
    for bad in ("vector_tolerance", "no_such_setting=1", "vector_tolerance=2"):
        assert main(["eval-snapshots", "--model", str(model), "--dataset", str(data),
                     "--report", str(tmp_path / "r"), "--threads", "1",
                     "--engine", bad]) == ExitCode.CONFIG
        assert bad.partition("=")[0] in capsys.readouterr().err


def test_eval_snapshots_cli_refuses_a_model_of_another_dataset(
        tiny_contea: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _, model = tiny_contea
    other = write_tiny_contea(tmp_path / "contea" / "OTHER", seed=1)
    assert main(["eval-snapshots", "--model", str(model), "--dataset", str(other),
                 "--report", str(tmp_path / "r"), "--threads", "1"]) == ExitCode.ERROR
    assert "trained with" in capsys.readouterr().err


def test_run_reports_after_every_snapshot_and_only_the_methods_asked(
        tiny_contea: tuple[Path, Path]) -> None:
    data, model = tiny_contea
    seen: list[list[str]] = []
    settings = SnapshotEvalSettings(dataset=data, model=model, max_snapshot=1, batch=0,
                                    baseline=None, full_recompute=False)
    report = run_snapshot_eval(settings, "test", on_snapshot=lambda done: seen.append(
        [row["snapshot"] for row in done["snapshots"]]))
    assert seen == [["base"], ["base", "batch1"]]
    assert all(set(row["methods"]) == {"engine"} for row in report["snapshots"])
    references = run_snapshot_eval(
        SnapshotEvalSettings(dataset=data, model=model, max_snapshot=0, baseline="names",
                             stream=False), "test")
    assert set(references["snapshots"][0]["methods"]) == {"full_recompute", "baseline:names"}
    assert "| base | n/a | n/a |" in markdown(references)
    with pytest.raises(EvaluationError, match="unknown baseline"):
        SnapshotEvalSettings(dataset=data, model=model, baseline="nope")


def test_snapshot_rows_committed_in_slices_leave_the_store_a_whole_commit_leaves(
        tiny_contea: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Decision 0139: each batch commits its list and pair rows in slices first, as the
    service does; after every snapshot the store holds the rows one whole commit leaves (the
    labels' wall-clock event times aside), and the slices were taken."""
    sliced, streamed = snapshot_eval.commit_rows_first, snapshot_eval.stream_snapshot

    def stored(slice_rows: int | None) -> tuple[list[list[tuple[bytes, bytes]]], int]:
        states, slices = [], [0]

        def counted(*args: object) -> int:
            taken = sliced(*args)  # type: ignore[arg-type]
            slices[0] += taken
            return taken

        def stream(store, *args, **kwargs):  # type: ignore[no-untyped-def]
            cost = streamed(store, *args, **kwargs)
            states.append([(key, pack(*unpack(value)[:2]) if table is Table.LABEL else value)
                           for table in Table for key, value in
                           store._database.scan(table, b"") if key != b"store/identity"])
            return cost

        monkeypatch.setattr(snapshot_eval, "COMMIT_SLICE_ROWS", slice_rows or 1 << 30)
        monkeypatch.setattr(snapshot_eval, "commit_rows_first", counted)
        monkeypatch.setattr(snapshot_eval, "stream_snapshot", stream)
        run_snapshot_eval(SnapshotEvalSettings(dataset=data, model=model, max_snapshot=1,
                                               batch=0, baseline=None, full_recompute=False),
                          "test")
        return states, slices[0]

    data, model = tiny_contea
    (sliced, slices), (whole, none) = stored(3), stored(None)
    assert slices > 2 and none == 0
    assert len(sliced) == len(whole) == 2 and all(len(state) > 50 for state in whole)
    assert sliced == whole

"""Exactness: local recompute equals a full-graph encode; the affected set is exactly what moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import synthetic_pair, untrained_bundle

from stream_align.engine.affected import SampleIndex
from stream_align.engine.level1_cache import LevelOneCache
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.recompute import encode_local, row_vectors
from stream_align.eval.datasets.loader import load_dataset
from stream_align.graph import Graph
from stream_align.model.bundle import ModelBundle
from stream_align.model.readout import retrieval_vectors
from stream_align.model.sampling import sample
from stream_align.model.vocab import directed_edges

torch.set_num_threads(1)


def _mirror(graph: Graph) -> MutableGraph:
    mirror = MutableGraph(graph.label, graph.label)
    for i, key in enumerate(graph.keys):
        attrs = dict(graph.attributes[i]) | ({"name": graph.names[i]} if graph.names[i] else {})
        mirror.upsert(key, graph.types[i], attrs)
    for h, r, t in graph.triples.tolist():
        mirror.add_triple(h, mirror.relation_id(graph.relations[r]), t)
    return mirror


@torch.no_grad()
def _full(bundle: ModelBundle, graph: Graph) -> np.ndarray:
    inputs = bundle.inputs(graph)
    return retrieval_vectors(bundle.net, inputs, bundle.net.encode(inputs), query=True).numpy()


def _local(bundle: ModelBundle, samples: SampleIndex, nodes: list[int]) -> np.ndarray:
    local = encode_local(bundle, samples, nodes)
    return row_vectors(bundle, local, local.rows(nodes), query=True)


def test_engine_local_recompute_equals_full_encode_on_itunes_amazon(datasets_dir: Path) -> None:
    pair = load_dataset(datasets_dir / "er_benchmarks" / "itunes_amazon")
    bundle = untrained_bundle(pair)
    mirror = _mirror(pair.a)
    samples = SampleIndex(mirror, bundle.frozen)
    samples.refresh(range(pair.a.num_entities))
    nodes = np.random.default_rng(0).choice(pair.a.num_entities, 200, replace=False).tolist()
    hub = int(np.bincount(pair.a.triples[:, 2]).argmax())  # the most-linked entity
    nodes = [hub, *(n for n in nodes if n != hub)]
    assert np.abs(_local(bundle, samples, nodes) - _full(bundle, pair.a)[nodes]).max() < 1e-5


def _changed(before: np.ndarray, after: np.ndarray) -> set[int]:
    return set(np.flatnonzero(np.abs(before - after).max(axis=1) > 1e-7).tolist())


@pytest.mark.parametrize(("seed", "structure_dim"), [(0, 0), (1, 0), (2, 0), (0, 32), (1, 32)])
def test_engine_affected_set_is_exactly_what_changes(seed: int, structure_dim: int) -> None:
    """Add and remove triples and upsert names; ``D`` = nodes whose full encode moved (also
    with the structure-only track's 2-hop blocks); recomputing ``D`` with the kept ``h1`` of
    every other node gives the full encode's vectors."""
    pair = synthetic_pair(n=40, seed=seed)
    bundle = untrained_bundle(pair, structure_dim=structure_dim)
    graph, rng = pair.a, np.random.default_rng(seed)
    mirror = _mirror(graph)
    samples = SampleIndex(mirror, bundle.frozen)
    samples.refresh(range(graph.num_entities))
    kept = LevelOneCache()
    with torch.no_grad():
        kept.put(np.arange(graph.num_entities), bundle.net.encode(bundle.inputs(graph)).h1[:-1])
    for step in range(12):
        before = _full(bundle, graph)
        h, t = (int(x) for x in rng.choice(graph.num_entities, 2, replace=False))
        r = int(rng.integers(0, len(graph.relations)))
        upserted: set[int] = set()
        if step % 3 == 2:
            graph.names[h] = f"renamed {step}"
            mirror.upsert(graph.keys[h], "", {"name": graph.names[h]} | graph.attributes[h])
            upserted = {h}
        elif step % 3 == 1 and len(graph.triples):
            h, r, t = (int(x) for x in graph.triples[rng.integers(0, len(graph.triples))])
            graph.triples = graph.triples[~(graph.triples == [h, r, t]).all(axis=1)]
            mirror.remove_triple(h, mirror.relation_id(graph.relations[r]), t)
        else:
            graph.triples = np.unique(np.vstack([graph.triples, [h, r, t]]), axis=0)
            mirror.add_triple(h, mirror.relation_id(graph.relations[r]), t)
        typed, sampled = samples.refresh({h, t})
        affected = samples.affected(typed | upserted, sampled)
        after = _full(bundle, graph)
        assert affected == _changed(before, after)
        rows = sorted(affected)
        if rows:
            assert np.abs(_local(bundle, samples, rows) - after[rows]).max() < 1e-5
            # kept h1 rows for every node outside the affected set: the same vectors from a
            # smaller local graph; the exact rows are kept for the next step, as the engine does
            local = encode_local(bundle, samples, rows, kept=(kept, affected))
            vectors = row_vectors(bundle, local, local.rows(rows), query=True)
            assert np.abs(vectors - after[rows]).max() < 1e-5
            assert len(local.globals) <= len(encode_local(bundle, samples, rows).globals)
            local.keep_level1(kept)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_local_rows_past_the_summarised_nodes_need_no_features(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """With kept ``h1`` rows, the local graph's rows past ``E ∪ S(E)`` (their summaries'
    endpoints) get empty level-0 rows, no type and no sample; the recomputed vectors and the
    ``h1`` rows kept are the same bits as with every row's inputs."""
    from stream_align.engine import recompute
    from stream_align.engine.feature_cache import FeatureCache

    pair = synthetic_pair(n=60, seed=seed)
    bundle = untrained_bundle(pair)
    assert recompute._names_within_one_hop(bundle)
    mirror = _mirror(pair.a)
    samples = SampleIndex(mirror, bundle.frozen)
    samples.refresh(range(pair.a.num_entities))
    kept = LevelOneCache()
    with torch.no_grad():
        kept.put(np.arange(pair.a.num_entities), bundle.net.encode(bundle.inputs(pair.a)).h1[:-1])
    rng = np.random.default_rng(seed)
    for _ in range(4):
        rows = sorted(rng.choice(pair.a.num_entities, 5, replace=False).tolist())
        stale = set(rows) | set(rng.choice(pair.a.num_entities, 8).tolist())
        got, want = [], []
        for within in (True, False):
            monkeypatch.setattr(recompute, "_names_within_one_hop", lambda _, w=within: w)
            features = FeatureCache(mirror, bundle.frozen, 1000)
            local = encode_local(bundle, samples, rows, features, kept=(kept, stale))
            out = got if within else want
            out += [row_vectors(bundle, local, local.rows(rows), query=True),
                    local.enc.h1[torch.from_numpy(local.level1)].numpy(), local.globals]
            if within:
                summarised = samples.closure(
                    recompute._encoded(samples, rows, (kept, stale)), hops=1)
                assert len(local.globals) > len(summarised)  # endpoint rows exist
                assert local.inputs.names.to_dense()[len(summarised):].abs().sum() == 0
                assert not local.inputs.mask[len(summarised):].any()  # no samples either
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_node_sample_is_the_same_refreshed_alone_or_with_all(seed: int) -> None:
    """A sample refresh types and samples only the refreshed nodes' own edges, not their
    neighbours': any subset refreshed gives each node the type, slots and summary that a
    refresh of every node gives it."""
    pair = synthetic_pair(n=50, seed=seed)
    bundle = untrained_bundle(pair)
    everything = SampleIndex(_mirror(pair.a), bundle.frozen)
    everything.refresh(range(pair.a.num_entities))
    rng = np.random.default_rng(seed)
    for size in (1, 3, 17):
        part = SampleIndex(_mirror(pair.a), bundle.frozen)
        nodes = rng.choice(pair.a.num_entities, size, replace=False).tolist()
        part.refresh(nodes)
        for node in nodes:
            assert part.slots(node) == everything.slots(node)
            np.testing.assert_array_equal(part.summary_triples([node]),
                                          everything.summary_triples([node]))
        np.testing.assert_array_equal(part._type[nodes], everything._type[nodes])


@pytest.mark.parametrize("seed", [0, 1])
def test_a_local_encode_with_kept_anchor_ids_decodes_no_string(seed: int) -> None:
    """With the level-0 rows cached and each node's anchor id kept (``Side.anchor_ids``), the
    local graph's keys and names are not decoded (left blank), and the inputs, vectors and
    ``h1`` rows are the same bits as from the decoded keys."""
    from stream_align.engine.feature_cache import FeatureCache
    from stream_align.engine.side import Side

    pair = synthetic_pair(n=60, seed=seed)
    bundle = untrained_bundle(pair)
    mirror = _mirror(pair.a)
    side = Side(mirror, bundle.frozen, True, False, 1000, 1000)
    samples = side.samples
    samples.refresh(range(pair.a.num_entities))
    kept = LevelOneCache()
    with torch.no_grad():
        kept.put(np.arange(pair.a.num_entities), bundle.net.encode(bundle.inputs(pair.a)).h1[:-1])
    assert (side.anchor_ids(np.arange(pair.a.num_entities)) < len(bundle.frozen.anchors)).any()
    rng = np.random.default_rng(seed)
    for _ in range(4):
        rows = sorted(rng.choice(pair.a.num_entities, 5, replace=False).tolist())
        stale = set(rows) | set(rng.choice(pair.a.num_entities, 8).tolist())
        out = []
        for anchors in (side.anchor_ids, None):
            features = FeatureCache(mirror, bundle.frozen, 1000)
            local = encode_local(bundle, samples, rows, features, kept=(kept, stale),
                                 anchors=anchors)
            assert (set(local.inputs.graph.keys) == {""}) == (anchors is not None)
            out.append([local.inputs.anchors.numpy(), local.globals,
                        row_vectors(bundle, local, local.rows(rows), query=True),
                        local.enc.h1[torch.from_numpy(local.level1)].numpy()])
        for got, want in zip(*out, strict=True):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", [0, 1])
def test_level_one_rows_a_pair_score_computes_are_the_local_encodes(seed: int) -> None:
    """``ensure_level1`` computes the missing ``h1`` rows level-wise (decision 0130): each is
    a local encode's to float rounding, in one chunk or several; a kept row is left as it is
    and the ``h0`` rows on the way are dropped, unless a level-wise drain held some."""
    from stream_align.engine.feature_cache import FeatureCache
    from stream_align.engine.scoring import ensure_level1
    from stream_align.engine.side import Side

    pair = synthetic_pair(n=60, seed=seed)
    bundle = untrained_bundle(pair)
    nodes = sorted(np.random.default_rng(seed).choice(pair.a.num_entities, 20,
                                                      replace=False).tolist())
    for chunk in (1000, 7):
        side = Side(_mirror(pair.a), bundle.frozen, True, False, 1000, 1000)
        side.samples.refresh(range(pair.a.num_entities))
        marker = torch.full((1, bundle.arch.hidden_dim), 7.0)
        side.level1.put(np.array(nodes[:1]), marker)  # kept: not computed again
        ensure_level1(bundle, side, nodes, chunk)
        assert not side.level1.missing(nodes) and not side.level0.held
        with torch.no_grad():
            local = encode_local(bundle, side.samples, nodes[1:],
                                 FeatureCache(side.graph, bundle.frozen, 1000))
        want = local.enc.h1[:len(nodes) - 1].numpy()
        got = side.level1.rows(nodes).numpy()
        assert np.abs(got[1:-1] - want).max() < 1e-6
        np.testing.assert_array_equal(got[0], marker[0].numpy())
    with torch.no_grad():  # a drain's rows: they stay
        side.level0.rows(bundle, side, np.array(nodes[:2]))
    side.level1.drop(nodes)
    ensure_level1(bundle, side, nodes, 1000)
    assert side.level0.held


def test_a_restores_samples_are_a_refreshs_without_notes() -> None:
    """``SampleIndex.restore`` samples every node as ``refresh`` does (slots, types, the
    reverse index) but keeps no notes for the shared-anchor rows (a restore reads or
    recomputes them whole, decision 0132), and leaves ``noting`` as it found it."""
    pair = synthetic_pair(n=40, seed=3)
    bundle = untrained_bundle(pair)
    mirror = _mirror(pair.a)
    nodes = np.arange(pair.a.num_entities, dtype=np.int64)
    refreshed, restored = SampleIndex(mirror, bundle.frozen), SampleIndex(mirror, bundle.frozen)
    refreshed.noting = restored.noting = True
    refreshed.refresh(nodes.tolist(), chunk=7)
    restored.restore(nodes.tolist(), chunk=7)
    for a, b in zip(refreshed.slot_table(nodes), restored.slot_table(nodes), strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(refreshed.fans(nodes), restored.fans(nodes))
    assert all(np.array_equal(a, b) for a, b in zip(refreshed.samplers_of(nodes),
                                                    restored.samplers_of(nodes), strict=True))
    assert restored.noting and len(refreshed.take_notes()[0]) == len(nodes)
    assert all(not len(part) for part in restored.take_notes())


@pytest.mark.parametrize("seed", [0, 1])
def test_a_sample_from_the_nodes_own_edges_is_the_batch_models(seed: int) -> None:
    """``SampleIndex`` reads each node's own edges (``MutableGraph.own_edges``), merged and
    unmerged, with self-loops and a relation the model does not know: every node gets the
    type and slots the batch sampler gives it over the whole graph's ascending triples, and
    a summary of distinct triples, ascending, holding each sampled edge's triple and one
    triple per (relation, direction) of the node."""
    pair = synthetic_pair(n=60, seed=seed)
    bundle = untrained_bundle(pair)
    graph = pair.a
    mirror = MutableGraph(graph.label, graph.label)
    for i, key in enumerate(graph.keys):
        mirror.upsert(key, graph.types[i], {"name": graph.names[i]})
    mirror.load_triples(np.stack([graph.triples[:, 0], np.array(
        [mirror.relation_id(graph.relations[r]) for r in graph.triples[:, 1]]),
        graph.triples[:, 2]], axis=1))
    rng = np.random.default_rng(seed)
    for h, r, t in graph.triples[rng.random(len(graph.triples)) < 0.2].tolist():
        mirror.remove_triple(h, r, t)  # unmerged removals
    for node in rng.choice(graph.num_entities, 6, replace=False).tolist():
        mirror.add_triple(node, 0, node)  # unmerged self-loops
    mirror.add_triple(1, mirror.relation_id("unknownRelation"), 2)
    nodes = np.arange(graph.num_entities, dtype=np.int64)
    samples = SampleIndex(mirror, bundle.frozen)
    samples.refresh(nodes.tolist(), chunk=16)
    triples = np.unique(np.array([e for n in nodes.tolist() for e in mirror.edges(n)]), axis=0)
    whole, _ = mirror.local_graph(nodes, triples, texts=False)
    edges = directed_edges(whole, bundle.frozen.vocab.relation_ids(whole))
    types = bundle.frozen.vocab.type_ids(whole, edges)
    hood = sample(edges, len(nodes), samples.key_hashes(nodes), types,
                  bundle.frozen.avg_counts[graph.label], bundle.frozen.sampling.fanout)
    nbr, rel = samples.slot_table(nodes)
    assert np.array_equal(nbr, np.where(hood.mask, hood.nbr, -1))
    assert np.array_equal(rel, np.where(hood.mask, hood.rel, 0))
    assert np.array_equal(samples.types(nodes), types)
    for node in nodes.tolist():
        own = triples[(triples[:, 0] == node) | (triples[:, 2] == node)]
        summary = samples._summaries.gather(np.array([node]))
        assert np.array_equal(summary, np.unique(summary, axis=0))  # distinct, ascending
        assert {tuple(t) for t in summary.tolist()} <= {tuple(t) for t in own.tolist()}
        held = {(r, h == node) for h, r, _ in summary.tolist()}
        held |= {(r, False) for _, r, t in summary.tolist() if t == node}
        assert held >= {(r, h == node) for h, r, _ in own.tolist()}
        for other, _ in samples.slots(node):
            assert any((h, t) in ((node, other), (other, node)) for h, r, t in summary.tolist())

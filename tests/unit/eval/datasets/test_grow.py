"""The scale-data generator keeps the seed's degree distribution, relation mix, name noise and a
consistent gold mapping, and writes a directory the loaders read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stream_align.eval.datasets.errors import DatasetError
from stream_align.eval.datasets.grow import grow
from stream_align.eval.datasets.jape_layout import read_id_file, read_int_rows
from stream_align.eval.datasets.loader import load_dataset

WORDS = ["north", "river", "city", "saint", "grand", "lake", "old", "port", "new", "hill"]


def _write(path: Path, rows) -> None:
    path.write_text("".join("\t".join(str(x) for x in row) + "\n" for row in rows))


@pytest.fixture(scope="module")
def seed(tmp_path_factory) -> Path:
    """400 + 420 entities, 300 gold pairs, heavy-tailed degrees, 6 relations (skewed mix), B's
    names differ from A's in every third pair; B holds ~80% of A's triples plus its own."""
    root = tmp_path_factory.mktemp("seed")
    rng = np.random.default_rng(3)
    n_a, n_b, gold = 400, 420, 300
    heads = np.minimum((rng.pareto(1.3, 2400) * 5).astype(np.int64), n_a - 1)
    edges = np.stack([heads, rng.choice(6, 2400, p=[.4, .2, .15, .1, .1, .05]),
                      rng.integers(0, n_a, 2400)], 1)
    edges = np.unique(edges[edges[:, 0] != edges[:, 2]], axis=0)
    names = [f"{WORDS[i % 10]} {WORDS[(i // 10) % 10]} {i}" for i in range(n_b)]
    b_of = {i: n_a + i for i in range(gold)}  # A entity i ↔ B entity n_a + i (i < gold)
    to_b = np.array([b_of.get(i, n_a + gold + (i % (n_b - gold))) for i in range(n_a)])
    kept = edges[rng.random(len(edges)) < 0.8]
    extra = np.stack([rng.integers(n_a, n_a + n_b, 300), rng.integers(6, 12, 300),
                      rng.integers(n_a, n_a + n_b, 300)], 1)
    _write(root / "ent_ids_1", [(i, f"http://zh.example/r/{i}") for i in range(n_a)])
    _write(root / "ent_ids_1_trans_goo", [(i, names[i]) for i in range(n_a)])
    _write(root / "ent_ids_2", [(n_a + i, "http://en.example/r/" + (
        names[i].replace(" ", "_") + ("s" if i % 3 == 0 else ""))) for i in range(n_b)])
    _write(root / "rel_ids_1", [(r, f"http://zh.example/p{r}") for r in range(6)])
    _write(root / "rel_ids_2", [(6 + r, f"http://en.example/p{r}") for r in range(6)])
    _write(root / "triples_1", edges.tolist())
    _write(root / "triples_2", [(to_b[h], r + 6, to_b[t]) for h, r, t in kept.tolist()]
           + extra.tolist())
    _write(root / "sup_ent_ids", [(i, n_a + i) for i in range(0, gold, 5)])
    _write(root / "ref_ent_ids", [(i, n_a + i) for i in range(gold) if i % 5])
    return root


def _stats(root: Path, side: int) -> dict[str, object]:
    ids = read_id_file(root / f"ent_ids_{side}")
    triples = read_int_rows(root / f"triples_{side}", 3)
    rels = sorted(read_id_file(root / f"rel_ids_{side}"))
    out_degree = np.unique(triples[:, 0], return_counts=True)[1]
    heads_share = len(out_degree) / len(ids)
    mix = np.array([np.mean(triples[:, 1] == r) for r in rels])
    return {"entities": len(ids), "per_entity": len(triples) / len(ids),
            "degree_q": np.percentile(np.concatenate([out_degree,
                                                      np.zeros(len(ids) - len(out_degree))]),
                                      [50, 90, 99]),
            "heads_share": heads_share, "mix": mix, "ids": set(ids), "triples": triples}


def _gold(root: Path) -> np.ndarray:
    return np.concatenate([read_int_rows(root / "sup_ent_ids", 2),
                           read_int_rows(root / "ref_ent_ids", 2)])


def _corresponding_share(root: Path) -> float:
    """Share of A's triples between gold entities whose endpoints are also linked in B."""
    gold = _gold(root)
    to_b = dict(gold.tolist())
    b_edges = {(h, t) for h, _, t in read_int_rows(root / "triples_2", 3).tolist()}
    between = [(to_b[h], to_b[t]) for h, _, t in read_int_rows(root / "triples_1", 3).tolist()
               if h in to_b and t in to_b]
    return sum(edge in b_edges for edge in between) / len(between)


def _equal_name_share(root: Path) -> float:
    names_a = read_id_file(root / "ent_ids_1_trans_goo")
    uris_b = read_id_file(root / "ent_ids_2")
    return float(np.mean([names_a[a].replace(" ", "_") == uris_b[b].rsplit("/", 1)[-1]
                          for a, b in _gold(root).tolist()]))


@pytest.mark.parametrize("n", [1600, 250])  # four copies (B: 3.8); less than one copy
def test_grown_pair_keeps_the_seed_statistics(seed: Path, tmp_path: Path, n: int) -> None:
    summary = grow(seed, tmp_path, n)
    for side in (1, 2):
        before, after = _stats(seed, side), _stats(tmp_path, side)
        assert after["entities"] == n
        assert np.abs(after["mix"] - before["mix"]).max() < 0.03  # relation mix
        if n > 400:  # whole copies: the seed's out-degrees, copy for copy
            assert after["per_entity"] == pytest.approx(before["per_entity"], rel=0.08)
            p50, p90, p99 = after["degree_q"]
            assert abs(p50 - before["degree_q"][0]) <= 1 and abs(p90 - before["degree_q"][1]) <= 1
            assert p99 == pytest.approx(before["degree_q"][2], rel=0.25)
        ids = after["ids"]
        triples = after["triples"]
        assert set(triples[:, 0]) <= ids and set(triples[:, 2]) <= ids  # no dangling ids
    gold = _gold(tmp_path)
    assert summary["gold_pairs"] == len(gold)
    assert len(set(gold[:, 0])) == len(gold) == len(set(gold[:, 1]))  # one-to-one
    assert set(gold[:, 0]) <= _stats(tmp_path, 1)["ids"]
    assert set(gold[:, 1]) <= _stats(tmp_path, 2)["ids"]
    # the gold pairs' neighbourhoods correspond as much as the seed's do (below one copy,
    # unmatched tails re-drawn among kept entities may land on gold ones: a little less)
    assert _corresponding_share(tmp_path) == pytest.approx(_corresponding_share(seed),
                                                           abs=0.1 if n > 400 else 0.15)
    # names: a pair's A and B names are as often equal as in the seed (noise carried, not made)
    assert _equal_name_share(tmp_path) == pytest.approx(_equal_name_share(seed), abs=0.1)
    pair = load_dataset(tmp_path)
    assert pair.a.num_entities == pair.b.num_entities == n
    assert len(pair.train) + len(pair.valid) + len(pair.test) == len(gold)


def test_generation_is_deterministic_and_names_distinct_per_copy(seed: Path,
                                                                 tmp_path: Path) -> None:
    grow(seed, tmp_path / "one", 900)
    grow(seed, tmp_path / "two", 900)
    for name in ("ent_ids_1_trans_goo", "ent_ids_2", "triples_1", "triples_2", "ref_ent_ids"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    names = list(read_id_file(tmp_path / "one" / "ent_ids_1_trans_goo").values())
    assert len(set(names)) > 0.9 * len(names)  # copies are not clones of each other's names
    uris = list(read_id_file(tmp_path / "one" / "ent_ids_2").values())
    assert len(set(uris)) > 0.9 * len(uris)


def test_bad_arguments_are_one_line_errors(seed: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="at least 1"):
        grow(seed, tmp_path, 0)
    with pytest.raises(DatasetError, match="rewire"):
        grow(seed, tmp_path, 10, rewire=2.0)
    with pytest.raises(DatasetError, match="JAPE"):
        grow(tmp_path, tmp_path / "out", 10)

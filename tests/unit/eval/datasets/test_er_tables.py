"""ER tables as typed graphs: real table sizes and structure, and csv edge cases on a tiny copy."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from stream_align.eval.datasets.er_tables import load_er, normalise
from stream_align.eval.datasets.errors import DatasetError
from stream_align.graph import Graph, GraphPair

# records per table, labelled pairs, node types: datasets/README.md and the tables' columns.
EXPECTED = {
    "itunes_amazon": ("song", (6907, 484), 539, {"artist", "album", "genre"}),
    "dblp_acm": ("paper", (2616, 2294), 12363, {"venue", "author"}),
    "amazon_google": ("product", (1363, 3226), 11460, {"manufacturer"}),
}


def _type_counts(graph: Graph) -> dict[str, int]:
    types, counts = np.unique(graph.types, return_counts=True)
    return dict(zip(types.tolist(), counts.tolist(), strict=True))


@pytest.mark.parametrize("name", EXPECTED)
def test_tables_become_typed_graphs(er: dict[str, GraphPair], name: str) -> None:
    pair = er[name]
    record, sizes, labelled, node_types = EXPECTED[name]
    for graph, size in ((pair.a, sizes[0]), (pair.b, sizes[1])):
        counts = _type_counts(graph)
        assert counts.pop(record) == size
        assert set(counts) == node_types
        types = np.array(graph.types)
        assert (types[graph.triples[:, 0]] == record).all()
        relation_of_tail = [f"has_{t}" for t in types[graph.triples[:, 2]]]
        assert relation_of_tail == [graph.relations[r] for r in graph.triples[:, 1]]
    splits = [pair.train, pair.valid, pair.test, *pair.non_matches.values()]
    assert sum(map(len, splits)) == labelled
    for split in ("train", "valid", "test"):
        assert len(getattr(pair, split)) > 0 and len(pair.non_matches[split]) > 0
        types_a, types_b = np.array(pair.a.types), np.array(pair.b.types)
        assert (types_a[getattr(pair, split)[:, 0]] == record).all()
        assert (types_b[pair.non_matches[split][:, 1]] == record).all()


def test_a_known_song_and_its_nodes(er: dict[str, GraphPair]) -> None:
    """tableA row 0: Runaway Train, Cam, "Country , Music , Contemporary Country , Honky Tonk"."""
    graph = er["itunes_amazon"].a
    song = next(i for i, (n, a) in enumerate(zip(graph.names, graph.attributes, strict=True))
                if n == "Runaway Train" and a.get("released") == "31-Mar-15")
    assert graph.attributes[song] == {"price": "$ 0.99", "time": "3:01", "released": "31-Mar-15",
                                      "copyright": "2015 Sony Music Entertainment"}
    edges = {(graph.relations[r], graph.names[t]) for h, r, t in graph.triples if h == song}
    assert edges == {("has_artist", "cam"), ("has_album", "welcome to cam country - ep"),
                     ("has_genre", "country"), ("has_genre", "music"),
                     ("has_genre", "contemporary country"), ("has_genre", "honky tonk")}


def test_normalise_merges_spelling_variants() -> None:
    assert normalise(" Hip-Hop / Rap ") == normalise("hip-hop/rap") == "hip-hop/rap"
    assert normalise("R&B  /  Soul") == "r&b/soul"


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    header = "id,title,authors,venue,year\n"
    return _write(tmp_path, {
        "tableA.csv": header + '0,"graphs, streams",'
                               '"ann lee , bo chen , Ann  Lee",vldb,2001\n1,other,?,vldb,\n',
        "tableB.csv": header + "5,Graphs Streams,ann lee,VLDB,2001\n",
        "train.csv": "ltable_id,rtable_id,label\n0,5,1\n1,5,0\n9,5,1\n",
        "test.csv": "ltable_id,rtable_id,label\n0,7,0\n",
    })


def test_quoted_commas_placeholders_and_unknown_ids(tiny: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        pair = load_er(tiny)
    assert "skipped 2" in caplog.text
    index = {name: i for i, name in enumerate(pair.a.names)}
    assert set(index) == {"graphs, streams", "other", "ann lee", "bo chen", "vldb"}
    assert pair.a.attributes[index["graphs, streams"]] == {"year": "2001"}
    assert pair.a.attributes[index["other"]] == {}
    assert pair.train.tolist() == [[index["graphs, streams"], pair.b.names.index("Graphs Streams")]]
    assert len(pair.non_matches["train"]) == 1 and len(pair.test) == 0
    assert len(pair.valid) == 0 and len(pair.non_matches["valid"]) == 0


def test_hide_names_keeps_types_and_attributes(tiny: Path) -> None:
    pair = load_er(tiny, hide_names=True)
    assert not any(pair.a.names) and not any(pair.b.names)
    assert sorted(pair.a.types) == ["author", "author", "paper", "paper", "venue"]
    assert {"year": "2001"} in pair.a.attributes


def test_bad_label_and_unknown_columns_are_errors(tiny: Path) -> None:
    (tiny / "valid.csv").write_text("ltable_id,rtable_id,label\n0,5,yes\n")
    with pytest.raises(DatasetError, match="label"):
        load_er(tiny)
    (tiny / "tableA.csv").write_text("id,colour\n0,red\n")
    with pytest.raises(DatasetError, match="schema"):
        load_er(tiny)

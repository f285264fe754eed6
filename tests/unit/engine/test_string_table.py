"""The mirror's string columns and key index against a list and a dict (decision 0069)."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys

import numpy as np
import pytest

from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.string_table import KeyIndex, StringColumn


def test_a_column_reads_back_what_was_written_set_again_and_compacted() -> None:
    rng = random.Random(3)
    column, expected = StringColumn(), []
    for step in range(20_000):
        if expected and rng.random() < 0.4:
            i = rng.randrange(len(expected))
            text = rng.choice(["", "名字" * rng.randrange(4), f"n{step}", "x" * rng.randrange(90)])
            column.set(i, text)
            expected[i] = text
        else:
            text = f"k{step}é" * rng.randrange(3)
            assert column.append(text) == len(expected)
            expected.append(text)
    column.extend(["tail", "", "末"])
    expected += ["tail", "", "末"]
    assert len(column) == len(expected)
    assert [column[i] for i in range(len(expected))] == expected
    assert list(column) == expected and column[5:9] == expected[5:9]
    nodes = np.array([4, 0, len(expected) - 1, 4])
    assert column.take(nodes) == [expected[i] for i in nodes]
    assert column.nbytes() < 3 * sum(len(t.encode()) for t in expected) + 12 * len(expected) \
        + 65536 * 2  # compacted: stale bytes do not pile up
    with pytest.raises(IndexError):
        column.take([len(expected)])


def test_the_index_finds_every_key_and_no_other_even_when_hashes_clash() -> None:
    column = StringColumn()
    clashing = KeyIndex(column, hasher=lambda key: len(key) % 7)  # long probe runs
    keys = [f"e{i}" * (1 + i % 5) for i in range(3000)]
    for key in keys[:1500]:
        clashing.add(key, column.append(key))
    assert [clashing.get(k) for k in keys[:1500]] == list(range(1500))
    assert all(k not in clashing and clashing.get(k, -7) == -7 for k in keys[1500:])
    with pytest.raises(KeyError):
        clashing["missing"]
    loaded_column = StringColumn()
    loaded_column.extend(keys)
    loaded = KeyIndex(loaded_column)
    loaded.load(keys)
    assert all(loaded[k] == i for i, k in enumerate(keys)) and len(loaded) == len(keys)
    assert "e1e1e1e1e1e1" not in loaded


def test_the_mirror_keeps_entities_as_rows_and_stamps_each_version() -> None:
    graph = MutableGraph("A", "g")
    a = graph.upsert("a", "Person", {"name": "Ann", "born": "1900"})
    b = graph.upsert("b", "", {})
    first = graph.stamps(np.array([a, b])).tolist()
    assert graph.entity(a) is not None and graph.entity(a).attributes == {"born": "1900"}
    assert (graph.entity(a).name, graph.entity(a).type) == ("Ann", "Person")
    assert graph.is_named(a) and not graph.is_named(b) and graph.alive("b")
    graph.add_triple(a, graph.relation_id("r"), b)
    assert graph.delete("b") == [(a, 0, b)] and graph.entity(b) is None
    assert not graph.alive("b") and graph.alive_indices() == [a]
    assert graph.upsert("b", "Place", {"name": "B"}) == b and graph.entity(b).name == "B"
    assert graph.stamps(np.array([a, b])).tolist()[0] == first[0]
    assert graph.stamps(np.array([b]))[0] > first[1]
    restored = MutableGraph("A", "g")
    restored.load_entities(["a", "b"], ["Person", "Place"],
                           [{"name": "Ann", "born": "1900"}, {"name": "B"}])
    assert [restored.entity(i) for i in (0, 1)] == [graph.entity(a), graph.entity(b)]
    with pytest.raises(ValueError):
        MutableGraph("A", "g").load_entities(["a", "a"], ["", ""], [{}, {}])


def test_names_asked_at_once_answer_as_asked_one_at_a_time() -> None:
    """``named_mask`` (a rematch asks it of every pair) against ``is_named``: named, unnamed,
    an empty name, deleted named and unnamed nodes, a node named again after deletion."""
    graph = MutableGraph("A", "g")
    for key, name in [("a", "Ann"), ("b", None), ("c", ""), ("d", "Dee"), ("e", None),
                      ("f", "Fay"), ("g", "北京")]:
        graph.upsert(key, "", {} if name is None else {"name": name})
    graph.delete("d")
    graph.delete("e")
    graph.delete("f")
    graph.upsert("f", "", {"name": "Fay"})
    nodes = np.array([6, 0, 1, 2, 3, 4, 5, 0, 6])
    assert graph.named_mask(nodes).tolist() == [graph.is_named(i) for i in nodes.tolist()]
    assert graph.named_mask(nodes).tolist() == [True, True, False, False, False, False, True,
                                                True, True], "a name misread"


def test_many_keys_are_looked_up_at_once_as_one_at_a_time() -> None:
    for hasher in (hash, lambda key: len(key) % 5):
        column = StringColumn()
        index = KeyIndex(column, hasher=hasher)
        assert index.nodes_of(["x"]).tolist() == [-1]
        keys = [f"k{i}" * (1 + i % 4) for i in range(2000)] + ["", "名"]
        for key in keys:
            index.add(key, column.append(key))
        asked = [*keys[::-3], "absent", "k1k1k1k1k1", "", "名字"]
        assert index.nodes_of(asked).tolist() == [index.get(k, -1) for k in asked]
        assert index.nodes_of([]).tolist() == []


def test_an_index_pickled_here_finds_its_keys_in_a_process_with_another_hash_seed() -> None:
    column = StringColumn()
    index = KeyIndex(column)
    keys = [f"key{i}" for i in range(3000)] + ["名", ""]
    for key in keys:
        index.add(key, column.append(key))
    probe = ("import pickle, sys\n"
             "index = pickle.loads(sys.stdin.buffer.read())\n"
             "print(sum(index.get(f'key{i}') == i for i in range(3000)), index.get('名'),"
             " 'key3000' in index)")
    seeds = {"1", "2"} - {os.environ.get("PYTHONHASHSEED")}
    env = {**os.environ, "PYTHONHASHSEED": seeds.pop()}
    done = subprocess.run([sys.executable, "-c", probe], input=pickle.dumps(index), env=env,
                          capture_output=True, check=True)
    assert done.stdout.split() == [b"3000", b"3000", b"False"]

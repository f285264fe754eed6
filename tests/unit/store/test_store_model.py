"""Model-based test: the store, driven by random operations, behaves like plain dicts.

Pending writes must be visible inside the transaction, commits must persist them, rollbacks and
reopens must discard exactly the uncommitted ones. Ids include ``\\x00``, the empty string and
prefixes of each other, to stress the key encoding and the merged prefix scans.
"""

import copy
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from stream_align.store import Decision, Degree, Edge, StateStore, StoreSettings, Triple

GRAPHS = st.sampled_from(["A", "B"])
IDS = st.sampled_from(["a", "ab", "a\x00", "", "é"])
RELATIONS = st.sampled_from(["r", "r\x00s"])


@dataclass
class Model:
    """The expected logical state."""

    triples: set[Triple] = field(default_factory=set)
    entities: dict[tuple[str, str], str] = field(default_factory=dict)
    offsets: dict[int, int] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="store-model-")
        self.settings = StoreSettings(
            path=Path(self.directory) / "db", block_cache_mb=1, memtable_budget_mb=4
        )
        self.store = StateStore(self.settings)
        self.tx = self.store.transaction()
        self.committed = Model()
        self.pending = Model()

    def _restart_transaction(self) -> None:
        self.pending = copy.deepcopy(self.committed)
        self.tx = self.store.transaction()

    @rule(graph=GRAPHS, head=IDS, relation=RELATIONS, tail=IDS)
    def add_triple(self, graph: str, head: str, relation: str, tail: str) -> None:
        triple = Triple(graph, head, relation, tail)
        assert self.tx.graph.add_triple(*triple) == (triple not in self.pending.triples)
        self.pending.triples.add(triple)

    @rule(graph=GRAPHS, head=IDS, relation=RELATIONS, tail=IDS)
    def remove_triple(self, graph: str, head: str, relation: str, tail: str) -> None:
        triple = Triple(graph, head, relation, tail)
        assert self.tx.graph.remove_triple(*triple) == (triple in self.pending.triples)
        self.pending.triples.discard(triple)

    @rule(graph=GRAPHS, entity=IDS, name=st.text(max_size=3))
    def upsert_entity(self, graph: str, entity: str, name: str) -> None:
        self.tx.graph.upsert_entity(graph, entity, "type", {"name": name})
        self.pending.entities[graph, entity] = name

    @rule(graph=GRAPHS, entity=IDS)
    def delete_entity(self, graph: str, entity: str) -> None:
        incident = {
            t for t in self.pending.triples if t.graph == graph and entity in (t.head, t.tail)
        }
        assert set(self.tx.graph.delete_entity(graph, entity)) == incident
        self.pending.triples -= incident
        self.pending.entities.pop((graph, entity), None)

    @rule(partition=st.integers(0, 2), offset=st.integers(0, 2**40))
    def set_offset(self, partition: int, offset: int) -> None:
        self.tx.delivery.set_offset("in", partition, offset)
        self.pending.offsets[partition] = offset

    @rule(left=IDS, right=IDS, score=st.floats(0, 1))
    def decide(self, left: str, right: str, score: float) -> None:
        decision = Decision(left, right, score, "MATCH")
        self.tx.decisions.put(decision)
        self.pending.decisions[left] = decision

    @rule()
    def commit(self) -> None:
        self.tx.commit()
        self.committed = copy.deepcopy(self.pending)
        self._restart_transaction()

    @rule()
    def rollback(self) -> None:
        self.tx.rollback()
        self._restart_transaction()

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = StateStore(self.settings)
        self._restart_transaction()

    @invariant()
    def transaction_sees_the_pending_model(self) -> None:
        model, graph = self.pending, self.tx.graph
        for name in ["A", "B"]:
            expected = sorted(t for t in model.triples if t.graph == name)
            assert sorted(graph.triples(name)) == expected
            for entity in ["a", "ab", "a\x00", "", "é"]:
                out = sorted(Edge(t.relation, t.tail) for t in expected if t.head == entity)
                inc = sorted(Edge(t.relation, t.head) for t in expected if t.tail == entity)
                assert sorted(graph.out_edges(name, entity)) == out
                assert sorted(graph.in_edges(name, entity)) == inc
                assert graph.degree(name, entity) == Degree(len(out), len(inc))
            stored = {(name, e.id): e.attributes["name"] for e in graph.entities(name)}
            assert stored == {k: v for k, v in model.entities.items() if k[0] == name}
        assert {tp.partition: o for tp, o in self.tx.delivery.offsets()} == model.offsets
        assert list(self.tx.decisions.all()) == sorted(
            model.decisions.values(), key=lambda d: d.left
        )

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.directory, ignore_errors=True)


StoreMachine.TestCase.settings = settings(max_examples=10, stateful_step_count=25, deadline=None)
TestStoreMachine = StoreMachine.TestCase

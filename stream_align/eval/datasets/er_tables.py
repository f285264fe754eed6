"""Structured entity-matching benchmarks (DeepMatcher/Magellan tables) as two typed graphs.

Format: ``tableA.csv`` and ``tableB.csv`` (``tableB_subset.csv`` for iTunes-Amazon) with an ``id``
column and one row per record; ``train/valid/test.csv`` hold ``ltable_id,rtable_id,label``.
Fields may be quoted and contain commas.

Choices: each row becomes a *record* entity typed by the dataset (``song``, ``paper``,
``product``) and named by its title column. Categorical columns become typed *node* entities,
deduplicated per graph by normalised name (lower case, single spaces, no spaces around ``/``)
and named by it, linked from the record by ``has_<type>``: song → artist, album, genre (each
comma-separated piece); paper → venue, author (each comma-separated piece); product →
manufacturer. Every other column (price, time, release date, copyright, year) stays a record
attribute keyed by the lower-cased column name. Placeholders (``?``, ``--``, ``#NAME ?``) count
as missing. Splits: ``label == 1`` rows are the gold pairs, ``label == 0`` rows go to
``non_matches``; rows naming ids absent from the tables are skipped with a warning.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stream_align.eval.datasets.errors import DatasetError
from stream_align.graph import Graph, GraphPair, Remap, pairs_array

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
TABLE_B_FILES = ("tableB.csv", "tableB_subset.csv")
MISSING = frozenset({"", "?", "--", "#name ?", "#name?"})


@dataclass(frozen=True)
class NodeColumn:
    """A categorical column turned into typed node entities."""

    column: str
    type: str
    multi: bool = False  # comma-separated list of values

    @property
    def relation(self) -> str:
        return f"has_{self.type}"


@dataclass(frozen=True)
class Schema:
    """How one benchmark's columns map to record type, record name and node entities."""

    record_type: str
    title_columns: tuple[str, ...]
    nodes: tuple[NodeColumn, ...]

    def matches(self, header: list[str]) -> bool:
        return any(c in header for c in self.title_columns) and all(
            n.column in header for n in self.nodes)


SCHEMAS = (
    Schema("song", ("Song_Name",), (NodeColumn("Artist_Name", "artist"),
                                    NodeColumn("Album_Name", "album"),
                                    NodeColumn("Genre", "genre", multi=True))),
    Schema("paper", ("title",), (NodeColumn("venue", "venue"),
                                 NodeColumn("authors", "author", multi=True))),
    Schema("product", ("title", "name"), (NodeColumn("manufacturer", "manufacturer"),)),
)


def is_er_layout(path: Path) -> bool:
    return (path / "tableA.csv").exists() and any((path / f).exists() for f in TABLE_B_FILES)


def normalise(text: str) -> str:
    """Node identity: ``"Hip-Hop / Rap"`` and ``"hip-hop/rap"`` are the same genre."""
    return re.sub(r"\s*/\s*", "/", " ".join(text.lower().split()))


def _clean(value: str | None) -> str:
    """The stripped value, or ``""`` for an empty cell or a placeholder."""
    value = (value or "").strip()
    return "" if value.lower() in MISSING else value


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


@dataclass
class _GraphBuilder:
    """Accumulates records and deduplicated nodes of one graph, in raw (unpermuted) order."""

    schema: Schema
    hide_names: bool
    names: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    attributes: list[dict[str, str]] = field(default_factory=list)
    triples: list[tuple[int, int, int]] = field(default_factory=list)
    nodes: dict[tuple[str, str], int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)

    def _entity(self, name: str, type_: str, attributes: dict[str, str]) -> int:
        self.names.append("" if self.hide_names else name)
        self.types.append(type_)
        self.attributes.append(attributes)
        return len(self.names) - 1

    def _node(self, type_: str, name: str) -> int:
        key = (type_, normalise(name))
        if key not in self.nodes:
            self.nodes[key] = self._entity(key[1], type_, {})
        return self.nodes[key]

    def add_record(self, row: dict[str, str], title: str) -> None:
        skip = {"id", title, *(n.column for n in self.schema.nodes)}
        attributes = {col.lower(): _clean(value) for col, value in row.items()
                      if col not in skip and _clean(value)}
        if row["id"] in self.records:
            raise DatasetError(f"record id {row['id']!r} occurs twice")
        record = self._entity(_clean(row[title]), self.schema.record_type, attributes)
        self.records[row["id"]] = record
        for rel, spec in enumerate(self.schema.nodes):
            values = row[spec.column].split(",") if spec.multi else [row[spec.column]]
            # dict.fromkeys: a value repeated in one cell ("Pop , Music , Pop") is one edge.
            targets = dict.fromkeys(self._node(spec.type, v) for v in values if _clean(v))
            self.triples.extend((record, rel, node) for node in targets)

    def build(self, label: str, seed: int) -> tuple[Graph, dict[str, int]]:
        """Permute into a leak-free :class:`Graph`; also return table id → index."""
        remap = Remap(range(len(self.names)), label, seed)
        raw_triples = np.asarray(self.triples, dtype=np.int64).reshape(-1, 3)
        graph = Graph(
            label=label,
            keys=remap.keys,
            names=[self.names[raw] for raw in remap.raw_ids],
            types=[self.types[raw] for raw in remap.raw_ids],
            attributes=[self.attributes[raw] for raw in remap.raw_ids],
            relations=[n.relation for n in self.schema.nodes],
            triples=remap.triples(raw_triples, {r: r for r in range(len(self.schema.nodes))}),
        )
        return graph, {table_id: remap(raw) for table_id, raw in self.records.items()}


def _graph(path: Path, label: str, hide_names: bool, seed: int) -> tuple[Graph, dict[str, int]]:
    header, rows = _read_rows(path)
    schema = next((s for s in SCHEMAS if s.matches(header)), None)
    if schema is None or "id" not in header:
        known = "; ".join(f"{s.record_type}: {'/'.join(s.title_columns)}, "
                          + ", ".join(n.column for n in s.nodes) for s in SCHEMAS)
        raise DatasetError(f"{path}: columns {header} match no known ER schema (id plus {known})")
    title = next(c for c in schema.title_columns if c in header)
    builder = _GraphBuilder(schema, hide_names)
    for row in rows:
        builder.add_record(row, title)
    return builder.build(label, seed)


def _read_split(path: Path, ids_a: dict[str, int], ids_b: dict[str, int]
                ) -> tuple[np.ndarray, np.ndarray, int]:
    """Positive pairs, negative pairs and the number of rows skipped for unknown ids."""
    if not path.exists():
        return pairs_array([]), pairs_array([]), 0
    by_label: dict[str, list[tuple[int, int]]] = {"1": [], "0": []}
    skipped = 0
    for row in _read_rows(path)[1]:
        left, right, label = row["ltable_id"], row["rtable_id"], row["label"].strip()
        if label not in by_label:
            raise DatasetError(f"{path}: label {label!r} is neither 0 nor 1")
        if left not in ids_a or right not in ids_b:
            skipped += 1
            continue
        by_label[label].append((ids_a[left], ids_b[right]))
    return pairs_array(by_label["1"]), pairs_array(by_label["0"]), skipped


def load_er(path: Path, hide_names: bool = False, seed: int = 0) -> GraphPair:
    """Load an ER benchmark directory into a typed, leak-free :class:`GraphPair`."""
    table_b = next((path / f for f in TABLE_B_FILES if (path / f).exists()), None)
    if table_b is None:
        raise DatasetError(f"{path}: none of {TABLE_B_FILES} found")
    a, ids_a = _graph(path / "tableA.csv", "A", hide_names, seed)
    b, ids_b = _graph(table_b, "B", hide_names, seed)
    positives, negatives, skipped = {}, {}, 0
    for split in SPLITS:
        positives[split], negatives[split], n = _read_split(path / f"{split}.csv", ids_a, ids_b)
        skipped += n
    if skipped:
        log.warning("%s: skipped %d labelled pairs naming ids absent from the tables",
                    path.name, skipped)
    return GraphPair(name=path.name, a=a, b=b, train=positives["train"],
                     valid=positives["valid"], test=positives["test"], non_matches=negatives)

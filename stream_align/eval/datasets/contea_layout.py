"""ContEA ZH-EN: two growing graphs in six snapshots (continual alignment).

Format (tab-separated, ids are one id space shared by both graphs but disjoint between them):
``rel_dict`` (``rel_id  URI``, both graphs); ``base/`` = snapshot 0 with ``triples_1/2`` and
``train_links``/``valid_links``/``test_links``; ``batchK/`` adds ``new_triples_1/2`` and gives
``new_test_links`` (first seen at K) and ``all_test_links`` (the test set at K);
``DERIVED_base_entity_uris.tsv`` (``contea_id  graph  URI  dbp15k_id``) names most base entities.

Choices: each graph holds every entity of every snapshot (so events can name them before they
appear); ``a.triples``/``b.triples`` are the base snapshot and ``snapshots`` the batches in order.
A graph's ``relations`` are the ``rel_dict`` entries it uses (the two graphs use disjoint sets:
1,701 and 1,323, as in DBP15K), in ``rel_dict`` id order. Names: graph A (zh) prefers the DBP15K
English machine translation (``../../dbp15k/zh_en/ent_ids_1_trans_goo``, when present) so both
graphs carry English names as with DBP15K; otherwise the URI local name; ``""`` for entities
without a recovered URI (every entity first seen in a batch). No types, no attributes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stream_align.eval.datasets.errors import DatasetError
from stream_align.eval.datasets.jape_layout import local_name, read_id_file, read_int_rows
from stream_align.graph import Graph, GraphPair, Remap, Snapshot, map_pairs

URI_FILE = "DERIVED_base_entity_uris.tsv"
TRANSLATIONS = Path("dbp15k") / "zh_en" / "ent_ids_1_trans_goo"


def is_contea_layout(path: Path) -> bool:
    return (path / "rel_dict").exists() and (path / "base" / "triples_1").exists()


def _batch_dirs(path: Path) -> list[Path]:
    """``batch1..batchN`` in numeric order (``batch10`` after ``batch9``)."""
    dirs = [d for d in path.glob("batch*") if d.is_dir() and d.name[5:].isdigit()]
    return sorted(dirs, key=lambda d: int(d.name[5:]))


def _read_names(path: Path) -> tuple[dict[int, str], dict[int, str]]:
    """ContEA id → name for graph A and graph B, from the recovered DBpedia URIs."""
    trans_file = path.resolve().parent.parent / TRANSLATIONS
    translated = read_id_file(trans_file) if trans_file.exists() else {}
    names: tuple[dict[int, str], dict[int, str]] = ({}, {})
    uri_file = path / URI_FILE
    if not uri_file.exists():
        return names
    with uri_file.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            contea_id, side, uri, *dbp = line.rstrip("\n").split("\t")
            name = translated.get(int(dbp[0])) if side == "1" and dbp and dbp[0] else None
            names[int(side) - 1][int(contea_id)] = name or local_name(uri)
    return names


def _graph(label: str, triples: list[np.ndarray], links: list[np.ndarray], rel_dict: dict[int, str],
           names: dict[int, str], seed: int) -> tuple[Graph, Remap, dict[int, int]]:
    """Graph with every entity in ``triples`` (all snapshots) or ``links`` (this side's column).

    ``names`` is empty for a name-blind load, so every name is ``""``.
    """
    every = np.concatenate(triples)
    raw_ids = np.unique(np.concatenate([every[:, 0], every[:, 2], *links]))
    used = np.unique(every[:, 1]).tolist()
    unknown = sorted(set(used) - rel_dict.keys())
    if unknown:
        raise DatasetError(f"graph {label} uses relation ids missing from rel_dict: {unknown[:10]}")
    rel_index = {r: i for i, r in enumerate(used)}
    remap = Remap(raw_ids.tolist(), label, seed)
    graph = Graph(
        label=label,
        keys=remap.keys,
        names=[names.get(raw, "") for raw in remap.raw_ids],
        types=["" for _ in remap.raw_ids],
        attributes=[{} for _ in remap.raw_ids],
        relations=[rel_dict[r] for r in used],
        triples=remap.triples(triples[0], rel_index),
    )
    return graph, remap, rel_index


def load_contea(path: Path, hide_names: bool = False, seed: int = 0) -> GraphPair:
    """Load a ContEA directory: base graphs and splits, plus one :class:`Snapshot` per batch."""
    base, batches = path / "base", _batch_dirs(path)
    rel_dict = read_id_file(path / "rel_dict")
    links = {s: read_int_rows(base / f"{s}_links", 2) for s in ("train", "valid", "test")}
    links.update({f"{d.name}/{kind}": read_int_rows(d / f"{kind}_test_links", 2)
                  for d in batches for kind in ("new", "all")})
    triples = {side: [read_int_rows(base / f"triples_{side}", 3)]
               + [read_int_rows(d / f"new_triples_{side}", 3) for d in batches] for side in (1, 2)}
    names_a, names_b = ({}, {}) if hide_names else _read_names(path)
    a, remap_a, rels_a = _graph("A", triples[1], [p[:, 0] for p in links.values()], rel_dict,
                                names_a, seed)
    b, remap_b, rels_b = _graph("B", triples[2], [p[:, 1] for p in links.values()], rel_dict,
                                names_b, seed)
    pairs = {key: map_pairs(raw, remap_a, remap_b) for key, raw in links.items()}
    snapshots = [
        Snapshot(
            name=d.name,
            triples_a=remap_a.triples(triples[1][k], rels_a),
            triples_b=remap_b.triples(triples[2][k], rels_b),
            test=pairs[f"{d.name}/all"],
            new_test=pairs[f"{d.name}/new"],
        )
        for k, d in enumerate(batches, start=1)
    ]
    return GraphPair(name=path.name, a=a, b=b, train=pairs["train"], valid=pairs["valid"],
                     test=pairs["test"], snapshots=snapshots)

"""DBP15K and SRPRS: the JAPE file layout (``ent_ids_*``, ``rel_ids_*``, ``triples_*``, pairs).

Names: DBP15K graph A uses the machine translation ``ent_ids_1_trans_goo``; every other graph the
URI's local name. SRPRS ``ent_ids_2`` already holds names (equal to graph A's for every gold pair,
the name leak), so a name-blind run hides names in both graphs. SRPRS ``ref_ent_ids`` holds all
15,000 gold pairs: test is ``ref - sup``. SRPRS ``training_attrs_1`` lists which attribute
predicates graph A's entities have (no values): kept as attributes with empty values.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import numpy as np

from stream_align.graph import Graph, GraphPair, Remap, map_pairs


def local_name(uri: str) -> str:
    """``http://dbpedia.org/resource/Kim_Dae-jung`` → ``Kim Dae-jung``."""
    tail = uri.rstrip("/").rsplit("/", 1)[-1]
    return unquote(tail).replace("_", " ")


def read_id_file(path: Path) -> dict[int, str]:
    out: dict[int, str] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[0].strip():
                out[int(parts[0])] = parts[1]
    return out


def read_int_rows(path: Path, width: int) -> np.ndarray:
    if not path.exists() or path.stat().st_size == 0:
        return np.zeros((0, width), dtype=np.int64)
    return np.loadtxt(path, dtype=np.int64, ndmin=2, delimiter="\t")[:, :width]


def is_jape_layout(path: Path) -> bool:
    return (path / "ent_ids_1").exists() and (path / "triples_1").exists()


def _read_attrs(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    attrs: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            uri, *preds = line.rstrip("\n").split("\t")
            attrs[uri] = {local_name(p): "" for p in preds if p}
    return attrs


def _graph(path: Path, side: int, names: dict[int, str], hide_names: bool, seed: int,
           attrs_by_uri: dict[str, dict[str, str]]) -> tuple[Graph, Remap]:
    uris = read_id_file(path / f"ent_ids_{side}")
    rels = read_id_file(path / f"rel_ids_{side}")
    label = "A" if side == 1 else "B"
    remap = Remap(sorted(uris), label, seed)
    rel_ids = sorted(rels)
    rel_index = {r: i for i, r in enumerate(rel_ids)}
    triples = remap.triples(read_int_rows(path / f"triples_{side}", 3), rel_index)
    graph = Graph(
        label=label,
        keys=remap.keys,
        names=["" if hide_names else names.get(raw, local_name(uris[raw]))
               for raw in remap.raw_ids],
        types=["" for _ in remap.raw_ids],
        attributes=[dict(attrs_by_uri.get(uris[raw], {})) for raw in remap.raw_ids],
        relations=[rels[r] for r in rel_ids],
        triples=triples,
    )
    return graph, remap


def load_jape(path: Path, hide_names: bool = False, seed: int = 0) -> GraphPair:
    """Load a DBP15K or SRPRS directory into a leak-free :class:`GraphPair`."""
    trans = path / "ent_ids_1_trans_goo"
    names_a = read_id_file(trans) if trans.exists() else {}
    a, remap_a = _graph(path, 1, names_a, hide_names, seed, _read_attrs(path / "training_attrs_1"))
    b, remap_b = _graph(path, 2, {}, hide_names, seed, {})

    sup = read_int_rows(path / "sup_ent_ids", 2)
    ref = read_int_rows(path / "ref_ent_ids", 2)
    sup_set = {tuple(p) for p in sup.tolist()}
    test_raw = np.array([p for p in ref.tolist() if tuple(p) not in sup_set], dtype=np.int64)
    train = map_pairs(sup, remap_a, remap_b)
    # A validation split is carved from the training pairs (10%, seeded) for early stopping.
    order = np.random.default_rng(seed).permutation(len(train))
    n_valid = len(train) // 10
    return GraphPair(
        name=path.name,
        a=a,
        b=b,
        train=train[np.sort(order[n_valid:])],
        valid=train[np.sort(order[:n_valid])],
        test=map_pairs(test_raw.reshape(-1, 2), remap_a, remap_b),
    )

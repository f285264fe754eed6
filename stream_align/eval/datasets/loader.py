"""One entry point for every benchmark layout, and the summary counts the CLI and tests print.

Layouts are recognised by their files, not by directory names, so a copy of a dataset elsewhere
loads the same way: JAPE (DBP15K, SRPRS), ContEA (continual snapshots), ER tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from stream_align.eval.datasets.contea_layout import is_contea_layout, load_contea
from stream_align.eval.datasets.er_tables import is_er_layout, load_er
from stream_align.eval.datasets.errors import DatasetError
from stream_align.eval.datasets.jape_layout import is_jape_layout, load_jape
from stream_align.graph import Graph, GraphPair


class Layout(NamedTuple):
    description: str
    detect: Callable[[Path], bool]
    load: Callable[..., GraphPair]


LAYOUTS = (
    Layout("ContEA: rel_dict + base/triples_1", is_contea_layout, load_contea),
    Layout("JAPE (DBP15K, SRPRS): ent_ids_1 + triples_1", is_jape_layout, load_jape),
    Layout("ER tables: tableA.csv + tableB.csv (or tableB_subset.csv)", is_er_layout, load_er),
)


def load_dataset(path: Path, hide_names: bool = False, seed: int = 0) -> GraphPair:
    """Detect the layout of ``path`` and load it into a leak-free :class:`GraphPair`."""
    path = Path(path)
    if path.is_dir():
        for layout in LAYOUTS:
            if layout.detect(path):
                return layout.load(path, hide_names=hide_names, seed=seed)
    expected = "; ".join(layout.description for layout in LAYOUTS)
    raise DatasetError(f"{path} is not a dataset directory; expected one of: {expected}")


def _graph_stats(graph: Graph) -> dict[str, Any]:
    """``entities_in_triples``: entities not isolated in ``graph.triples`` (the ContEA base)."""
    return {
        "entities": graph.num_entities,
        "entities_in_triples": _seen_counter(graph)(graph.triples),
        "triples": len(graph.triples),
        "relations": len(graph.relations),
        "named": sum(1 for name in graph.names if name),
        "types": dict(Counter(t for t in graph.types if t)),
    }


def _seen_counter(graph: Graph) -> Callable[[np.ndarray], int]:
    """Running count of entities that occur in the triples added so far (snapshot growth)."""
    seen = np.zeros(graph.num_entities, dtype=bool)

    def add(triples: np.ndarray) -> int:
        seen[triples[:, 0]] = True
        seen[triples[:, 2]] = True
        return int(seen.sum())

    add(graph.triples)
    return add


def dataset_stats(pair: GraphPair) -> dict[str, Any]:
    """Counts per graph, per split and per snapshot (plain ints: JSON-ready)."""
    grow_a, grow_b = _seen_counter(pair.a), _seen_counter(pair.b)
    return {
        "name": pair.name,
        "a": _graph_stats(pair.a),
        "b": _graph_stats(pair.b),
        "pairs": {split: len(getattr(pair, split)) for split in ("train", "valid", "test")},
        "non_matches": {split: len(pairs) for split, pairs in pair.non_matches.items()},
        "snapshots": [
            {
                "name": snap.name,
                "new_triples_a": len(snap.triples_a),
                "new_triples_b": len(snap.triples_b),
                "entities_a": grow_a(snap.triples_a),
                "entities_b": grow_b(snap.triples_b),
                "test": len(snap.test),
                "new_test": len(snap.new_test),
            }
            for snap in pair.snapshots
        ],
    }

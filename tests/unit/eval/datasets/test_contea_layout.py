"""ContEA: the real ZH-EN snapshots against the README, and a tiny synthetic copy for names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stream_align.eval.datasets.contea_layout import load_contea
from stream_align.eval.datasets.errors import DatasetError
from stream_align.graph import GraphPair


def _pairs(array: np.ndarray) -> set[tuple[int, int]]:
    return {tuple(p) for p in array.tolist()}


def test_base_matches_the_readme(contea: GraphPair) -> None:
    assert (len(contea.train), len(contea.valid), len(contea.test)) == (3623, 1811, 12682)
    assert (len(contea.a.triples), len(contea.b.triples)) == (70414, 95142)
    assert (len(contea.a.relations), len(contea.b.relations)) == (1701, 1323)
    assert not set(contea.a.relations) & set(contea.b.relations)


def test_snapshots_grow_the_graphs_and_the_test_set(contea: GraphPair) -> None:
    assert [s.name for s in contea.snapshots] == [f"batch{k}" for k in range(1, 6)]
    assert (contea.a.num_entities, contea.b.num_entities) == (84381, 132425)
    test = _pairs(contea.test)
    for snap in contea.snapshots:
        assert _pairs(snap.test) == test | _pairs(snap.new_test)
        test = _pairs(snap.test)
    assert len(test) == 24678


def test_only_base_entities_have_names(contea: GraphPair) -> None:
    in_base = np.zeros(contea.a.num_entities, dtype=bool)
    in_base[contea.a.triples[:, [0, 2]].ravel()] = True
    named = np.array([bool(name) for name in contea.a.names])
    assert not (named & ~in_base).any()
    assert (named.sum(), sum(map(bool, contea.b.names))) == (18382, 18606)
    # A names are English translations: more than half the named test pairs agree exactly.
    agree = [contea.a.names[i] == contea.b.names[j] for i, j in contea.test
             if contea.a.names[i] and contea.b.names[j]]
    assert np.mean(agree) > 0.5


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """Two entities per graph in base (ids 0,1 | 10,11), one more each in batch1 (2 | 12)."""
    _write(tmp_path, {
        "dbp15k/zh_en/ent_ids_1_trans_goo": "7\tBeijing\n",
        "contea/T/rel_dict": "0\thttp://zh.dbpedia.org/property/capital\n"
                             "1\thttp://dbpedia.org/property/capital\n",
        "contea/T/DERIVED_base_entity_uris.tsv":
            "#contea_ent_id\tkg\tdbpedia_uri\tdbp15k_jape_ent_id\n"
            "0\t1\thttp://zh.dbpedia.org/resource/北京\t7\n"
            "1\t1\thttp://zh.dbpedia.org/resource/中国\t8\n"
            "10\t2\thttp://dbpedia.org/resource/Beijing\t20\n",
        "contea/T/base/triples_1": "0\t0\t1\n",
        "contea/T/base/triples_2": "10\t1\t11\n",
        "contea/T/base/train_links": "0\t10\n",
        "contea/T/base/valid_links": "",
        "contea/T/base/test_links": "1\t11\n",
        "contea/T/batch1/new_triples_1": "2\t0\t0\n",
        "contea/T/batch1/new_triples_2": "12\t1\t10\n",
        "contea/T/batch1/new_test_links": "2\t12\n",
        "contea/T/batch1/all_test_links": "1\t11\n2\t12\n",
    })
    return tmp_path / "contea" / "T"


def test_names_prefer_the_translation(tiny: Path) -> None:
    pair = load_contea(tiny)
    names = {pair.a.names[i]: pair.b.names[j] for i, j in [*pair.train, *pair.snapshots[0].test]}
    # Translated, URI local name (no translation for DBP15K id 8), unnamed batch entity.
    assert names == {"Beijing": "Beijing", "中国": "", "": ""}
    assert len(pair.valid) == 0 and pair.valid.shape == (0, 2)


def test_hide_names_in_a_tiny_copy(tiny: Path) -> None:
    pair = load_contea(tiny, hide_names=True)
    assert not any(pair.a.names) and not any(pair.b.names)


def test_unknown_relation_id_is_an_error(tiny: Path) -> None:
    (tiny / "batch1" / "new_triples_2").write_text("12\t5\t10\n")
    with pytest.raises(DatasetError, match="rel_dict"):
        load_contea(tiny)

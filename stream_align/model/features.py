"""Level-0 entity features: what an entity *is* before its neighbours are looked at.

- names: character n-gram counts (``char_wb``, hashed into ``name_dim`` buckets, no vocabulary to
  ship; ``char_hash``, scikit-learn's ``HashingVectorizer`` bit for bit without importing it),
  sublinear TF × IDF, unit length. Measured on DBP15K zh_en the hashing costs nothing:
  512 buckets give names-only Hits@1 0.808 against 0.809 for the exact 2–4-gram TF-IDF;
- attributes: the same hashing over ``key=value`` strings, in a separate space (one graph may
  have attributes the other lacks);
- numbers and dates: ``sign·log1p|x|`` hashed by attribute key, so scale-free values compare;
- type: an id into the frozen type vocabulary (embedded by the encoder).

The IDF weights are fitted on both graphs at training time and frozen into the artifact: the
same name always maps to the same vector.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from stream_align.graph import Graph
from stream_align.model.char_hash import char_wb_counts
from stream_align.model.settings import FeatureSettings
from stream_align.model.sparse_rows import unit_rows

_DATE = re.compile(r"^(-?\d{1,4})-(\d{1,2})(?:-(\d{1,2}))?")


@dataclass
class Level0:
    """Level-0 features of one graph (rows = entity indices)."""

    names: sp.csr_matrix  # float32 (n, name_dim), unit rows (zero where no name)
    attrs: sp.csr_matrix  # float32 (n, attr_dim), unit rows
    numeric: np.ndarray  # float32 (n, numeric_dim)


def attribute_text(attributes: dict[str, str]) -> str:
    """Attribute keys and values as one string (keys matter: SRPRS lists only predicates)."""
    return " ".join(f"{k}={v}" if v else k for k, v in sorted(attributes.items()))


def parse_number(value: str) -> float | None:
    """A float, or a date as fractional year; ``None`` for text."""
    match = _DATE.match(value.strip())
    if match:
        year, month, day = (int(g) if g else 1 for g in match.groups())
        return year + (month - 1) / 12 + (day - 1) / 365
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        return None
    return number if np.isfinite(number) else None


def numeric_features(attributes: list[dict[str, str]], dim: int) -> np.ndarray:
    out = np.zeros((len(attributes), dim), dtype=np.float32)
    for i, attrs in enumerate(attributes):
        for key, value in attrs.items():
            number = parse_number(value) if value else None
            if number is not None:
                bucket = zlib.crc32(key.encode("utf-8")) % dim
                out[i, bucket] = np.sign(number) * np.log1p(abs(number)) / 10.0
    return out


def _counts(texts: list[str], settings: FeatureSettings, dim: int) -> sp.csr_matrix:
    counts = char_wb_counts(texts, settings.ngram_min, settings.ngram_max, dim)
    counts.data = 1.0 + np.log(counts.data)  # sublinear TF
    return counts


def fit_idf(graphs: list[Graph], settings: FeatureSettings) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed IDF per name bucket and per attribute bucket, over every entity of both graphs."""
    result = []
    for dim, texts in ((settings.name_dim, [n for g in graphs for n in g.names]),
                       (settings.attr_dim, [attribute_text(a) for g in graphs
                                            for a in g.attributes])):
        df = np.bincount(_counts(texts, settings, dim).indices, minlength=dim)
        result.append((np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32))
    return result[0], result[1]


def level0(graph: Graph, settings: FeatureSettings, name_idf: np.ndarray,
           attr_idf: np.ndarray) -> Level0:
    """Features of every entity of ``graph`` with frozen IDF weights."""
    names = unit_rows(_counts(graph.names, settings, settings.name_dim) @ sp.diags(name_idf))
    attrs = unit_rows(_counts([attribute_text(a) for a in graph.attributes], settings,
                              settings.attr_dim) @ sp.diags(attr_idf))
    return Level0(names=names.astype(np.float32).tocsr(), attrs=attrs.astype(np.float32).tocsr(),
                  numeric=numeric_features(graph.attributes, settings.numeric_dim))

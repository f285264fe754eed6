"""The service's n-gram hashing gives scikit-learn's ``HashingVectorizer`` bytes exactly: every
trained model's frozen IDF weights index its buckets (``model.char_hash``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

from stream_align.eval.datasets.loader import load_dataset
from stream_align.model.char_hash import char_wb_counts, murmur3_32
from stream_align.model.features import attribute_text


def _sklearn(texts: list[str], lo: int, hi: int, dim: int) -> sp.csr_matrix:
    return HashingVectorizer(analyzer="char_wb", ngram_range=(lo, hi), n_features=dim,
                             alternate_sign=False, norm=None, lowercase=True,
                             dtype=np.float32).transform(texts).tocsr()


def _same(texts: list[str], lo: int, hi: int, dim: int) -> None:
    got, want = char_wb_counts(texts, lo, hi, dim), _sklearn(texts, lo, hi, dim)
    assert type(got) is type(want) and got.shape == want.shape
    assert got.indices.dtype == want.indices.dtype and got.data.dtype == want.data.dtype
    for a, b in ((got.indptr, want.indptr), (got.indices, want.indices),
                 (got.data.view(np.uint8), want.data.view(np.uint8))):
        np.testing.assert_array_equal(a, b)


def test_murmur3_is_sklearns_on_every_length_and_byte() -> None:
    """Keys of 0–23 bytes (every tail length, up to five blocks), high bytes included."""
    rng = np.random.default_rng(0)
    keys = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in range(24) for _ in range(40)]
    buffer = np.frombuffer(b"".join(keys) + b"\0\0\0", dtype=np.uint8)
    lengths = np.array([len(k) for k in keys], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    got = murmur3_32(buffer, starts, lengths)
    assert got.tolist() == [murmurhash3_32(k, seed=0, positive=False) for k in keys]


TRICKY = [
    "", " ", "a", "AB", "Ab c", "  leading and   trailing  ", "tab\tnew\nline\r\x0bv\x0cf",
    "北京市 海淀区", "Ünïcödé ÀÉÎ", "İstanbul ǅ ß ﬁ", "emoji 😀 mixed 𝔘𝔫𝔦",
    "a\u3000b\u00a0c\u2003d",
    "x" * 300, "combining e\u0301 and o\u0308", "1999-01-02 -3.5e7", "Đặng Thị Ngọc Thịnh",
    "ا ب ت", "日本語のテキスト", "a b c d e f g h", "\x1c\x1d\x1e\x1f sep",
]


@pytest.mark.parametrize(("lo", "hi", "dim"), [(2, 4, 512), (2, 4, 1024), (1, 1, 97),
                                               (1, 3, 1000), (3, 6, 1 << 18), (5, 5, 7)])
def test_tricky_texts_hash_as_sklearn(lo: int, hi: int, dim: int) -> None:
    """Case folding that changes length, every kind of white space, 1–4-byte characters,
    words shorter than the shortest n-gram, empty texts, bucket counts not powers of two."""
    _same(TRICKY, lo, hi, dim)
    _same(TRICKY[::-1] * 3, lo, hi, dim)


def test_empty_call_is_an_empty_matrix() -> None:
    got = char_wb_counts([], 2, 4, 512)
    assert got.shape == (0, 512) and got.nnz == 0 and got.dtype == np.float32


@pytest.mark.parametrize("name", ["dbp15k/zh_en", "contea/ZH-EN", "srprs/dbp_wd_15k_V1",
                                  "er_benchmarks/amazon_google"])
def test_dataset_names_and_attributes_hash_as_sklearn(datasets_dir: Path, name: str) -> None:
    """Every name and attribute text of both graphs of the shipped sets, at the default
    feature settings (2–4-grams into 512 name and 256 attribute buckets)."""
    pair = load_dataset(datasets_dir / name)
    for graph in (pair.a, pair.b):
        _same(list(graph.names), 2, 4, 512)
        _same([attribute_text(a) for a in graph.attributes], 2, 4, 256)

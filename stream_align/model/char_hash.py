"""Hashed character n-gram counts without scikit-learn: the same bits as its ``HashingVectorizer``.

The level-0 name and attribute features (``model.features``) count each text's ``char_wb``
n-grams hashed into a fixed number of buckets. scikit-learn's ``HashingVectorizer`` did that,
but importing ``sklearn.feature_extraction.text`` pulls in ``sklearn.utils`` and with it
``scipy.stats``: ≈ 1.2 s of CPU at every start of the service (decision 0085), which needs
nothing else of scikit-learn. The frozen IDF weights of every trained model index these
buckets, so this module reproduces the vectorizer exactly — ``analyzer="char_wb"``,
``lowercase=True``, ``alternate_sign=False``, ``norm=None``, float32 counts — and the unit
tests compare the two on the shipped datasets' names and attributes.

- the n-grams: each text lower-cased, runs of white space made one, split into words; each word
  padded with a space on both sides; for each ``n`` from ``ngram_min`` to ``ngram_max`` every
  ``n`` characters of the padded word, or the whole word once (and no longer ``n``) when it is
  not longer than ``n``;
- the bucket: MurmurHash3 (x86, 32 bits, seed 0) of the n-gram's UTF-8 bytes as a signed int,
  its absolute value modulo the bucket count;
- the counts: repeated buckets of a row summed, columns sorted (canonical CSR).

The hashing runs as array operations over every n-gram of a call at once (the byte offsets of
all padded words in one buffer), not one call per n-gram.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

_WHITE_SPACES = re.compile(r"\s\s+")
_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
_M1, _M2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)
_STEP, _ADD = np.uint32(5), np.uint32(0xE6546B64)


def char_wb_counts(texts: Sequence[str], ngram_min: int, ngram_max: int,
                   n_features: int) -> sp.csr_matrix:
    """``HashingVectorizer(analyzer="char_wb", ngram_range=(ngram_min, ngram_max),
    n_features=n_features, alternate_sign=False, norm=None, lowercase=True,
    dtype=np.float32).transform(texts)``: a float32 ``(len(texts), n_features)`` CSR matrix
    of n-gram counts."""
    words: list[str] = []
    per_text = np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        split = _WHITE_SPACES.sub(" ", text.lower()).split()
        per_text[i] = len(split)
        words.extend(split)
    rows, starts, ends = _ngrams(words, per_text, ngram_min, ngram_max)
    joined = "".join(f" {w} " for w in words)
    buffer = np.frombuffer(joined.encode("utf-8") + b"\0\0\0\0", dtype=np.uint8)
    offsets = _byte_offsets(joined)
    begin, stop = offsets[starts], offsets[ends]
    cols = np.abs(murmur3_32(buffer, begin, stop - begin).astype(np.int64)) % n_features
    keys, counts = np.unique(rows * n_features + cols, return_counts=True)
    indptr = np.searchsorted(keys // n_features, np.arange(len(texts) + 1))
    return sp.csr_matrix((counts.astype(np.float32), (keys % n_features).astype(np.int32),
                          indptr.astype(np.int32)), shape=(len(texts), n_features))


def _ngrams(words: list[str], per_text: np.ndarray, ngram_min: int, ngram_max: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each n-gram's text row and its character range in the padded words laid end to end."""
    length = np.fromiter((len(w) + 2 for w in words), dtype=np.int64, count=len(words))
    first = np.zeros(len(words), dtype=np.int64)
    np.cumsum(length[:-1], out=first[1:])
    row = np.repeat(np.arange(len(per_text), dtype=np.int64), per_text)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for n in range(ngram_min, ngram_max + 1):
        # a word not longer than n gives itself once, and only at the shortest n
        take = length >= n if n > ngram_min else np.ones(len(words), dtype=bool)
        width = np.minimum(length[take], n)
        count = length[take] - width + 1
        total = int(count.sum())
        base = np.repeat(first[take], count)
        within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
        parts.append((np.repeat(row[take], count), base + within,
                      base + within + np.repeat(width, count)))
    rows, starts, ends = (np.concatenate([p[k] for p in parts]) for k in range(3))
    return rows, starts, ends


def _byte_offsets(joined: str) -> np.ndarray:
    """The UTF-8 byte offset of every character of ``joined``, and of its end."""
    out = np.zeros(len(joined) + 1, dtype=np.int64)
    if joined.isascii():
        out[1:] = np.arange(1, len(joined) + 1)
        return out
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    size = 1 + (points >= 0x80) + (points >= 0x800) + (points >= 0x10000)
    np.cumsum(size, out=out[1:])
    return out


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _mix(k: np.ndarray) -> np.ndarray:
    return _rotl(k * _C1, 15) * _C2


def murmur3_32(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """MurmurHash3_x86_32 with seed 0 of each key ``buffer[starts[i]:starts[i] + lengths[i]]``
    as int32 (``sklearn.utils.murmurhash3_32(key, positive=False)``). ``buffer`` is uint8 with
    at least three bytes after the last key (the tail's reads stay inside it)."""
    h = np.zeros(len(starts), dtype=np.uint32)
    blocks = lengths // 4

    def word(at: np.ndarray, size: int) -> np.ndarray:
        out = np.zeros(len(at), dtype=np.uint32)
        for b in range(size):
            out |= buffer[at + b].astype(np.uint32) << np.uint32(8 * b)
        return out

    for j in range(int(blocks.max()) if len(blocks) else 0):
        live = np.flatnonzero(blocks > j)
        x = h[live] ^ _mix(word(starts[live] + 4 * j, 4))
        h[live] = _rotl(x, 13) * _STEP + _ADD
    tail = lengths & 3
    for size in (1, 2, 3):
        live = np.flatnonzero(tail == size)
        h[live] ^= _mix(word(starts[live] + 4 * blocks[live], size))
    h ^= lengths.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= _M1
    h ^= h >> np.uint32(13)
    h *= _M2
    h ^= h >> np.uint32(16)
    return h.view(np.int32)

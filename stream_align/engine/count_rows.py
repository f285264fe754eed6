"""Names' raw n-gram counts as pool rows of one ``int32`` a non-zero, two to a row.

The level-0 feature cache held each entity's name row as ``(column, float32 bits)`` pairs,
8 bytes a non-zero: ≈ 42 a name on the grown DBP15K data, ≈ 0.34 of an entity's ≈ 0.4 KB there,
held for every entity after a load (decision 0142). A name's row is a function of its raw
counts and the frozen IDF alone, row by row (``features.name_rows``), so the cache holds the
counts and makes the row again, to the bit, on each read. A non-zero is ``count << b |
column`` in one ``int32`` (``b`` the bits of a column below ``name_dim``); a count past the
field's room is held as several entries of its column, summed back on read (a name of millions
of characters). :class:`PartRows` holds ``int32`` pairs: two entries to a row, an odd row's last
padded with ``-1``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

PAD = -1


def _field(dim: int) -> tuple[int, int]:
    """The column's bits for ``dim`` columns and the room of the count above them."""
    bits = max(int(dim - 1).bit_length(), 1)
    if bits > 30:
        raise ValueError(f"{dim} columns leave no room for a count in an int32")
    return bits, (1 << (31 - bits)) - 1


def pack(counts: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """``counts`` (raw counts, CSR, none zero) as a part block: an ``indptr`` over its pool
    rows and the ``(rows, 2)`` ``int32`` entries, row ``i``'s ``(nnz_i + 1) // 2`` rows."""
    bits, room = _field(counts.shape[1])
    lengths = np.diff(counts.indptr).astype(np.int64)
    values = counts.data.astype(np.int64)
    columns = counts.indices.astype(np.int64)
    pieces = (values + room - 1) // room
    if len(pieces) and int(pieces.max()) > 1:  # split: ``room`` a piece, the rest last
        row = np.repeat(np.arange(len(lengths)), lengths)
        lengths = np.bincount(row, weights=pieces, minlength=len(lengths)).astype(np.int64)
        last = values - (pieces - 1) * room
        columns = np.repeat(columns, pieces)
        values = np.full(len(columns), room, dtype=np.int64)
        values[np.cumsum(pieces) - 1] = last
    entries = ((values << bits) | columns).astype(np.int32)
    pairs = (lengths + 1) // 2
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(pairs, out=indptr[1:])
    first = np.cumsum(lengths) - lengths  # each row's first entry
    row = np.repeat(np.arange(len(lengths)), lengths)
    out = np.full((int(indptr[-1]), 2), PAD, dtype=np.int32)
    out.reshape(-1)[2 * indptr[row] + np.arange(len(entries)) - first[row]] = entries
    return indptr, out


def unpack(rows: np.ndarray, pairs: np.ndarray, dim: int, height: int) -> sp.csr_matrix:
    """The ``(height, dim)`` float32 CSR counts of pool ``rows`` (:func:`pack`'s),
    ``pairs[i]`` of them for row ``i``, empty rows below: the matrix :func:`pack` was given."""
    bits, room = _field(dim)
    pairs = np.asarray(pairs, dtype=np.int64)
    ends = np.cumsum(pairs)
    lengths = 2 * pairs
    held = np.flatnonzero(pairs)
    lengths[held] -= rows[ends[held] - 1, 1] == PAD  # an odd row's pad
    flat = rows.reshape(-1)
    entries = flat[flat != PAD].astype(np.int64)
    columns, values = entries & ((1 << bits) - 1), entries >> bits
    if len(values) and int(values.max()) >= room:  # a split count's pieces, side by side
        row = np.repeat(np.arange(len(pairs)), lengths)
        key = row * dim + columns
        first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        values, columns = np.add.reduceat(values, first), columns[first]
        lengths = np.bincount(row[first], minlength=len(pairs))
    indptr = np.zeros(height + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:len(pairs) + 1])
    indptr[len(pairs) + 1:] = indptr[len(pairs)]
    return sp.csr_matrix((values.astype(np.float32), columns.astype(np.int32), indptr),
                         shape=(height, dim))

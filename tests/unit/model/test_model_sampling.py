"""Deterministic relation-aware sampling: reproducible, stable under edits, follows the weights."""

from __future__ import annotations

import hashlib

import numpy as np

from stream_align.model.sampling import average_counts, key_hashes, sample

# Type 1 = films: each has 1 director (relation 1) and 40 actors (relation 2).
FILMS, ACTORS = 300, 40


def _films() -> tuple[np.ndarray, np.ndarray, int]:
    rows, n = [], FILMS
    for f in range(FILMS):
        rows.append((f, n, 1))
        rows += [(f, n + 1 + a, 2) for a in range(ACTORS)]
        n += 1 + ACTORS
    types = np.zeros(n, dtype=np.int64)
    types[:FILMS] = 1
    return np.asarray(rows, dtype=np.int64), types, n


def _sample(edges: np.ndarray, types: np.ndarray, n: int, k: int, salt: str = "s"):
    avg = average_counts(edges, types, 2, 3)
    hashes = key_hashes([f"e{i}" for i in range(n)], salt)
    return sample(edges, n, hashes, types, avg, k)


def test_average_counts_are_type_level() -> None:
    edges, types, _ = _films()
    avg = average_counts(edges, types, 2, 3)
    assert avg[1, 1] == 1.0 and avg[1, 2] == ACTORS


def test_sampling_is_deterministic_and_order_free() -> None:
    edges, types, n = _films()
    first = _sample(edges, types, n, 10)
    shuffled = edges[np.random.default_rng(1).permutation(len(edges))]
    second = _sample(shuffled, types, n, 10)
    assert np.array_equal(first.nbr, second.nbr) and np.array_equal(first.rel, second.rel)
    other_salt = _sample(edges, types, n, 10, salt="t")
    assert not np.array_equal(first.nbr, other_salt.nbr)


def test_sampling_follows_inverse_average_count() -> None:
    """With k = 1 the director (w = 1) and the 40 actors (w = 1/40 each) tie: P(director) = ½."""
    edges, types, n = _films()
    hood = _sample(edges, types, n, 1)
    director_share = (hood.rel[:FILMS, 0] == 1).mean()
    assert abs(director_share - 0.5) < 0.1  # 300 films: 3.5 standard deviations
    # With k = 10 the director is almost always in (uniform sampling: 10/41 of the time).
    assert (_sample(edges, types, n, 10).rel[:FILMS] == 1).any(axis=1).mean() > 0.85


def test_sample_changes_only_when_a_new_neighbour_beats_the_kth_key() -> None:
    edges, types, n = _films()
    before = _sample(edges, types, n, 10)
    extra = np.array([(f, n, 2) for f in range(FILMS)], dtype=np.int64)  # one new actor each
    avg = average_counts(edges, types, 2, 3)  # statistics stay frozen
    hashes = key_hashes([f"e{i}" for i in range(n + 1)], "s")
    types2 = np.append(types, 0)
    after = sample(np.concatenate([edges, extra]), n + 1, hashes, types2, avg, 10)
    changed = (np.sort(before.nbr[:FILMS], 1) != np.sort(after.nbr[:FILMS], 1)).any(axis=1)
    gained = (after.nbr[:FILMS] == n).any(axis=1)
    assert np.array_equal(changed, gained)  # a film's sample changed iff the new actor got in
    assert 0 < changed.mean() < 0.5


def test_key_hashes_are_the_keyed_blake2b_of_each_key() -> None:
    """The definition samples depend on (a model's samples and every stored state): one keyed
    8-byte BLAKE2b digest per key, little-endian; the copied keyed state changes nothing."""
    keys = ["e1", "", "http://zh.dbpedia.org/resource/北京", "x" * 300, "e1"]
    for salt in ("s", "salt-" * 20):  # a salt past BLAKE2b's 64-byte key limit is cut
        want = [int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8,
                                               key=salt.encode()[:64]).digest(), "little")
                for k in keys]
        assert key_hashes(keys, salt).tolist() == want
    assert key_hashes([], "s").dtype == np.uint64 and not len(key_hashes([], "s"))

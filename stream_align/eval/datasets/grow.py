"""Grow a real JAPE-layout pair (DBP15K) to N entities per side, for performance and memory runs.

No alignment benchmark with a million entities per graph can be fetched here, so scale runs use
copies of a real seed pair, made so that what the engine's cost depends on stays the seed's:

- **entities**: side ``s`` holds ``N`` entities: ``c = ceil(N / n_s)`` copies of the seed's,
  the last one partial. Each side lists its gold-pair entities first (pair order), then the
  unmatched ones, so a partial copy keeps a prefix of the gold pairs on both sides.
- **triples, degree distribution and relation mix**: copy ``j`` holds every seed triple
  ``(h, r, t)`` whose head it holds, with the same relation — out-degrees and the relation mix
  are the seed's exactly. The tail is ``t`` of copy ``j`` or, with probability ``rewire``, of
  another copy (the copies form one graph, not ``c`` islands); in-degrees stay the seed's in
  expectation. The choice hashes the *gold pair* of head and tail (not the side's ids), so the
  two sides rewire a corresponding triple the same way and a gold pair's neighbourhoods keep
  corresponding. A tail missing from a partial copy is taken from a full one; below one copy
  (``N < n_s``) it is a kept entity chosen by the same pair hash.
- **names and their noise**: copy 0 keeps the seed names; in copy ``j > 0`` an entity's name
  is the first half of its own seed name's tokens followed by the second half of a donor's
  (another gold pair's, chosen by hash; unmatched entities take a donor of their own side).
  Both sides recombine the same pair with the same donor, each from its own side's strings, so
  a gold pair's names differ by real cross-lingual noise (A's machine translation vs B's
  DBpedia name), not by made-up typos.
- **gold mapping**: copy ``j`` of seed pair ``(a, b)`` is a gold pair when both copies exist;
  the seed's training/test split is kept per pair (``sup_ent_ids`` / ``ref_ent_ids``).
- **ids**: each side's file ids are a seeded permutation (no ``(i, i + n)`` leak).

Streaming: one copy at a time is built from numpy arrays (the seed's size) and appended to the
files, so a million entities never exist as Python objects. ``SCALE.json`` records the seed,
the parameters and the counts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from stream_align.eval.datasets.errors import DatasetError
from stream_align.eval.datasets.jape_layout import local_name, read_id_file, read_int_rows

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(*parts: np.ndarray | int) -> np.ndarray:
    """splitmix64 of a combination of integer arrays (vectorised, deterministic)."""
    h = np.zeros(1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for part in parts:
            h = h * np.uint64(0x9E3779B97F4A7C15) + np.asarray(part).astype(np.uint64)
            h ^= h >> np.uint64(30)
            h *= np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(27)
            h *= np.uint64(0x94D049BB133111EB)
            h ^= h >> np.uint64(31)
    return h & _MASK


@dataclass
class SeedSide:
    """One seed graph, entities in gold-pair order (pair ``g`` at index ``g``), then the rest."""

    raw_ids: np.ndarray  # int64 (n,): the seed file id of each local entity
    uris: list[str]
    names: list[str]
    relations: list[tuple[int, str]]
    triples: np.ndarray  # int64 (m, 3): local head, raw relation id, local tail

    @property
    def size(self) -> int:
        return len(self.raw_ids)


@dataclass
class Seed:
    a: SeedSide
    b: SeedSide
    pairs: int  # gold pairs: local index g < pairs on both sides
    sup: np.ndarray  # bool (pairs,): training pair

    def side(self, s: int) -> SeedSide:
        return self.a if s == 0 else self.b


def _side(path: Path, s: int, gold: np.ndarray, names: dict[int, str]) -> SeedSide:
    uris = read_id_file(path / f"ent_ids_{s + 1}")
    rest = sorted(set(uris) - set(gold.tolist()))
    raw = np.concatenate([gold, np.asarray(rest, dtype=np.int64)])
    local = {int(r): i for i, r in enumerate(raw.tolist())}
    triples = read_int_rows(path / f"triples_{s + 1}", 3)
    mapped = np.stack([np.fromiter((local[h] for h in triples[:, 0]), np.int64, len(triples)),
                       triples[:, 1],
                       np.fromiter((local[t] for t in triples[:, 2]), np.int64, len(triples))],
                      axis=1)
    rels = read_id_file(path / f"rel_ids_{s + 1}")
    return SeedSide(raw_ids=raw, uris=[uris[r] for r in raw.tolist()],
                    names=[names.get(r, local_name(uris[r])) for r in raw.tolist()],
                    relations=sorted(rels.items()), triples=mapped)


def read_seed(path: Path) -> Seed:
    """Read a JAPE-layout pair (DBP15K): both graphs, the gold pairs and their split."""
    if not (path / "ent_ids_1").exists() or not (path / "triples_1").exists():
        raise DatasetError(f"{path} is not a JAPE-layout dataset (ent_ids_1 + triples_1)")
    sup = read_int_rows(path / "sup_ent_ids", 2)
    ref = read_int_rows(path / "ref_ent_ids", 2)
    sup_set = {tuple(p) for p in sup.tolist()}
    gold = np.concatenate([sup, np.array([p for p in ref.tolist() if tuple(p) not in sup_set],
                                         dtype=np.int64).reshape(-1, 2)])
    order = np.random.default_rng(0).permutation(len(gold))  # a prefix keeps the split's mix
    trans = path / "ent_ids_1_trans_goo"
    names_a = read_id_file(trans) if trans.exists() else {}
    return Seed(a=_side(path, 0, gold[order, 0], names_a),
                b=_side(path, 1, gold[order, 1], {}), pairs=len(gold), sup=order < len(sup))


@dataclass(frozen=True)
class GrowPlan:
    """How many copies each side needs and which entities of the last copy it keeps."""

    n: int  # entities per side
    copies: int  # the same on both sides: max over the sides

    @staticmethod
    def of(seed: Seed, n: int) -> GrowPlan:
        return GrowPlan(n, max(math.ceil(n / seed.a.size), math.ceil(n / seed.b.size)))

    def kept(self, size: int, j: int) -> int:
        """Entities of copy ``j`` a side of ``size`` seed entities holds (a prefix)."""
        return int(min(size, max(0, self.n - j * size)))


class Grower:
    """Builds one copy at a time: entity ids, names and triples of each side."""

    def __init__(self, seed: Seed, n: int, rewire: float, rng_seed: int) -> None:
        self.seed, self.rewire, self.rng_seed = seed, rewire, rng_seed
        self.plan = GrowPlan.of(seed, n)
        self.perm = tuple(np.random.default_rng([rng_seed, s]).permutation(n) for s in (0, 1))
        self._tokens = tuple(_halves(seed.side(s).names) for s in (0, 1))

    def canon(self, s: int, local: np.ndarray) -> np.ndarray:
        """The gold pair of a local entity, or a side-unique number for unmatched ones."""
        p = self.seed.pairs
        return np.where(local < p, local, local + (s + 1) * 10**9)

    def file_id(self, s: int, j: int, local: np.ndarray) -> np.ndarray:
        """File id of local entities of copy ``j`` (B's ids follow A's)."""
        size = self.seed.side(s).size
        return self.perm[s][j * size + local] + s * self.plan.n

    def names(self, s: int, j: int) -> list[str]:
        """Names of copy ``j``'s kept entities (copy 0: the seed's)."""
        side = self.seed.side(s)
        kept = self.plan.kept(side.size, j)
        if j == 0:
            return side.names[:kept]
        local = np.arange(kept)
        pool = np.where(local < self.seed.pairs, self.seed.pairs, side.size)
        donor = (_mix(self.rng_seed, j, self.canon(s, local)) % pool.astype(np.uint64))
        heads, tails = self._tokens[s]
        return [_join(heads[e], tails[d]) for e, d in zip(local.tolist(), donor.tolist(),
                                                            strict=True)]

    def triples(self, s: int, j: int) -> np.ndarray:
        """File-id triples whose head is in copy ``j`` (duplicates removed)."""
        side, plan = self.seed.side(s), self.plan
        size = side.size
        rows = side.triples[side.triples[:, 0] < plan.kept(size, j)]
        h, r, t = rows[:, 0], rows[:, 1], rows[:, 2]
        key = _mix(self.rng_seed, j, self.canon(s, h), self.canon(s, t))
        u = (key >> np.uint64(11)).astype(np.float64) / float(1 << 53)
        other = (j + 1 + (key % np.uint64(max(plan.copies - 1, 1))).astype(np.int64)) \
            % plan.copies
        tj = np.where((u < self.rewire) & (plan.copies > 1), other, j)
        tj, t = self._present(s, key, tj, t)
        out = np.stack([self.file_id(s, j, h), r, self.perm[s][tj * size + t] + s * plan.n],
                       axis=1)
        return np.unique(out, axis=0)

    def _present(self, s: int, key: np.ndarray, tj: np.ndarray, t: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Tails missing from a partial copy: the same entity of a full copy, or (one copy
        only) a kept entity picked by the pair hash (gold tails map to a gold pair both sides
        hold)."""
        size, plan = self.seed.side(s).size, self.plan
        missing = t >= plan.kept(size, 0) if plan.copies == 1 else \
            (tj == plan.copies - 1) & (t >= plan.kept(size, plan.copies - 1))
        if not missing.any():
            return tj, t
        if plan.copies > 1:
            full = (key[missing] >> np.uint64(7)) % np.uint64(plan.copies - 1)
            tj = tj.copy()
            tj[missing] = full.astype(np.int64)
            return tj, t
        common = min(plan.kept(self.seed.a.size, 0), plan.kept(self.seed.b.size, 0),
                     self.seed.pairs)
        kept = plan.kept(size, 0)
        gold = t < self.seed.pairs
        pick = np.where(gold & (common > 0), _mix(self.rng_seed, t) % np.uint64(max(common, 1)),
                        key % np.uint64(kept)).astype(np.int64)
        t = t.copy()
        t[missing] = pick[missing]
        return tj, t

    def gold(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """File-id gold pairs of copy ``j`` and whether each is a training pair."""
        common = min(self.plan.kept(self.seed.a.size, j), self.plan.kept(self.seed.b.size, j),
                     self.seed.pairs)
        g = np.arange(common)
        pairs = np.stack([self.file_id(0, j, g), self.file_id(1, j, g)], axis=1)
        return pairs, self.seed.sup[:common]


def _halves(names: list[str]) -> tuple[list[str], list[str]]:
    """Each name's first half of tokens (rounded up) and second half (the whole name if it has
    one token)."""
    heads, tails = [], []
    for name in names:
        tokens = name.split(" ")
        cut = (len(tokens) + 1) // 2
        heads.append(" ".join(tokens[:cut]))
        tails.append(" ".join(tokens[cut:]) or name)
    return heads, tails


def _join(head: str, tail: str) -> str:
    return f"{head} {tail}".strip() if head != tail else head


def _uri(base: str, name: str) -> str:
    """A URI whose local name (``jape_layout.local_name``) reads back as ``name``."""
    return base + quote(name.replace(" ", "_"), safe="_()',-.:!~*&+;=@$")


def _write_rows(fh, rows: np.ndarray) -> None:
    np.savetxt(fh, rows, fmt="%d", delimiter="\t")


def grow(seed_dir: Path, out: Path, n: int, rewire: float = 0.25, rng_seed: int = 0,
         on_copy: Callable[[int, int], None] | None = None) -> dict[str, object]:
    """Write the seed grown to ``n`` entities per side into ``out`` (JAPE layout); return the
    counts written to ``SCALE.json``. ``on_copy(done, copies)`` follows the progress."""
    if n < 1:
        raise DatasetError("entities per side must be at least 1")
    if not 0.0 <= rewire <= 1.0:
        raise DatasetError("rewire must be within [0, 1]")
    seed = read_seed(Path(seed_dir))
    grower = Grower(seed, n, rewire, rng_seed)
    out.mkdir(parents=True, exist_ok=True)
    for s in (0, 1):
        (out / f"rel_ids_{s + 1}").write_text(
            "".join(f"{r}\t{uri}\n" for r, uri in seed.side(s).relations), encoding="utf-8")
    counts = {"triples_1": 0, "triples_2": 0, "gold_pairs": 0, "sup_pairs": 0}
    files = _open(out)
    try:
        for j in range(grower.plan.copies):
            _write_copy(grower, j, files, counts)
            if on_copy is not None:
                on_copy(j + 1, grower.plan.copies)
    finally:
        for fh in files.values():
            fh.close()
    summary = {"seed": str(seed_dir), "entities_per_side": n, "copies": grower.plan.copies,
               "rewire": rewire, "rng_seed": rng_seed, **counts}
    (out / "SCALE.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


_FILES = ("ent_ids_1", "ent_ids_1_trans_goo", "ent_ids_2", "triples_1", "triples_2",
          "sup_ent_ids", "ref_ent_ids")


def _open(out: Path) -> dict[str, object]:
    return {name: (out / name).open("w", encoding="utf-8") for name in _FILES}


def _write_copy(grower: Grower, j: int, files: dict, counts: dict[str, int]) -> None:
    seed = grower.seed
    for s in (0, 1):
        side = seed.side(s)
        names = grower.names(s, j)
        ids = grower.file_id(s, j, np.arange(len(names))).tolist()
        if s == 0:
            files["ent_ids_1"].write("".join(
                f"{i}\t{uri if j == 0 else f'{uri}_{j}'}\n"
                for i, uri in zip(ids, side.uris, strict=False)))
            files["ent_ids_1_trans_goo"].write("".join(
                f"{i}\t{name}\n" for i, name in zip(ids, names, strict=True)))
        else:
            base = "http://dbpedia.org/resource/"
            files["ent_ids_2"].write("".join(
                f"{i}\t{uri if j == 0 else _uri(base, name)}\n"
                for i, uri, name in zip(ids, side.uris, names, strict=False)))
        triples = grower.triples(s, j)
        _write_rows(files[f"triples_{s + 1}"], triples)
        counts[f"triples_{s + 1}"] += len(triples)
    pairs, sup = grower.gold(j)
    _write_rows(files["sup_ent_ids"], pairs[sup])
    _write_rows(files["ref_ent_ids"], pairs[~sup])
    counts["gold_pairs"] += len(pairs)
    counts["sup_pairs"] += int(sup.sum())


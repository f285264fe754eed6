"""Evidence: shares of a pair's attention mass, same neighbours over same relations summed."""

from __future__ import annotations

import pytest
import torch

from stream_align.model.evidence import NeighbourPair, top_evidence


def test_evidence_is_share_of_attention_mass_with_repeats_summed() -> None:
    cross = torch.zeros(1, 3, 3)
    cross[0, 0, 0], cross[0, 1, 1], cross[0, 2, 0] = 2.0, 1.0, 1.0  # slot 2 repeats slot 0
    nbr_a, rel_a = torch.tensor([[7, 8, 7]]), torch.tensor([[1, 2, 1]])
    nbr_b, rel_b = torch.tensor([[5, 6, 9]]), torch.tensor([[1, 2, 0]])
    [found] = top_evidence(cross, (nbr_a, rel_a), (nbr_b, rel_b), ["?", "born>", "in<"], top=5)
    assert [(e.left, e.right, e.relation_left, e.relation_right) for e in found] == [
        (7, 5, "born>", "born>"), (8, 6, "in<", "in<")]
    assert [round(e.weight, 6) for e in found] == [0.75, 0.25]


def test_evidence_of_a_pair_without_attention_is_empty() -> None:
    cross = torch.zeros(2, 2, 2)
    cross[1, 0, 1] = 0.5
    nbr, rel = torch.tensor([[1, 2], [3, 4]]), torch.tensor([[0, 0], [0, 0]])
    found = top_evidence(cross, (nbr, rel), (nbr, rel), ["r"], top=3)
    assert found[0] == [] and len(found[1]) == 1 and found[1][0].weight == 1.0


def _one_pair_at_a_time(cross: torch.Tensor, left: tuple[torch.Tensor, torch.Tensor],
                        right: tuple[torch.Tensor, torch.Tensor], relations: list[str],
                        top: int) -> list[list[NeighbourPair]]:
    """The definition, pair by pair (what ``top_evidence`` computed before decision 0061)."""
    k = cross.shape[2]
    flat = cross.flatten(1)
    flat = flat / flat.sum(1, keepdim=True).clamp(min=1e-12)
    (na, ra), (nb, rb) = (t.tolist() for t in left), (t.tolist() for t in right)
    out = []
    for p, row in enumerate(flat.tolist()):
        mass: dict[tuple[int, int, int, int], float] = {}
        for w, share in enumerate(row):
            if share > 0:
                x, y = w // k, w % k
                key = (na[p][x], nb[p][y], ra[p][x], rb[p][y])
                mass[key] = mass.get(key, 0.0) + share
        best = sorted(mass.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        out.append([NeighbourPair(x, y, relations[r1], relations[r2], share)
                    for (x, y, r1, r2), share in best])
    return out


@pytest.mark.parametrize("wide", [0, 1 << 40])
@pytest.mark.parametrize("top", [1, 2, 3, 5, 200])
def test_evidence_of_many_pairs_equals_the_definition_pair_by_pair(top: int, wide: int) -> None:
    """Repeated neighbours and relations (summed), equal shares (ties by key), padding slots
    with no weight, pairs with no attention: the same entries, the same weights to the bit —
    with keys packed into one sort key, and (``wide`` neighbour ids, past 63 bits together)
    sorted key by key."""
    gen = torch.Generator().manual_seed(4)
    p, k = 300, 6
    cross = torch.rand(p, k, k, generator=gen)
    cross[cross < 0.3] = 0.0  # sparse blocks, some entries exactly equal below
    cross[::7] = 0.0  # pairs without attention
    cross[1::5, :, :2] = 0.25  # equal shares
    nbr_a = torch.randint(0, 4, (p, k), generator=gen)  # few neighbours: repeats
    nbr_b = torch.randint(0, 4, (p, k), generator=gen)
    rel_a = torch.randint(0, 3, (p, k), generator=gen)
    rel_b = torch.randint(0, 3, (p, k), generator=gen)
    nbr_a, nbr_b = nbr_a + wide, nbr_b + wide
    nbr_a[:, -1] = -1  # a padding slot (no weight there)
    cross[:, -1, :] = 0.0
    relations = ["r0", "r1>", "r2<"]
    args = (cross, (nbr_a, rel_a), (nbr_b, rel_b), relations, top)
    found, expected = top_evidence(*args), _one_pair_at_a_time(*args)
    assert found == expected
    assert all(type(e.left) is int and type(e.weight) is float for row in found for e in row)
    assert any(len(row) >= min(top, 2) for row in found) and any(not row for row in found)
    assert top_evidence(cross[:0], (nbr_a[:0], rel_a[:0]), (nbr_b[:0], rel_b[:0]),
                        relations, top) == []

"""Evidence: shares of a pair's attention mass, same neighbours over same relations summed."""

from __future__ import annotations

import torch

from stream_align.model.evidence import top_evidence


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

"""The shared-anchor candidate rule on hand-made sample tables (decision 0045)."""

from __future__ import annotations

import numpy as np

from stream_align.anchor_candidates import heads, shares, table_side, tie_keys, weights

N_ANCHORS = 3


def _sides(fan_out: int = 0):
    """Graph A: 0..3, graph B: 0..4. Anchors: A1~B1 (0), A2~B2 (1), A3~B3 (2).
    A0 samples A1, A2; B0 samples B1, B2 (shares both anchors); B4 samples B1 only;
    ``fan_out`` extra B samplers of B3 make anchor 2 a hub on B's side."""
    a_slots = np.array([[1, 2, -1], [0, -1, -1], [0, 3, -1], [2, -1, -1]])
    b_rows = [[1, 2, -1], [0, -1, -1], [0, -1, -1], [-1, -1, -1], [1, -1, -1]]
    b_rows += [[3, -1, -1]] * fan_out
    b_slots = np.array(b_rows)
    a_anchor = np.array([3, 0, 1, 2])
    b_anchor = np.array([3, 0, 1, 2, 3] + [3] * fan_out)
    a_keys = [f"a{i}" for i in range(len(a_slots))]
    b_keys = [f"b{i}" for i in range(len(b_slots))]
    return (table_side(a_slots, a_anchor, b_anchor, N_ANCHORS, a_keys),
            table_side(b_slots, b_anchor, a_anchor, N_ANCHORS, b_keys), a_slots, b_slots)


def test_the_member_sharing_most_anchors_comes_first() -> None:
    a, b, a_slots, _ = _sides()
    _, members, share = shares(a_slots[:1], a, b, cap=64)
    assert dict(zip(members.tolist(), share.tolist(), strict=True)) == {
        0: int(weights(np.array([1]), np.array([2]))[0] + weights(np.array([2]), np.array([1]))[0]),
        4: int(weights(np.array([1]), np.array([2]))[0])}
    assert heads(a_slots[:1], a, b, cap=64, m=1).tolist() == [[0]]
    assert heads(a_slots[:1], a, b, cap=64, m=3).tolist() == [[0, 4, -1]]


def test_a_hub_anchor_gives_nothing() -> None:
    a, b, a_slots, _ = _sides(fan_out=5)
    # A3 samples A2 (anchor 1 → B2, sampled by B0) and nothing else
    assert heads(a_slots[3:4], a, b, cap=64, m=2).tolist() == [[0, -1]]
    # A2 samples A3 (anchor 2 → B3, sampled by 5 B nodes): open under cap 5, closed under 4
    assert (heads(a_slots[2:3], a, b, cap=5, m=5) >= 0).sum() == 5
    assert heads(a_slots[2:3], a, b, cap=4, m=5).tolist() == [[-1] * 5]


def test_equal_shares_order_by_the_key_hash() -> None:
    a, b, a_slots, _ = _sides(fan_out=3)
    found = heads(a_slots[2:3], a, b, cap=64, m=3)[0]
    members = [5, 6, 7]
    expected = [members[i] for i in np.argsort(tie_keys([f"b{m}" for m in members]))]
    assert found.tolist() == expected


def test_weights_are_exact_integers_that_favour_rare_anchors() -> None:
    w = weights(np.array([1, 2, 10]), np.array([1, 2, 10]))
    assert w.dtype == np.int64 and w[0] == 1 << 20 and w[0] > w[1] > w[2] > 0

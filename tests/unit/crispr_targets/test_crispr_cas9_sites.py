"""Candidate sites with known answers: both strands, overlaps, N bases, 1-based positions."""

from __future__ import annotations

import random

import pytest
from cas9_sites import activity_label, find_candidates, gc_fraction, reverse_complement

P = "ACGTACGTACGTACGTACGT"  # no CC and no GG anywhere, so it adds no sites of its own
Q = "TTGACAGTCTAGATCAGTCA"


def sites(seq: str) -> list[tuple[int, str, str, str]]:
    return [(c.position, c.strand, c.protospacer, c.pam) for c in find_candidates(seq)]


def test_forward_site_at_position_one() -> None:
    assert sites(P + "TGG") == [(1, "+", P, "TGG")]


def test_reverse_site_is_reported_as_its_reverse_complement() -> None:
    # CCA + Q on the forward strand is Q's reverse complement + TGG on the reverse strand.
    assert sites("CCA" + Q) == [(1, "-", reverse_complement(Q), "TGG")]
    assert reverse_complement(Q) == "TGACTGATCTAGACTGTCAA"


def test_positions_are_one_based_and_count_from_the_sequence_start() -> None:
    assert sites("TTTTT" + P + "AGG" + "AAAA") == [(6, "+", P, "AGG")]


def test_overlapping_sites_are_all_reported() -> None:
    # P + A + GGG: a site at 1 (PAM AGG) and one at 2 (protospacer P[1:] + A, PAM GGG).
    seq = P + "AGGG"
    assert sites(seq) == [(1, "+", P, "AGG"), (2, "+", P[1:] + "A", "GGG")]


def test_both_strands_at_the_same_position_forward_first() -> None:
    # 23 nt that start with CC and end with GG: one site per strand, both at position 1.
    seq = "CCA" + "GTCTAGATCAGTCAGTCA" + "GG"
    assert len(seq) == 23
    rc = reverse_complement(seq)
    assert sites(seq) == [(1, "+", seq[:20], seq[20:]), (1, "-", rc[:20], rc[20:])]


def test_n_in_the_pam_n_position_is_allowed() -> None:
    assert sites(P + "NGG") == [(1, "+", P, "NGG")]
    assert sites("CCN" + Q) == [(1, "-", reverse_complement(Q), "NGG")]


def test_n_in_the_protospacer_or_the_gg_is_not_a_site() -> None:
    with_n = P[:7] + "N" + P[8:]
    assert sites(with_n + "TGG") == []
    assert sites(P + "TNG") == []
    assert sites("CNA" + Q) == []
    assert sites("CCA" + Q[:10] + "N" + Q[11:]) == []


def test_no_site_and_target_ids_in_position_order() -> None:
    assert find_candidates("ACGT" * 10) == []
    found = find_candidates("CCA" + Q + "TTT" + P + "CGG")
    assert [c.target_id for c in found] == ["T00001", "T00002"]
    assert [c.strand for c in found] == ["-", "+"]


def test_lowercase_or_other_letters_are_refused() -> None:
    with pytest.raises(ValueError):
        find_candidates(P.lower() + "tgg")
    with pytest.raises(ValueError):
        find_candidates(P + "RGG")


def test_gc_and_activity_label() -> None:
    assert gc_fraction("GGGGGCCCCCAAAAATTTTT") == 0.5
    assert activity_label("GGGGGCCCCCAAAAAGTCAG") == "high"
    assert activity_label("GGGGGCCCCCAAAAATTTTG") == "low"  # TTTT ends Pol III transcription
    assert activity_label("GGGGGCCCCCGGGGGCCCCA") == "low"  # GC 95 %
    assert activity_label("AAAAAAAAAAAAAAACCAGT") == "low"  # GC 15 %
    (c,) = find_candidates(P + "TGG")
    assert (c.gc, c.activity) == (0.5, "high")


def _naive(seq: str) -> list[tuple[int, str, str, str]]:
    """Every site by looking at every 23-nt window (no regex)."""
    out = []
    for i in range(len(seq) - 22):
        window = seq[i:i + 23]
        if window[21:] == "GG" and "N" not in window[:20]:
            out.append((i + 1, "+", window[:20], window[20:]))
        if window[:2] == "CC" and "N" not in window[3:]:
            rc = reverse_complement(window)
            out.append((i + 1, "-", rc[:20], rc[20:]))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_random_sequences_match_a_window_by_window_scan(seed: int) -> None:
    rng = random.Random(seed)
    seq = "".join(rng.choice("ACGTTGCAGGCCN") for _ in range(3000))
    expected = _naive(seq)
    assert len(expected) > 100  # G/C-rich alphabet: plenty of overlapping sites
    assert sites(seq) == expected

"""numpy off-target counting against the pure-Python brute force (genome/brute_force.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from brute_force import brute_force, pam_sites
from offtargets import chunk_sites, encode, encode_targets, score_batch


def _genome(seed: int, length: int, alphabet: str = "ACGTACGTACGTGGCCN") -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(length))


def _mutate(rng: random.Random, seq: str, n: int) -> str:
    bases = list(seq)
    for pos in rng.sample(range(len(seq)), n):
        bases[pos] = rng.choice("ACGT".replace(bases[pos], ""))
    return "".join(bases)


def _planted(seed: int = 3, length: int = 20_000) -> tuple[str, list[str]]:
    """A random genome with near-copies of a few targets planted on both strands."""
    rng = random.Random(seed)
    genome = list(_genome(seed, length, "ACGT"))
    targets = ["".join(rng.choice("ACGT") for _ in range(20)) for _ in range(4)]
    comp = str.maketrans("ACGT", "TGCA")
    slots = rng.sample(range(length // 100), 20)  # one plant per 100-nt slot, no overlaps
    for t, target in enumerate(targets):
        for m in range(5):
            site = _mutate(rng, target, m) + rng.choice("ACGT") + "GG"
            if (t + m) % 2:
                site = site.translate(comp)[::-1]
            start = slots.pop() * 100 + rng.randrange(0, 100 - 23)
            genome[start:start + 23] = site
    return "".join(genome), targets


def test_encode_maps_bases_and_everything_else_to_n() -> None:
    assert encode("ACGTNacgtX").tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        encode_targets(["ACGTACGTACGTACGTACGN"])


def test_chunk_sites_are_the_brute_force_sites() -> None:
    genome = _genome(1, 5_000)
    sites = chunk_sites(genome, 0, len(genome))
    got = sorted(zip(sites.positions.tolist(), ["-" if m else "+" for m in sites.minus],
                     ["".join("ACGTN"[c] for c in row) for row in sites.protospacers],
                     strict=True))
    assert got == sorted(pam_sites(genome))
    assert len(got) > 500


def test_counts_and_hits_equal_the_brute_force_on_planted_near_matches() -> None:
    genome, targets = _planted()
    for k in range(4):
        got = score_batch(targets, chunk_sites(genome, 0, len(genome)), k, max_hits=1000)
        ref = brute_force(genome, targets, k)
        assert got.counts == [r["counts"] for r in ref]
        assert got.hits == [r["hits"] for r in ref]
    # Every planted copy with at most 3 mismatches was found (chance hits may add more).
    assert all(sum(counts) >= 4 for counts in got.counts)


@pytest.mark.parametrize("chunk", [997, 4_096, 10_000])
def test_chunks_with_overlap_count_boundary_sites_exactly_once(chunk: int) -> None:
    genome, targets = _planted(seed=5)
    totals = np.zeros((len(targets), 4), dtype=int)
    hits: list[list[tuple[int, str, int]]] = [[] for _ in targets]
    for start in range(0, len(genome), chunk):
        text = genome[start:start + chunk + 22]
        result = score_batch(targets, chunk_sites(text, start, min(chunk, len(genome) - start)),
                             3, max_hits=1000)
        totals += np.array(result.counts)
        for mine, found in zip(hits, result.hits, strict=True):
            mine.extend(found)
    ref = brute_force(genome, targets, 3)
    assert totals.tolist() == [r["counts"] for r in ref]
    assert [sorted(h, key=lambda x: (x[2], x[0])) for h in hits] == [r["hits"] for r in ref]


def test_n_in_the_genome_counts_as_a_mismatch() -> None:
    target = "ACGTACGTACGTACGTACGT"
    genome = "TT" + target[:5] + "N" + target[6:] + "TGG" + "TT"
    (counts,), (hits,) = score_batch([target], chunk_sites(genome, 100, len(genome)), 3).counts, \
        score_batch([target], chunk_sites(genome, 100, len(genome)), 3).hits
    assert counts == [0, 1, 0, 0]
    assert hits == [(103, "+", 1)]  # 1-based, offset by the chunk's start


def test_max_hits_keeps_the_closest_hits() -> None:
    target = "TTGACAGTCTAGATCAGTCA"
    rng = random.Random(9)
    sites = [_mutate(rng, target, m % 4) + "AGG" for m in range(40)]
    genome = "TTT".join(sites)
    result = score_batch([target], chunk_sites(genome, 0, len(genome)), 3, max_hits=5)
    (ref,) = brute_force(genome, [target], 3)
    assert result.counts == [ref["counts"]]
    assert ref["counts"][0] == 10
    assert result.hits == [ref["hits"][:5]]
    assert [h[2] for h in result.hits[0]] == [0, 0, 0, 0, 0]  # the closest, by position


def test_a_chunk_too_short_for_a_site_is_empty() -> None:
    result = score_batch(["ACGTACGTACGTACGTACGT"], chunk_sites("ACGTTGG", 0, 7), 3)
    assert (result.counts, result.hits, result.sites) == ([[0, 0, 0, 0]], [[]], 0)

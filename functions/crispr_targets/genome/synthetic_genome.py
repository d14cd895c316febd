"""A synthetic genome with planted near-matches, so the off-target counts are known.

Deterministic for a seed: random A/C/G/T with two runs of N (one across a chunk boundary), a
query region that holds three guide sites (two forward, one reverse), and for each guide a set
of planted copies elsewhere: an exact copy, copies with 1, 2, 3 and 4 mismatches, a 1-mismatch
copy with a broken PAM (never an off-target) and a copy with one substitution and one N (two
mismatches). Planted copies take both strands; one straddles a chunk boundary.

Background sequence can still hold chance near-matches (rare at 20 nt), which is why tests
compare with the brute-force reference rather than with the plants alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SITE = 23
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
# (mismatches from substitutions, strand, PAM is NGG, one extra N in the protospacer)
PLANT_SPECS: tuple[tuple[int, str, bool, bool], ...] = (
    (0, "-", True, False),
    (1, "+", True, False),
    (2, "-", True, False),
    (3, "+", True, False),
    (4, "-", True, False),
    (1, "+", False, False),
    (1, "-", True, True),
)
# Where the guides sit in the query: (offset, strand, PAM).
GUIDE_LAYOUT: tuple[tuple[int, str, str], ...] = ((40, "+", "TGG"), (150, "-", "AGG"),
                                                  (260, "+", "CGG"))
GAP_LENGTH = 2_000
MIN_QUERY_LENGTH = 300


def reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


@dataclass(frozen=True)
class Plant:
    """A planted site: `mismatches` counts substitutions and Ns against the guide."""

    guide: int
    position: int  # 1-based forward coordinate of the 23-nt site's leftmost base
    strand: str
    mismatches: int
    pam: str
    pam_ok: bool

    def counted(self, max_mismatches: int) -> bool:
        """Whether the scorer must count this site for its guide at `max_mismatches`."""
        return self.pam_ok and self.mismatches <= max_mismatches


@dataclass
class SyntheticGenome:
    sequence: str
    query_start: int  # 0-based, inclusive
    query_end: int  # 0-based, exclusive
    guides: list[str]
    guide_sites: list[tuple[int, str]]  # (position, strand) of each guide's own site
    plants: list[Plant] = field(default_factory=list)

    @property
    def query(self) -> str:
        return self.sequence[self.query_start:self.query_end]

    def expected_counts(self, guide: int, max_mismatches: int) -> list[int]:
        """Counts the plants (and the guide's own site) give; background may add more."""
        counts = [0] * (max_mismatches + 1)
        counts[0] += 1  # the guide's own site in the query region
        for plant in self.plants:
            if plant.guide == guide and plant.counted(max_mismatches):
                counts[plant.mismatches] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        return {
            "length": len(self.sequence),
            "query": {"start": self.query_start + 1, "end": self.query_end},
            "guides": [
                {"protospacer": g, "position": p, "strand": s}
                for g, (p, s) in zip(self.guides, self.guide_sites, strict=True)
            ],
            "plants": [asdict(p) for p in self.plants],
        }


def _guide(rng: np.random.Generator) -> str:
    # A guide with moderate GC and no TTTT, so it is a plausible "high" activity target.
    while True:
        guide = "".join("ACGT"[i] for i in rng.integers(0, 4, 20))
        gc = (guide.count("G") + guide.count("C")) / 20
        if 0.45 <= gc <= 0.65 and "TTTT" not in guide:
            return guide


def _mutate(rng: np.random.Generator, guide: str, substitutions: int, with_n: bool) -> str:
    positions = rng.choice(20, size=substitutions + int(with_n), replace=False)
    bases = list(guide)
    for i, pos in enumerate(positions):
        if with_n and i == substitutions:
            bases[pos] = "N"
        else:
            bases[pos] = "ACGT".replace(bases[pos], "")[rng.integers(0, 3)]
    return "".join(bases)


def _site_text(protospacer: str, pam: str, strand: str) -> str:
    site = protospacer + pam
    return site if strand == "+" else reverse_complement(site)


def make_genome(seed: int = 7, length: int = 2_000_000, chunk_size: int = 250_000,
                query_length: int = 400) -> SyntheticGenome:
    """The synthetic genome for `seed` (same seed, same genome, same plants)."""
    if query_length < MIN_QUERY_LENGTH:
        raise ValueError(f"query_length must be at least {MIN_QUERY_LENGTH}")
    plants_needed = len(GUIDE_LAYOUT) * len(PLANT_SPECS)
    if (length < 4 * (query_length + GAP_LENGTH) + plants_needed * 200
            or length <= 2 * chunk_size + SITE):
        raise ValueError("length is too small for the query, gaps and plants "
                         "(and must span at least two chunks)")
    rng = np.random.default_rng(seed)
    seq = bytearray(np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, length)].tobytes())
    taken: list[tuple[int, int]] = []

    def put(start: int, text: str) -> None:
        seq[start:start + len(text)] = text.encode()
        taken.append((start - 50, start + len(text) + 50))

    # Sequencing gaps: one inside a chunk, one across the last chunk boundary.
    put(length // 3 // chunk_size * chunk_size + chunk_size // 2, "N" * GAP_LENGTH)
    last_boundary = (length - 1) // chunk_size * chunk_size
    put(last_boundary - GAP_LENGTH // 2, "N" * GAP_LENGTH)

    query_start = length // 2 + 12_345
    query_end = query_start + query_length
    taken.append((query_start - 50, query_end + 50))
    guides = [_guide(rng) for _ in GUIDE_LAYOUT]
    guide_sites = []
    for guide, (offset, strand, pam) in zip(guides, GUIDE_LAYOUT, strict=True):
        start = query_start + offset
        seq[start:start + SITE] = _site_text(guide, pam, strand).encode()
        guide_sites.append((start + 1, strand))

    def clear(start: int) -> bool:
        return not any(start < end and start + SITE > begin for begin, end in taken)

    def free_spot() -> int:
        while True:
            start = int(rng.integers(100, length - 100 - SITE))
            if clear(start):
                return start

    boundary_start = chunk_size - 10  # straddles the boundary of chunks 0 and 1
    if not clear(boundary_start):
        raise ValueError("chunk_size puts the boundary plant on the query or a gap")
    taken.append((boundary_start - 50, boundary_start + SITE + 50))

    plants: list[Plant] = []
    for g, guide in enumerate(guides):
        for s, (substitutions, strand, pam_ok, with_n) in enumerate(PLANT_SPECS):
            protospacer = _mutate(rng, guide, substitutions, with_n)
            first = "ACGT"[rng.integers(0, 4)]
            pam = first + ("GG" if pam_ok else "CA")
            start = boundary_start if (g, s) == (0, 1) else free_spot()
            put(start, _site_text(protospacer, pam, strand))
            plants.append(Plant(guide=g, position=start + 1, strand=strand,
                                mismatches=substitutions + int(with_n), pam=pam,
                                pam_ok=pam_ok))
    return SyntheticGenome(sequence=seq.decode(), query_start=query_start, query_end=query_end,
                           guides=guides, guide_sites=guide_sites, plants=plants)

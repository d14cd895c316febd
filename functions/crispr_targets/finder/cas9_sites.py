"""SpCas9 candidate sites of a DNA sequence (pure functions, no AWS).

A site is 23 nt on one strand: a 20-nt protospacer followed by an NGG PAM. On the forward
strand that reads `[ACGT]{20}` + `NGG`; a site on the reverse strand reads `CCN` + `[ACGT]{20}`
on the forward strand and is reported as its reverse complement (protospacer 5'->3', then PAM).

Conventions (the scorer and the brute-force reference use the same ones):
- `position` is the 1-based forward-strand coordinate of the leftmost base of the 23-nt site,
  for both strands; `strand` is "+" or "-".
- The protospacer must be A/C/G/T only (a guide cannot be designed over an unknown base); the
  PAM's N may be any base, N included, since Cas9 does not read it.
- Overlapping sites are all reported (regex lookahead), sorted by position, "+" before "-".
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

PROTOSPACER = 20
PAM = 3
SITE = PROTOSPACER + PAM

# Zero-width lookaheads so overlapping sites are all found.
_FORWARD = re.compile(r"(?=([ACGT]{20})([ACGTN]GG))")
_REVERSE = re.compile(r"(?=(CC[ACGTN])([ACGT]{20}))")
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
_VALID = re.compile(r"[ACGTN]*")


def reverse_complement(seq: str) -> str:
    """The reverse complement of an A/C/G/T/N sequence."""
    return seq.translate(_COMPLEMENT)[::-1]


def gc_fraction(protospacer: str) -> float:
    """Fraction of G and C in the protospacer."""
    return (protospacer.count("G") + protospacer.count("C")) / len(protospacer)


def activity_label(protospacer: str) -> str:
    """A rule-of-thumb activity call: "high" when GC is 40-80 % and there is no TTTT.

    GT-Scan2 predicts activity with a model trained on chromatin data we do not have; these
    two rules are the usual first filter (extreme GC binds poorly, TTTT ends Pol III
    transcription of the guide).
    """
    gc = gc_fraction(protospacer)
    return "high" if 0.4 <= gc <= 0.8 and "TTTT" not in protospacer else "low"


@dataclass(frozen=True)
class Candidate:
    """One candidate target site."""

    target_id: str
    position: int
    strand: str
    protospacer: str
    pam: str
    gc: float
    activity: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_candidates(sequence: str) -> list[Candidate]:
    """Every SpCas9 site of `sequence` (uppercase A/C/G/T/N), both strands, overlaps included."""
    if not _VALID.fullmatch(sequence):
        raise ValueError("sequence must be uppercase A, C, G, T or N only")
    found: list[tuple[int, str, str, str]] = []
    for m in _FORWARD.finditer(sequence):
        found.append((m.start() + 1, "+", m.group(1), m.group(2)))
    for m in _REVERSE.finditer(sequence):
        found.append((m.start() + 1, "-", reverse_complement(m.group(2)),
                      reverse_complement(m.group(1))))
    found.sort(key=lambda site: (site[0], site[1] == "-"))
    return [
        Candidate(
            target_id=f"T{index:05d}",
            position=position,
            strand=strand,
            protospacer=protospacer,
            pam=pam,
            gc=round(gc_fraction(protospacer), 4),
            activity=activity_label(protospacer),
        )
        for index, (position, strand, protospacer, pam) in enumerate(found, 1)
    ]

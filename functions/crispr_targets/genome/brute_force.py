"""The brute-force off-target reference, in pure Python.

Every position of the genome is looked at, every PAM site found there is compared letter by
letter with every target. It shares no code with the numpy scorer on purpose: tests and the
demo check the scorer's counts against it, and the benchmark uses it as the pure-Python
baseline. Conventions are the finder's: NGG PAM, reverse-strand sites read as CCN + 20 nt,
`position` is the 1-based forward coordinate of the site's leftmost base, N is a mismatch.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import ne

_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def pam_sites(text: str, start: int = 0,
              core: int | None = None) -> Iterator[tuple[int, str, str]]:
    """(position, strand, protospacer) of every site beginning in text[:core]."""
    stop = len(text) - 22
    if core is not None:
        stop = min(stop, core)
    for i in range(max(stop, 0)):
        if text[i + 21] == "G" and text[i + 22] == "G":
            yield start + i + 1, "+", text[i:i + 20]
        if text[i] == "C" and text[i + 1] == "C":
            yield start + i + 1, "-", text[i + 3:i + 23].translate(_COMPLEMENT)[::-1]


def brute_force(text: str, protospacers: list[str], max_mismatches: int, start: int = 0,
                core: int | None = None) -> list[dict[str, list]]:
    """Per target: {"counts": [n0..nk], "hits": [(position, strand, mismatches), ...]}, hits
    sorted by mismatches then position."""
    sites = list(pam_sites(text, start, core))
    out: list[dict[str, list]] = []
    for target in protospacers:
        counts = [0] * (max_mismatches + 1)
        hits = []
        for position, strand, site in sites:
            mismatches = sum(map(ne, site, target))
            if mismatches <= max_mismatches:
                counts[mismatches] += 1
                hits.append((position, strand, mismatches))
        hits.sort(key=lambda hit: (hit[2], hit[0]))
        out.append({"counts": counts, "hits": hits})
    return out

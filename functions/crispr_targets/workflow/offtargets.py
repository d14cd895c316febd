"""Off-target counting with numpy: every PAM site of a genome chunk against a batch of targets.

A genome site is 23 nt with an NGG PAM, on either strand (the same convention as the finder:
`position` is the 1-based forward coordinate of the site's leftmost base). A target's
off-target with m mismatches is a site whose 20-nt protospacer differs from the target's in m
positions; an N in the genome is a mismatch, as it is for Cas-OFFinder.

The counting is one-hot: for each of the 20 positions and 4 bases a 0/1 row "site has base b
at position p" is built once per chunk; a target's matches are the sum of the 20 rows its own
bases select, so a target costs 19 in-place vectorised byte additions over the chunk's sites,
with no Python loop over sites.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PROTOSPACER = 20
SITE = 23
_A, _C, _G, _T, _N = range(5)
_CODES = np.full(256, _N, dtype=np.uint8)
for _i, _base in enumerate("ACGT"):
    _CODES[ord(_base)] = _i
    _CODES[ord(_base.lower())] = _i
_COMPLEMENT = np.array([_T, _G, _C, _A, _N], dtype=np.uint8)
_COLUMNS = np.arange(PROTOSPACER)


def encode(text: str) -> np.ndarray:
    """A/C/G/T as 0..3 and anything else (N) as 4, one uint8 per base."""
    return _CODES[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]


def encode_targets(protospacers: list[str]) -> np.ndarray:
    """(T, 20) codes of A/C/G/T protospacers; ValueError for anything else."""
    codes = np.array([encode(p) for p in protospacers], dtype=np.uint8).reshape(-1, PROTOSPACER)
    if len(protospacers) and (codes > _T).any():
        raise ValueError("target protospacers must be 20 nt of A, C, G or T")
    return codes


@dataclass(frozen=True)
class ChunkSites:
    """The PAM sites whose leftmost base lies in one chunk's own range."""

    positions: np.ndarray  # int64, 1-based forward coordinates
    minus: np.ndarray  # bool, True for a site on the reverse strand
    protospacers: np.ndarray  # (S, 20) uint8 codes, 5'->3' on the site's strand

    def __len__(self) -> int:
        return int(self.positions.shape[0])


def chunk_sites(text: str, start: int, core: int) -> ChunkSites:
    """Sites of a chunk: `text` begins at 0-based genome offset `start` and owns the sites that
    begin in its first `core` bases (the text runs 22 nt further so those sites are whole)."""
    codes = encode(text)
    last = min(core, codes.shape[0] - SITE + 1)
    if last <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return ChunkSites(empty, empty.astype(bool), np.zeros((0, PROTOSPACER), np.uint8))
    starts = np.arange(last)
    forward = starts[(codes[starts + 21] == _G) & (codes[starts + 22] == _G)]
    reverse = starts[(codes[starts] == _C) & (codes[starts + 1] == _C)]
    windows = sliding_window_view(codes, PROTOSPACER)
    complement_windows = sliding_window_view(_COMPLEMENT[codes], PROTOSPACER)
    protospacers = np.concatenate([
        windows[forward],
        complement_windows[reverse + 3][:, ::-1],  # reverse complement of bases 4..23
    ])
    return ChunkSites(
        positions=np.concatenate([forward, reverse]).astype(np.int64) + start + 1,
        minus=np.concatenate([np.zeros(forward.shape[0], bool), np.ones(reverse.shape[0], bool)]),
        protospacers=np.ascontiguousarray(protospacers),
    )


class MismatchCounter:
    """Match and mismatch counts of any target against a fixed set of sites."""

    def __init__(self, protospacers: np.ndarray) -> None:
        columns = np.ascontiguousarray(protospacers.T)
        # One contiguous 0/1 row per (position, base), built once per chunk; N matches no
        # base, so it counts as a mismatch.
        self._rows = [[(columns[p] == base).view(np.uint8) for base in range(4)]
                      for p in range(PROTOSPACER)]
        self.size = protospacers.shape[0]

    def matches(self, target: np.ndarray) -> np.ndarray:
        """(S,) uint8: how many of the 20 positions of each site equal the (20,) target's."""
        bases = target.tolist()
        total = self._rows[0][bases[0]].copy()
        for p in range(1, PROTOSPACER):
            # In place: no (20, S) temporary, 19 vectorised byte additions.
            np.add(total, self._rows[p][bases[p]], out=total)
        return total

    def mismatches(self, target: np.ndarray) -> np.ndarray:
        """(S,) uint8 mismatch counts of one (20,) target against every site."""
        return PROTOSPACER - self.matches(target)


@dataclass(frozen=True)
class BatchResult:
    """Per target: counts by mismatch number (0..k) and the first hits found."""

    counts: list[list[int]]
    hits: list[list[tuple[int, str, int]]]  # (position, strand, mismatches)
    sites: int


def score_batch(protospacers: list[str], sites: ChunkSites, max_mismatches: int,
                max_hits: int = 50) -> BatchResult:
    """Count every site within `max_mismatches` of each target; keep up to `max_hits` hits
    per target (the closest first) so a repetitive target cannot blow up the result."""
    targets = encode_targets(protospacers)
    counter = MismatchCounter(sites.protospacers)
    counts: list[list[int]] = []
    hits: list[list[tuple[int, str, int]]] = []
    for target in targets:
        matches = counter.matches(target)
        near = np.flatnonzero(matches >= PROTOSPACER - max_mismatches)
        found = PROTOSPACER - matches[near].astype(np.int64)
        counts.append(np.bincount(found, minlength=max_mismatches + 1).tolist())
        order = np.lexsort((sites.positions[near], found))[:max_hits]
        hits.append([
            (int(sites.positions[near[i]]), "-" if sites.minus[near[i]] else "+", int(found[i]))
            for i in order
        ])
    return BatchResult(counts=counts, hits=hits, sites=len(sites))

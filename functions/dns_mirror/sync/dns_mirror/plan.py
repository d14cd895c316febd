"""What to change in Route 53, and in how few ChangeResourceRecordSets calls.

The diff works on record sets keyed by (name, type): missing in Route 53 -> CREATE, gone from
the master -> DELETE (with Route 53's exact values, as the API requires), different -> UPSERT.
With IgnoreTTL a TTL-only difference is no change.

Batching follows the API's limits for one call: at most 1,000 ResourceRecord elements and
32,000 characters of values, an UPSERT counting twice for both. Changes are grouped by owner
name, deletions before creations within a name (so an A record can become a CNAME in one
atomic batch: Route 53 applies a batch all or nothing, in order), and a name's group is never
split across calls unless it alone exceeds a call's limits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from .records import RRSet

MAX_RECORDS_PER_CALL = 1000
MAX_CHARS_PER_CALL = 32000
MAX_CHANGES_PER_CALL = 1000

CREATE, UPSERT, DELETE = "CREATE", "UPSERT", "DELETE"
_ACTION_ORDER = {DELETE: 0, UPSERT: 1, CREATE: 2}


@dataclass(frozen=True, slots=True)
class Change:
    action: str
    rrset: RRSet

    @property
    def weight(self) -> int:
        """ResourceRecord elements as the API counts them (an UPSERT counts twice)."""
        return len(self.rrset.values) * (2 if self.action == UPSERT else 1)

    @property
    def chars(self) -> int:
        """Characters of values as the API counts them (an UPSERT counts twice)."""
        return self.rrset.rdata_chars * (2 if self.action == UPSERT else 1)

    def to_api(self) -> dict[str, Any]:
        return {"Action": self.action, "ResourceRecordSet": self.rrset.to_route53()}


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    ttl_only_ignored: int = 0  # TTL-only differences left alone because of IgnoreTTL

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)


def diff(desired: dict[tuple[str, str], RRSet], current: dict[tuple[str, str], RRSet],
         ignore_ttl: bool) -> Plan:
    """The changes that make `current` (Route 53) equal `desired` (the master)."""
    plan = Plan()
    for key, want in desired.items():
        have = current.get(key)
        if have is None:
            plan.changes.append(Change(CREATE, want))
        elif not have.same_values(want):
            plan.changes.append(Change(UPSERT, want))
        elif have.ttl != want.ttl:
            if ignore_ttl:
                plan.ttl_only_ignored += 1
                plan.unchanged += 1
            else:
                plan.changes.append(Change(UPSERT, want))
        else:
            plan.unchanged += 1
    for key, have in current.items():
        if key not in desired:
            plan.changes.append(Change(DELETE, have))
    plan.changes.sort(key=_order)
    return plan


def _order(change: Change) -> tuple[tuple[str, ...], int, str]:
    # Names in Route 53's listing order (labels reversed), then deletions first.
    labels = tuple(reversed(change.rrset.name.rstrip(".").split(".")))
    return labels, _ACTION_ORDER[change.action], change.rrset.rtype


def batches(changes: Iterable[Change], *, max_records: int = MAX_RECORDS_PER_CALL,
            max_chars: int = MAX_CHARS_PER_CALL, max_changes: int = MAX_CHANGES_PER_CALL,
            last: Change | None = None) -> list[list[Change]]:
    """Pack ordered changes into as few calls as the limits allow; `last` (the SOA serial
    update) goes at the very end, in the last call, so it lands only if everything did."""
    out: list[list[Change]] = []
    batch: list[Change] = []
    weight = chars = 0

    def fits(w: int, c: int, n: int) -> bool:
        return (weight + w <= max_records and chars + c <= max_chars
                and len(batch) + n <= max_changes)

    def flush() -> None:
        nonlocal batch, weight, chars
        if batch:
            out.append(batch)
        batch, weight, chars = [], 0, 0

    for _, group_iter in groupby(changes, key=lambda c: c.rrset.name):
        group = list(group_iter)
        gw, gc = sum(c.weight for c in group), sum(c.chars for c in group)
        if not fits(gw, gc, len(group)):
            flush()
        if fits(gw, gc, len(group)):
            batch.extend(group)
            weight += gw
            chars += gc
            continue
        for change in group:  # a group larger than one call: split it, order kept
            if not fits(change.weight, change.chars, 1):
                flush()
            if not fits(change.weight, change.chars, 1):
                raise ValueError(f"{change.rrset.name} {change.rrset.rtype} alone exceeds the "
                                 f"limits of one ChangeResourceRecordSets call")
            batch.append(change)
            weight += change.weight
            chars += change.chars
    if last is not None:
        if not fits(last.weight, last.chars, 1):
            flush()
        batch.append(last)
        weight += last.weight
        chars += last.chars
    flush()
    return out

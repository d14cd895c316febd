"""The diff and the batches: what changes, in how few calls, in which order."""

from __future__ import annotations

import pytest
from dns_mirror.plan import CREATE, DELETE, UPSERT, Change, batches, diff
from dns_mirror.records import RRSet


def rr(name: str, rtype: str = "A", ttl: int = 300, *values: str) -> RRSet:
    return RRSet(name, rtype, ttl, values or ("10.0.0.1",))


def as_dict(*rrsets: RRSet) -> dict[tuple[str, str], RRSet]:
    return {r.key: r for r in rrsets}


def test_diff_creates_updates_deletes_and_leaves_equal_sets() -> None:
    desired = as_dict(rr("new.z."), rr("same.z."), rr("moved.z.", "A", 300, "10.0.0.2"),
                      rr("ttl.z.", "A", 60))
    current = as_dict(rr("same.z."), rr("moved.z."), rr("ttl.z.", "A", 300), rr("gone.z."))
    plan = diff(desired, current, ignore_ttl=False)
    got = {(c.action, c.rrset.name) for c in plan.changes}
    assert got == {(CREATE, "new.z."), (UPSERT, "moved.z."), (UPSERT, "ttl.z."),
                   (DELETE, "gone.z.")}
    assert plan.unchanged == 1 and plan.ttl_only_ignored == 0
    deleted = next(c for c in plan.changes if c.action == DELETE)
    assert deleted.rrset is current[("gone.z.", "A")]  # Route 53's exact values


def test_ignore_ttl_skips_ttl_only_differences_but_not_value_changes() -> None:
    desired = as_dict(rr("ttl.z.", "A", 60), rr("both.z.", "A", 60, "10.0.0.9"))
    current = as_dict(rr("ttl.z.", "A", 300), rr("both.z.", "A", 300))
    plan = diff(desired, current, ignore_ttl=True)
    assert [(c.action, c.rrset.name, c.rrset.ttl) for c in plan.changes] == [
        (UPSERT, "both.z.", 60)]
    assert plan.ttl_only_ignored == 1 and plan.unchanged == 1


def test_a_record_becoming_a_cname_is_deleted_first_in_the_same_batch() -> None:
    desired = as_dict(rr("x.z.", "CNAME", 300, "www.z."))
    current = as_dict(rr("x.z.", "A"))
    plan = diff(desired, current, ignore_ttl=False)
    calls = batches(plan.changes)
    assert [[(c.action, c.rrset.rtype) for c in b] for b in calls] == [
        [(DELETE, "A"), (CREATE, "CNAME")]]


def test_one_call_holds_up_to_1000_records() -> None:
    changes = [Change(CREATE, rr(f"h{i:04d}.z.")) for i in range(2500)]
    calls = batches(changes)
    assert [len(b) for b in calls] == [1000, 1000, 500]
    assert [c for b in calls for c in b] == changes  # order kept


def test_upserts_count_twice_toward_both_limits() -> None:
    changes = [Change(UPSERT, rr(f"h{i:04d}.z.")) for i in range(1200)]
    assert [len(b) for b in batches(changes)] == [500, 500, 200]
    long = '"' + "x" * 3998 + '"'  # 4,000 characters per value
    txt = [Change(UPSERT, rr(f"t{i}.z.", "TXT", 300, long)) for i in range(10)]
    assert [len(b) for b in batches(txt)] == [4, 4, 2]  # 8,000 counted per change
    creates = [Change(CREATE, rr(f"t{i}.z.", "TXT", 300, long)) for i in range(10)]
    assert [len(b) for b in batches(creates)] == [8, 2]


def test_a_name_is_not_split_across_calls_when_it_fits_in_one() -> None:
    changes = [Change(CREATE, rr(f"h{i:03d}.z.")) for i in range(998)]
    group = [Change(DELETE, rr("zz.z.", "A")), Change(CREATE, rr("zz.z.", "TXT", 300, '"t"')),
             Change(CREATE, rr("zz.z.", "MX", 300, "10 m.z."))]
    calls = batches(changes + group)
    assert [len(b) for b in calls] == [998, 3]
    assert calls[1] == group


def test_a_name_larger_than_one_call_is_split_in_order() -> None:
    values = tuple(f"10.0.{i // 256}.{i % 256}" for i in range(800))
    group = [Change(DELETE, rr("big.z.", "A", 300, *values)),
             Change(CREATE, rr("big.z.", "AAAA", 300, *(f"2001:db8::{i:x}" for i in range(400))))]
    calls = batches(group)
    assert [[c.action for c in b] for b in calls] == [[DELETE], [CREATE]]


def test_a_single_change_beyond_the_limits_is_an_error() -> None:
    values = tuple(f"10.0.{i // 256}.{i % 256}" for i in range(1001))
    with pytest.raises(ValueError, match="alone exceeds"):
        batches([Change(CREATE, rr("huge.z.", "A", 300, *values))])


def test_the_soa_update_rides_at_the_end_of_the_last_call() -> None:
    soa = Change(UPSERT, RRSet("z.", "SOA", 900, ("ns. host. 5 7200 900 1209600 86400",)))
    changes = [Change(CREATE, rr(f"h{i:04d}.z.")) for i in range(1500)]
    calls = batches(changes, last=soa)
    assert [len(b) for b in calls] == [1000, 501] and calls[-1][-1] is soa
    full = [Change(CREATE, rr(f"h{i:04d}.z.")) for i in range(999)]
    calls = batches(full, last=soa)  # 999 + 2 (an UPSERT counts twice) > 1000
    assert [len(b) for b in calls] == [999, 1] and calls[-1] == [soa]
    assert batches([], last=soa) == [[soa]]


def test_changes_are_ordered_by_name_then_deletes_first() -> None:
    desired = as_dict(rr("b.z.", "TXT", 300, '"x"'), rr("a.b.z."), rr("c.z."))
    current = as_dict(rr("b.z.", "A"), rr("c.z.", "A", 300, "10.9.9.9"))
    plan = diff(desired, current, ignore_ttl=False)
    assert [(c.rrset.name, c.action) for c in plan.changes] == [
        ("b.z.", DELETE), ("b.z.", CREATE), ("a.b.z.", CREATE), ("c.z.", UPSERT)]

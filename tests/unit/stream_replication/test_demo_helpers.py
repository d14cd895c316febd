"""The demo's generator and checks (shared with the integration tests) can tell right from
wrong."""

from __future__ import annotations

from decimal import Decimal

import pytest


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/stream_replication/demo.py", "stream_replication_demo")


SEQS = ["49590000000000000000000000000000000000000000000000000102",
        "49590000000000000000000000000000000000000000000000000117"]


def replicated(demo, events):
    items = []
    for event, seq in zip(events, SEQS, strict=True):
        item = dict(demo.expected_item(event))
        item.update(sequenceNumber=seq, shardId="shardId-0", seqNumbershardIdHash=f"{seq[-3:-1]}"
                    "_shardId-0")
        items.append(item)
    return items


def test_events_carry_what_replication_must_drop_and_keep(demo) -> None:
    events = demo.web_events(200, seed=1, run="r")
    assert events == demo.web_events(200, seed=1, run="r")
    assert any(e["referrer"] == "" for e in events) and any(e["campaign"] is None for e in events)
    donation = next(e for e in events if e["event"] == "donation")
    assert isinstance(donation["amount"], float)
    assert demo.expected_item(donation)["amount"] == Decimal(str(donation["amount"]))
    assert "note" not in demo.expected_item(donation)["device"]


def test_check_replica_accepts_the_right_items_and_rejects_wrong_ones(demo) -> None:
    events = demo.web_events(2, seed=3, run="r")
    items = replicated(demo, events)
    demo.check_replica(items, events, SEQS)
    with pytest.raises(AssertionError, match="2 replica items for 2|1 replica items"):
        demo.check_replica(items[:1], events, SEQS)
    wrong_key = [dict(items[0], seqNumbershardIdHash="02_shardId-0"), items[1]]
    with pytest.raises(AssertionError, match="key"):
        demo.check_replica(wrong_key, events, SEQS)
    kept_null = [dict(items[0], campaign=None), items[1]]
    with pytest.raises(AssertionError, match="event 0"):
        demo.check_replica(kept_null, events, SEQS)

"""The dns_mirror scenario for `localcloud demo`: a real BIND 9 master, mirrored into Route 53.

1. Read each zone's schedule input from its EventBridge rule (what the template wired up).
2. Start our own `named` on a free loopback port with the sample forward zone (every record
   type) and reverse zone, and sync both with the schedules' inputs, the master's address and
   port pointed at that named: the hosted zones must then equal the zone files.
3. Sync again: "in_sync", one Route 53 call.
4. Edit the forward zone (add, modify, delete, a TTL change, serial bump), `rndc reload`, sync,
   and show the diff applied to the hosted zone.
5. Bad input: a ZoneId whose zone is not Domain: an error, and the hosted zone untouched.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

HERE = Path(__file__).resolve().parent


def _local_master() -> ModuleType:
    name = "dns_mirror_local_master"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "local_master.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class DemoContext(Protocol):
    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def invoke(self, function: str, event: Any) -> Any: ...


def schedule_input(ctx: DemoContext, output: str) -> dict[str, Any]:
    """The constant input of the rule named by stack output `output`."""
    rule = ctx.outputs.get(output)
    if not rule:
        raise AssertionError(f"stack output {output} is missing")
    targets = ctx.client("events").list_targets_by_rule(Rule=rule)["Targets"]
    if len(targets) != 1 or "Input" not in targets[0]:
        raise AssertionError(f"rule {rule} should have one target with a constant Input")
    return json.loads(targets[0]["Input"])


def sync(ctx: DemoContext, event: dict[str, Any], expect: str) -> dict[str, Any]:
    result = ctx.invoke("SyncFunction", event)
    if result.get("status") != expect:
        raise AssertionError(f"sync of {event.get('Domain')} ended {result.get('status')!r}, "
                             f"expected {expect!r}: {result.get('message')}")
    calls = ", ".join(f"{k} {v}" for k, v in result.get("route53_calls", {}).items())
    ctx.step(f"  -> {result['status']}: {result['message']} [Route 53 calls: {calls or 'none'}]")
    return result


def check_mirrored(ctx: DemoContext, lm: ModuleType, zone_id: str, text: str,
                   origin: str) -> None:
    diffs = lm.route53_differences(ctx.client("route53"), zone_id, text, origin)
    if diffs:
        raise AssertionError(f"hosted zone {zone_id} does not mirror {origin}: "
                             + "; ".join(diffs[:5]))
    count = len(lm.expected_rrsets(text, origin))
    ctx.step(f"  hosted zone {zone_id} now holds the same {count} record sets as the zone file")


def run(ctx: DemoContext) -> None:
    lm = _local_master()
    r53 = ctx.client("route53")
    forward = schedule_input(ctx, "ForwardScheduleName")
    reverse = schedule_input(ctx, "ReverseScheduleName")
    ctx.step(f"schedule input (rate 15 minutes): {json.dumps(forward)}")
    origin, rev_origin = forward["Domain"], reverse["Domain"]
    serial = 2026112301
    fwd_text = lm.zone_text(origin, serial, lm.forward_records())
    rev_text = lm.zone_text(rev_origin, serial, lm.reverse_records(), ns=("ns1." + origin + ".",))

    with lm.BindServer() as named:
        named.add_zone(origin, fwd_text)
        named.add_zone(rev_origin, rev_text)
        named.start()
        ctx.step(f"named (BIND 9) serves {origin} and {rev_origin} at serial {serial} on "
                 f"{named.host} port {named.port}")

        def at_master(event: dict[str, Any]) -> dict[str, Any]:
            return {**event, "MasterDns": named.host, "MasterPort": named.port}

        ctx.step(f"first sync of {origin} (the schedule's input, master -> our named)")
        first = sync(ctx, at_master(forward), "synced")
        if first["skipped_types"] != {"HINFO": 1}:
            raise AssertionError(f"expected the HINFO record to be skipped, got "
                                 f"{first['skipped_types']}")
        check_mirrored(ctx, lm, forward["ZoneId"], fwd_text, origin)
        ctx.step(f"first sync of {rev_origin}")
        sync(ctx, at_master(reverse), "synced")
        check_mirrored(ctx, lm, reverse["ZoneId"], rev_text, rev_origin)

        ctx.step("sync again with nothing changed")
        again = sync(ctx, at_master(forward), "in_sync")
        if sum(again["route53_calls"].values()) != 1:
            raise AssertionError(f"an in-sync run should cost one Route 53 call, "
                                 f"made {again['route53_calls']}")

        records, expected = lm.edited_forward_records()
        new_text = lm.zone_text(origin, serial + 1, records)
        named.update_zone(origin, new_text)
        ctx.step(f"edited {origin}: added new-host, changed www and the MX set, deleted mail2, "
                 f"app's TTL 300 -> 3600; serial {serial + 1}; rndc reload")
        before = lm.route53_rrsets(r53, forward["ZoneId"])
        second = sync(ctx, at_master(forward), "synced")
        got = {k: second[k] for k in expected}
        if got != expected:
            raise AssertionError(f"incremental sync made {got}, expected {expected}")
        for line in lm.describe_changes(before, lm.route53_rrsets(r53, forward["ZoneId"])):
            ctx.step(f"    {line}")
        check_mirrored(ctx, lm, forward["ZoneId"], new_text, origin)

        ctx.step(f"bad input: Domain {origin} with the hosted zone of {rev_origin}")
        untouched = lm.route53_rrsets(r53, reverse["ZoneId"])
        bad = sync(ctx, {**at_master(forward), "ZoneId": reverse["ZoneId"]}, "error")
        if bad["error"]["type"] != "ZoneMismatch":
            raise AssertionError(f"expected ZoneMismatch, got {bad['error']}")
        if lm.route53_rrsets(r53, reverse["ZoneId"]) != untouched:
            raise AssertionError("the mismatched hosted zone was changed")
        ctx.step("  hosted zone untouched")

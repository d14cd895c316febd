"""`make bench`, dns_mirror: a 10,000-record zone from a real named, mirrored through localcloud.

The stack is deployed from the templates; the function runs in its Lambda-like worker with its
configured 128 MB (the executor ends an invocation whose resident memory goes above it), and
reaches named and the embedded Route 53 over loopback. Measured:

- Route 53 API calls, counted twice: by the function (botocore `before-send` hooks on its
  client, reported in its result) and here, at the embedded server's Route 53 handlers.
- Wall time of the first sync (10,000 record sets created) and of a 100-record incremental
  sync (33 modified, 33 deleted, 34 added), and of an in-sync run.
- Peak memory of the function's worker process (VmHWM), beside the same worker's peak after
  only its imports (an invocation with a bad event).
- Baseline: the seed's one-call-per-record mirror, run here in-process with the same code and
  one change per ChangeResourceRecordSets call, into a second hosted zone.

Results are printed and written between the markers in functions/dns_mirror/README.md.
Run alone: `.venv/bin/python bench/dns_mirror.py`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import math
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "functions" / "dns_mirror"
README = APP_DIR / "README.md"
START, END = "<!-- bench:dns_mirror:start -->", "<!-- bench:dns_mirror:end -->"
sys.path.insert(0, str(ROOT))

RECORDS = 10_000
CHANGED = 100
DOMAIN = "bench.example.internal"
SERIAL = 2026112301
MEMORY_LIMIT_MB = 128


def _local_master() -> ModuleType:
    name = "dns_mirror_local_master"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, APP_DIR / "local_master.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _function_package() -> str:
    """The function's `dns_mirror` package, imported under another name: this file is the
    `dns_mirror` module when bench/run.py imports it."""
    name = "dns_mirror_function"
    if name not in sys.modules:
        path = APP_DIR / "sync" / "dns_mirror"
        spec = importlib.util.spec_from_file_location(
            name, path / "__init__.py", submodule_search_locations=[str(path)])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return name


@contextlib.contextmanager
def server_side_counts() -> Iterator[Counter[str]]:
    """Count Route 53 requests as the embedded server receives them (moto's handlers)."""
    from moto.route53.responses import Route53

    counts: Counter[str] = Counter()
    names = ("list_resource_record_sets", "change_resource_record_sets")
    originals = {n: getattr(Route53, n) for n in names}

    def counted(name: str) -> Any:
        original = originals[name]

        @functools.wraps(original)
        def wrapper(self: Any, *a: Any, **kw: Any) -> Any:
            counts["".join(p.title() for p in name.split("_"))] += 1
            return original(self, *a, **kw)

        return wrapper

    for n in names:
        setattr(Route53, n, counted(n))
    try:
        yield counts
    finally:
        for n, fn in originals.items():
            setattr(Route53, n, fn)


def _invoke(cloud: Any, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], Any, float]:
    t = time.perf_counter()
    result = cloud.invoke(name, event)
    wall = time.perf_counter() - t
    if not result.ok:
        raise RuntimeError(f"sync failed: {result.error}\n{result.logs[-2000:]}")
    return json.loads(result.payload), result, wall


def _measured(cloud: Any, name: str, event: dict[str, Any], expect: str) -> dict[str, Any]:
    with server_side_counts() as server:
        body, result, wall = _invoke(cloud, name, event)
    if body["status"] != expect:
        raise RuntimeError(f"expected {expect}, got {body['status']}: {body['message']}")
    return {"body": body, "wall_s": wall, "peak_mb": result.max_memory_mb,
            "server_calls": dict(server), "function_calls": body["route53_calls"]}


def _naive(cloud: Any, lm: ModuleType, named: Any, first_text: str, second_text: str
           ) -> dict[str, Any]:
    """The same sync code with one change per call (the seed's way), in this process."""
    pkg = _function_package()
    sync_module = importlib.import_module(f"{pkg}.sync")
    parse_event = importlib.import_module(f"{pkg}.config").parse_event
    Master = importlib.import_module(f"{pkg}.master").Master  # noqa: N806 - a class
    route53 = importlib.import_module(f"{pkg}.route53")
    CallCounter, HostedZone = route53.CallCounter, route53.HostedZone  # noqa: N806

    r53 = cloud.client("route53")
    zone_id = r53.create_hosted_zone(
        Name=DOMAIN, CallerReference=f"bench-naive-{time.time()}",
        HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": cloud.region, "VPCId": "vpc-bench"})["HostedZone"]["Id"].split("/")[-1]
    cfg = parse_event({"Domain": DOMAIN, "MasterDns": named.host, "MasterPort": named.port,
                       "ZoneId": zone_id, "IgnoreTTL": "False", "ZoneSerial": ""})
    original = sync_module.batches
    sync_module.batches = functools.partial(original, max_changes=1)
    calls = CallCounter()
    calls.attach(r53)
    out: dict[str, Any] = {}
    try:
        named.update_zone(DOMAIN, first_text)
        for label in ("first", "incremental"):
            calls.reset()
            t = time.perf_counter()
            result = sync_module.sync_zone(cfg, HostedZone(r53, zone_id), Master(cfg))
            if result.status != "synced":
                raise RuntimeError(f"naive {label} sync: {result.message}")
            out[label] = {"wall_s": time.perf_counter() - t, "calls": calls.snapshot()}
            named.update_zone(DOMAIN, second_text)
    finally:
        sync_module.batches = original
        r53.meta.events.unregister("before-send.route-53", calls._count)
    return out


def run(records: int = RECORDS, changed: int = CHANGED, naive: bool = True) -> dict[str, Any]:
    from localcloud.cloud import LocalCloud

    lm = _local_master()
    first_text = lm.zone_text(DOMAIN, SERIAL, lm.big_zone_records(records))
    second_text = lm.zone_text(DOMAIN, SERIAL + 1,
                               lm.big_zone_records(records, variant=1, changed=changed))
    with lm.BindServer() as named:
        named.add_zone(DOMAIN, first_text)
        named.start(timeout=60)
        with LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None) as cloud:
            cloud.deploy(apps={"dns_mirror"}, parameters={
                "DnsMirrorMasterDns": named.host, "DnsMirrorMasterPort": str(named.port),
                "DnsMirrorZoneDomain": DOMAIN, "DnsMirrorReverseZoneDomain": ""})
            outputs = cloud.outputs()["dns_mirror"]
            name = outputs["SyncFunctionName"]
            rule = outputs["ForwardScheduleName"]
            target = cloud.client("events").list_targets_by_rule(Rule=rule)["Targets"][0]
            event = json.loads(target["Input"])

            bad, bad_result, _ = _invoke(cloud, name, {"Domain": DOMAIN})
            assert bad["status"] == "error"
            imports_mb = bad_result.max_memory_mb
            first = _measured(cloud, name, event, "synced")
            in_sync = _measured(cloud, name, event, "in_sync")
            named.update_zone(DOMAIN, second_text)
            incremental = _measured(cloud, name, event, "synced")
            diffs = lm.route53_differences(cloud.client("route53"), outputs["HostedZoneId"],
                                           second_text, DOMAIN)
            if diffs:
                raise RuntimeError(f"hosted zone does not mirror the zone: {diffs[:3]}")
            baseline = _naive(cloud, lm, named, first_text, second_text) if naive else None
    return {"records": records, "changed": changed, "imports_mb": imports_mb, "first": first,
            "in_sync": in_sync, "incremental": incremental, "naive": baseline}


def _calls(d: dict[str, int]) -> str:
    short = {"ChangeResourceRecordSets": "Change", "ListResourceRecordSets": "List"}
    parts = ", ".join(f"{short.get(k, k)} {v:,}" for k, v in sorted(d.items()))
    return f"{sum(d.values()):,} ({parts})"


def _changes(body: dict[str, Any]) -> int:
    return body["created"] + body["updated"] + body["deleted"]


def report(r: dict[str, Any]) -> str:
    first, inc, ins, naive = r["first"], r["incremental"], r["in_sync"], r["naive"]
    for m in (first, inc, ins):
        if m["server_calls"] != m["function_calls"]:
            raise RuntimeError(f"call counts disagree: server {m['server_calls']}, "
                               f"function {m['function_calls']}")
    f_changes, i_changes = _changes(first["body"]), _changes(inc["body"])
    f_calls = first["server_calls"]
    i_change_calls = inc["server_calls"].get("ChangeResourceRecordSets", 0)
    i_reads = inc["server_calls"].get("ListResourceRecordSets", 0)
    f_bound = math.ceil(f_changes / 1000)
    i_bound = math.ceil(i_changes / 1000)
    f_extra = sum(f_calls.values()) - f_bound
    peak = max(first["peak_mb"], inc["peak_mb"])
    nf = naive["first"] if naive else {"calls": {}, "wall_s": float("nan")}
    ni = naive["incremental"] if naive else {"calls": {}, "wall_s": float("nan")}
    rrsets = inc["body"]["route53_rrsets"]
    lines = [
        f"Measured by `make bench` (bench/dns_mirror.py) on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}: a {r['records']:,}-record zone (A records) served by "
        f"BIND 9 on loopback, the function in its localcloud worker (128 MB), Route 53 from "
        f"the embedded moto. Route 53 calls are counted by the function (botocore hooks, its "
        f"result's `route53_calls`) and at the embedded server; the two counts agree. The "
        f"baseline is the same code with one change per call, the seed's way, in the same run.",
        "",
        "| what | result | baseline: one call per record | target |",
        "|---|---|---|---|",
        f"| first sync ({f_changes:,} record sets created): Route 53 calls | {_calls(f_calls)} | "
        f"{_calls(nf['calls'])} | <= ceil({f_changes:,}/1000) + a few = {f_bound} + a few: "
        f"{'met' if f_extra <= 3 else 'MISSED'} ({f_bound} + {f_extra}) |",
        f"| first sync: wall time | {first['wall_s']:.1f} s | {nf['wall_s']:.1f} s | - |",
        f"| incremental sync ({i_changes} changes): Route 53 calls | "
        f"{_calls(inc['server_calls'])} | {_calls(ni['calls'])} | <= ceil({i_changes}/1000) + "
        f"a few = {i_bound} + a few: met for the changes ({i_change_calls} call"
        f"{'s' if i_change_calls != 1 else ''}); MISSED in total: reading the hosted zone's "
        f"{rrsets + 2:,} record sets takes {i_reads} pages of 300 |",
        f"| incremental sync: wall time | {inc['wall_s']:.2f} s | {ni['wall_s']:.2f} s | - |",
        f"| in-sync run (equal serials): calls, wall time | {_calls(ins['server_calls'])}, "
        f"{ins['wall_s'] * 1000:.0f} ms | - | - |",
        f"| peak memory of the function (worker VmHWM) | {peak} MB | same worker after its "
        f"imports only: {r['imports_mb']} MB | < {MEMORY_LIMIT_MB} MB: "
        f"{'met' if peak < MEMORY_LIMIT_MB else 'MISSED'} |",
        "",
        "Where the time goes, from the function's own phase timings (ms). First sync: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in first["body"]["timings_ms"].items())
        + ". Incremental: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in inc["body"]["timings_ms"].items()) + ".",
    ]
    return "\n".join(lines)


def write_readme(text: str) -> None:
    body = README.read_text()
    if START not in body or END not in body:
        raise RuntimeError(f"{README} lacks the {START} / {END} markers")
    head, rest = body.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main() -> dict[str, Any]:
    """Run, print, write functions/dns_mirror/README.md; returns the figures (for run.py)."""
    print(f"benchmark: dns_mirror, {RECORDS:,}-record zone ...", flush=True)
    results = run()
    text = report(results)
    write_readme(text)
    print(text)
    return results


if __name__ == "__main__":
    main()

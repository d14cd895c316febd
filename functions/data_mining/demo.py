"""The data_mining scenario for `localcloud demo`, and the local sources it (and the tests)
scrape: real HTTP servers on 127.0.0.1, started here, no network beyond the machine.

Four sources, each a different case:
- specs_api (JSON API, priority 1): {"data": {"Colour", "Weight (g)", "connector": {"type"}}};
- catalog_page (HTML page, priority 2): a <table> of Color / Weight / Connector / Warranty;
- slow_api (JSON): answers after `slow_seconds` for some items, longer than its timeout;
- flaky_api (JSON): 503 on the first request for an item, then 200; always 500 for some.
Items the catalog does not know get 404 from every source.

Scenario: register the sources and the property mapping (Warranty left unmapped), upload a
messy dataset, wait for the execution, and check every item's unified properties against the
catalog, the errors and timeouts recorded per source, the retries, and the rate limit; then
map Warranty, re-run populate alone and check the items gained it without a new request.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COLORS = ["red", "green", "blue", "black", "white"]
CONNECTORS = ["USB-C", "Lightning", "Micro-USB", "Jack 3.5mm"]
MANUFACTURERS = ["acme corp", "GLOBEX", "Initech  Ltd"]


def _h(identifier: str, salt: str) -> int:
    return int(hashlib.sha1(f"{salt}:{identifier}".encode()).hexdigest()[:8], 16)


def product(identifier: str) -> dict[str, Any]:
    """What the catalog knows about an item (both the sources and the checks use it)."""
    return {"color": COLORS[_h(identifier, "c") % len(COLORS)],
            "weight_g": 50 + _h(identifier, "w") % 400,
            "connector": CONNECTORS[_h(identifier, "k") % len(CONNECTORS)],
            "warranty": f"{1 + _h(identifier, 'y') % 3} years",
            "rating": round(1 + (_h(identifier, "r") % 40) / 10, 1),
            "stock": _h(identifier, "s") % 100}


class Catalog:
    """The sources' shared state: known items, slow and broken ones, and request logs."""

    def __init__(self, known: set[str], slow: set[str], broken: set[str],
                 slow_seconds: float = 2.0) -> None:
        self.known, self.slow, self.broken = known, slow, broken
        self.slow_seconds = slow_seconds
        self.lock = threading.Lock()
        self.requests: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.flaky_seen: set[str] = set()

    def log(self, source: str, identifier: str) -> None:
        with self.lock:
            self.requests[source].append((time.time(), identifier))

    def count(self, source: str, identifier: str | None = None) -> int:
        with self.lock:
            return sum(1 for _, i in self.requests[source] if identifier in (None, i))

    def busiest_second(self, source: str) -> int:
        """The most requests the source got within one wall-clock second."""
        with self.lock:
            per_second: dict[int, int] = defaultdict(int)
            for when, _ in self.requests[source]:
                per_second[int(when)] += 1
        return max(per_second.values(), default=0)


def _handler(catalog: Catalog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            return None

        def _send(self, status: int, body: Any, kind: str = "application/json") -> None:
            data = (json.dumps(body) if kind == "application/json" else body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout): nothing to answer

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            parts = self.path.strip("/").split("/")
            if len(parts) != 2:
                return self._send(404, {"error": "no such path"})
            source, name = parts
            identifier = name.removesuffix(".html")
            catalog.log(source, identifier)
            if identifier not in catalog.known:
                return self._send(404, {"error": f"{identifier} unknown"})
            info = product(identifier)
            if source == "specs":
                return self._send(200, {"data": {"Colour": info["color"],
                                                 "Weight (g)": info["weight_g"],
                                                 "connector": {"type": info["connector"]},
                                                 "sku": identifier}})
            if source == "catalog":
                rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in (
                    ("Color", info["color"].title()), ("Weight", f"{info['weight_g']} g"),
                    ("Connector", info["connector"]), ("Warranty", info["warranty"])))
                return self._send(200, f"<html><body><h1>{identifier}</h1><table>{rows}"
                                       "</table></body></html>", "text/html")
            if source == "slow":
                if identifier in catalog.slow:
                    time.sleep(catalog.slow_seconds)
                return self._send(200, {"rating": info["rating"]})
            if source == "flaky":
                if identifier in catalog.broken:
                    return self._send(500, {"error": "backend down"})
                with catalog.lock:
                    first = identifier not in catalog.flaky_seen
                    catalog.flaky_seen.add(identifier)
                if first:
                    return self._send(503, {"error": "try again"})
                return self._send(200, {"stock": info["stock"]})
            return self._send(404, {"error": "no such source"})

    return Handler


@contextmanager
def source_servers(catalog: Catalog) -> Iterator[str]:
    """Serve every source on one loopback port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(catalog))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def source_items(base: str, *, flaky_rate: float = 5.0) -> list[dict[str, Any]]:
    return [
        {"name": "specs_api", "type": "json_api", "url": f"{base}/specs/{{identifier}}",
         "json_path": "data", "priority": 1, "timeout_seconds": 2, "max_attempts": 2,
         "backoff_seconds": 0.05, "rate_per_second": 50},
        {"name": "catalog_page", "type": "html", "url": f"{base}/catalog/{{identifier}}.html",
         "priority": 2, "timeout_seconds": 2, "max_attempts": 2, "backoff_seconds": 0.05,
         "rate_per_second": 50},
        {"name": "slow_api", "type": "json_api", "url": f"{base}/slow/{{identifier}}",
         "priority": 3, "timeout_seconds": 0.4, "max_attempts": 2, "backoff_seconds": 0.05,
         "rate_per_second": 50},
        {"name": "flaky_api", "type": "json_api", "url": f"{base}/flaky/{{identifier}}",
         "priority": 4, "timeout_seconds": 2, "max_attempts": 3, "backoff_seconds": 0.1,
         "rate_per_second": flaky_rate},
    ]


def mapping_items(with_warranty: bool = False) -> list[dict[str, str]]:
    items = [
        ("specs_api", "Colour", "color"), ("specs_api", "Weight (g)", "weight_g"),
        ("specs_api", "connector.type", "connector"),
        ("catalog_page", "Color", "color"), ("catalog_page", "Weight", "weight_g"),
        ("catalog_page", "Connector", "connector"),
        ("slow_api", "rating", "rating"), ("flaky_api", "stock", "stock"),
    ]
    if with_warranty:
        items.append(("catalog_page", "Warranty", "warranty"))
    return [{"source": s, "name": n, "unified": u} for s, n, u in items]


def dataset(items: int) -> tuple[bytes, list[str]]:
    """A messy upload: padded and lower-case SKUs, duplicates, rows without a SKU.

    Returns the CSV and the identifiers the ETL must produce (in order).
    """
    lines = ["SKU,Manufacturer,Product Name"]
    identifiers = []
    for i in range(items):
        identifier = f"PX-{1000 + i}"
        identifiers.append(identifier)
        sku = f"  px {1000 + i} " if i % 3 == 0 else f"px-{1000 + i}"
        lines.append(f"{sku},{MANUFACTURERS[i % 3]},Gadget   {i}")
        if i % 5 == 0:
            lines.append(f"PX_{1000 + i},{MANUFACTURERS[i % 3]},duplicate of {i}")
        if i % 7 == 0:
            lines.append(f",{MANUFACTURERS[0]},no sku")
    return ("\n".join(lines) + "\n").encode(), identifiers


def expected_properties(identifier: str, catalog: Catalog, with_warranty: bool = False
                        ) -> dict[str, Any]:
    """The unified properties an item must end with, from the catalog and the sources' cases."""
    if identifier not in catalog.known:
        return {}
    info = product(identifier)
    # specs_api (priority 1) gives color, weight_g (a number) and connector first
    props: dict[str, Any] = {"color": info["color"], "weight_g": info["weight_g"],
                             "connector": info["connector"]}
    if with_warranty:
        props["warranty"] = info["warranty"]
    if identifier not in catalog.slow:
        props["rating"] = info["rating"]
    if identifier not in catalog.broken:
        props["stock"] = info["stock"]
    return props


def expected_statuses(identifier: str, catalog: Catalog) -> dict[str, str]:
    if identifier not in catalog.known:
        return {s: "not_found" for s in ("specs_api", "catalog_page", "slow_api", "flaky_api")}
    return {"specs_api": "found", "catalog_page": "found",
            "slow_api": "error" if identifier in catalog.slow else "found",
            "flaky_api": "error" if identifier in catalog.broken else "found"}


def make_catalog(identifiers: list[str]) -> Catalog:
    """Every item known but every 6th; every 4th slow; every 9th broken at flaky_api."""
    known = {i for n, i in enumerate(identifiers) if n % 6 != 5}
    slow = {i for n, i in enumerate(identifiers) if n % 4 == 1 and i in known}
    broken = {i for n, i in enumerate(identifiers) if n % 9 == 2 and i in known}
    return Catalog(known, slow, broken)


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read_items(ctx: Any, table: str) -> dict[str, dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    ddb, des = ctx.client("dynamodb"), TypeDeserializer()
    items, kwargs = {}, {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        for raw in page["Items"]:
            item = _plain({k: des.deserialize(v) for k, v in raw.items()})
            items[item["item_id"]] = item
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def check_items(items: dict[str, dict[str, Any]], identifiers: list[str], catalog: Catalog,
                with_warranty: bool = False) -> None:
    if sorted(items) != sorted(identifiers):
        raise AssertionError(f"items {sorted(items)}, expected {sorted(identifiers)}")
    for identifier in identifiers:
        item = items[identifier]
        want = expected_properties(identifier, catalog, with_warranty)
        if item.get("properties") != want:
            raise AssertionError(f"{identifier}: properties {item.get('properties')}, "
                                 f"expected {want}")
        if item.get("source_statuses") != expected_statuses(identifier, catalog):
            raise AssertionError(f"{identifier}: statuses {item.get('source_statuses')}, "
                                 f"expected {expected_statuses(identifier, catalog)}")


def put_all(ctx: Any, table: str, items: list[dict[str, Any]]) -> None:
    from decimal import Decimal

    from boto3.dynamodb.types import TypeSerializer

    ddb, ser = ctx.client("dynamodb"), TypeSerializer()
    for item in items:
        plain = json.loads(json.dumps(item), parse_float=Decimal)
        ddb.put_item(TableName=table, Item={k: ser.serialize(v) for k, v in plain.items()})


def wait_execution(sfn: Any, arn: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {arn} still RUNNING after {timeout:g} s")
        time.sleep(0.25)
    return described


def run(ctx: Any, *, items: int = 24, upload: str = "uploads/products.csv") -> dict[str, Any]:
    """Run the scenario; AssertionError with a clear message when a check fails."""
    out = ctx.outputs
    for name in ("DataBucketName", "ItemsTableName", "SourcesTableName", "MappingTableName",
                 "MiningStateMachineArn", "ResponsesBucketName"):
        if not out.get(name):
            raise AssertionError(f"stack output {name} is missing")
    data, identifiers = dataset(items)
    catalog = make_catalog(identifiers)
    s3, sfn = ctx.client("s3"), ctx.client("stepfunctions")
    with source_servers(catalog) as base:
        put_all(ctx, out["SourcesTableName"], source_items(base))
        put_all(ctx, out["MappingTableName"], mapping_items())
        ctx.step(f"4 sources on {base} (json, html, slow, flaky); uploading {upload} with "
                 f"{items} items (padded, duplicated and missing SKUs)")
        machine = out["MiningStateMachineArn"]
        before = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)[
            "executions"]}
        s3.put_object(Bucket=out["DataBucketName"], Key=upload, Body=data)
        execution = ctx.wait_for("the mining execution", lambda: next(
            (e for e in sfn.list_executions(stateMachineArn=machine)["executions"]
             if e["executionArn"] not in before), None), timeout=60)
        described = wait_execution(sfn, execution["executionArn"])
        if described["status"] != "SUCCEEDED":
            raise AssertionError(f"execution ended {described['status']}: "
                                 f"{described.get('error')} {described.get('cause')}")
        summary = json.loads(described["output"])["populate"]["summary"]
        ctx.step(f"execution SUCCEEDED: {summary['items_with_properties']} of "
                 f"{summary['items']} items enriched; per source {summary['sources']}")
        check_items(read_items(ctx, out["ItemsTableName"]), identifiers, catalog)
        flaky_hits = {i: catalog.count("flaky", i) for i in identifiers if i in catalog.known}
        for identifier, hits in flaky_hits.items():
            want = 3 if identifier in catalog.broken else 2
            if hits != want:
                raise AssertionError(f"flaky_api got {hits} requests for {identifier}, "
                                     f"expected {want} (retries)")
        # The limiter grants 5 requests per fixed one-second window when a request leaves;
        # the source counts them when they arrive, so a loaded machine can shift a window's
        # requests into the next second: at most two windows' worth can land in one second.
        busiest = catalog.busiest_second("flaky")
        if busiest > 2 * 5:
            raise AssertionError(f"flaky_api got {busiest} requests in one second "
                                 "(limit 5 per window, so never more than 10)")
        first = next(i for i in identifiers if i in catalog.slow)
        stored = json.loads(s3.get_object(Bucket=out["ResponsesBucketName"],
                                          Key=f"slow_api/{first}.json")["Body"].read())
        if stored["status"] != "error" or "timed out" not in (stored["error"] or ""):
            raise AssertionError(f"slow_api/{first}.json: {stored}")
        ctx.step(f"retries, timeouts and the rate limit held (flaky_api busiest second: "
                 f"{busiest} requests, limit 5); unmapped: {summary['unmapped']}")
        requests_before = sum(catalog.count(s) for s in ("specs", "catalog", "slow", "flaky"))
        put_all(ctx, out["MappingTableName"], mapping_items(with_warranty=True))
        repopulated = ctx.invoke("PopulateFunction", {"all": True})
        check_items(read_items(ctx, out["ItemsTableName"]), identifiers, catalog,
                    with_warranty=True)
        if sum(catalog.count(s) for s in ("specs", "catalog", "slow", "flaky")) != \
                requests_before:
            raise AssertionError("re-populating asked the sources again")
        ctx.step(f"mapping edited (Warranty -> warranty), populate re-run without scraping: "
                 f"{repopulated['properties_written']} properties written")
    return summary

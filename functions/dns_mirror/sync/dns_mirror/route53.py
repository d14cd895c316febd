"""The hosted zone: read page by page, changed batch by batch, every API call counted.

Only two Route 53 actions are used, ListResourceRecordSets and ChangeResourceRecordSets, both
on the configured zone: the function's policy grants nothing else. The zone's origin is checked
from its own SOA record (no GetHostedZone call needed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .plan import Change
from .records import RRSet, name_from_route53, name_key, rrset_from_route53

PAGE_SIZE = "300"  # the most ListResourceRecordSets returns per call


class Route53Error(Exception):
    """Route 53 refused a read or a change."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class CallCounter:
    """Counts HTTP requests per Route 53 operation through botocore's event hooks (retries
    included: each attempt is a request Route 53 rate-limits)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send.route-53", self._count)

    def _count(self, request: Any = None, event_name: str = "", **_: Any) -> None:
        self.counts[event_name.rsplit(".", 1)[-1]] += 1

    def reset(self) -> None:
        self.counts.clear()

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def _client_error(exc: ClientError, zone_id: str, what: str) -> Route53Error:
    code = exc.response.get("Error", {}).get("Code", "ClientError")
    message = exc.response.get("Error", {}).get("Message", str(exc))
    if code == "NoSuchHostedZone":
        return Route53Error("UnknownZone", f"hosted zone {zone_id} does not exist ({message})")
    if code in ("AccessDenied", "AccessDeniedException"):
        return Route53Error("AccessDenied", f"not allowed to {what} hosted zone {zone_id}: "
                                            f"{message}")
    return Route53Error(code, f"{what} hosted zone {zone_id} failed: {code}: {message}")


@dataclass
class Snapshot:
    """The hosted zone as listed: mirrored record sets plus what the mirror leaves alone."""

    origin: str = ""  # the zone's name, from its SOA record
    soa: dict[str, Any] | None = None  # the SOA record set as listed
    rrsets: dict[tuple[str, str], RRSet] = field(default_factory=dict)
    unmanaged: int = 0  # alias and routing-policy record sets: not the master's, left alone
    pages: int = 0

    @property
    def serial(self) -> int:
        assert self.soa is not None
        return int(self.soa["ResourceRecords"][0]["Value"].split()[2])

    def add(self, item: dict[str, Any]) -> None:
        rtype = item["Type"]
        if rtype == "SOA":
            if self.soa is None:
                self.soa = item
                self.origin = name_key(name_from_route53(item["Name"]))
                # The apex NS set (listed just before the SOA): Route 53's own name servers.
                self.rrsets.pop((self.origin, "NS"), None)
            return
        if "AliasTarget" in item or "SetIdentifier" in item or not item.get("ResourceRecords"):
            self.unmanaged += 1
            return
        rrset = rrset_from_route53(item)
        if rtype == "NS" and rrset.name == self.origin:
            return  # the apex NS set: never touched
        self.rrsets[rrset.key] = rrset


class HostedZone:
    """One hosted zone, through a boto3 Route 53 client."""

    def __init__(self, client: Any, zone_id: str) -> None:
        self.client = client
        self.zone_id = zone_id

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """Every page of ListResourceRecordSets, fetched as the caller asks for them."""
        kwargs: dict[str, Any] = {"HostedZoneId": self.zone_id, "MaxItems": PAGE_SIZE}
        while True:
            try:
                page = self.client.list_resource_record_sets(**kwargs)
            except ClientError as exc:
                raise _client_error(exc, self.zone_id, "list") from exc
            yield page.get("ResourceRecordSets", [])
            if not page.get("IsTruncated"):
                return
            kwargs["StartRecordName"] = page["NextRecordName"]
            kwargs["StartRecordType"] = page["NextRecordType"]
            if page.get("NextRecordIdentifier"):
                kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]
            else:
                kwargs.pop("StartRecordIdentifier", None)

    def change(self, batch: list[Change], comment: str) -> None:
        """One ChangeResourceRecordSets call (all or nothing on Route 53)."""
        try:
            self.client.change_resource_record_sets(
                HostedZoneId=self.zone_id,
                ChangeBatch={"Comment": comment[:256], "Changes": [c.to_api() for c in batch]})
        except ClientError as exc:
            raise _client_error(exc, self.zone_id, "change") from exc


def soa_with_serial(soa: dict[str, Any], serial: int) -> RRSet:
    """Route 53's own SOA record set with only the serial replaced by the master's."""
    fields = soa["ResourceRecords"][0]["Value"].split()
    fields[2] = str(serial)
    return RRSet(name_key(name_from_route53(soa["Name"])), "SOA", int(soa.get("TTL", 900)),
                 (" ".join(fields),))

"""localcloud's Route 53 fixes over moto (localcloud/motopatch.py: patch_route53), which the
mirror relies on: a new zone's SOA as text, atomic change batches, the character limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud import motopatch


@pytest.fixture
def r53() -> Iterator[Any]:
    motopatch.patch_route53()
    with mock_aws():
        yield boto3.client("route53", region_name="us-east-1")


def zone(r53: Any) -> str:
    return r53.create_hosted_zone(
        Name="z.internal", CallerReference="t", HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": "us-east-1", "VPCId": "vpc-1"})["HostedZone"]["Id"]


def listing(r53: Any, zone_id: str) -> list[tuple[str, str]]:
    return [(r["Name"], r["Type"])
            for r in r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]]


def a(name: str, value: str = "10.0.0.1", action: str = "CREATE") -> dict[str, Any]:
    return {"Action": action, "ResourceRecordSet": {
        "Name": name, "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": value}]}}


def test_a_new_zone_has_an_soa_value_as_route53_writes_it(r53: Any) -> None:
    zone_id = zone(r53)
    soa = [r for r in r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
           if r["Type"] == "SOA"][0]
    fields = soa["ResourceRecords"][0]["Value"].split()
    assert fields[1] == "awsdns-hostmaster.amazon.com." and fields[2:] == [
        "1", "7200", "900", "1209600", "86400"]


def test_a_batch_with_a_bad_change_applies_nothing(r53: Any) -> None:
    zone_id = zone(r53)
    before = listing(r53, zone_id)
    bad_delete = a("never.z.internal.", action="DELETE")
    with pytest.raises(ClientError, match="InvalidInput"):
        r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
            "Changes": [a("one.z.internal."), a("two.z.internal."), bad_delete]})
    assert listing(r53, zone_id) == before
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Changes": [a("one.z.internal.")]})  # the journal was rolled back too
    assert ("one.z.internal.", "A") in listing(r53, zone_id)


def test_more_than_32000_characters_of_values_is_refused(r53: Any) -> None:
    zone_id = zone(r53)
    value = '"' + "x" * 3998 + '"'
    txt = [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": f"t{i}.z.internal.", "Type": "TXT", "TTL": 300,
        "ResourceRecords": [{"Value": value}]}} for i in range(5)]
    with pytest.raises(ClientError, match="32000"):
        r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": txt})
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": txt[:4]})
    assert len(listing(r53, zone_id)) == 2 + 4

"""Cross-region copy on moto's EC2 (us-east-1 -> us-west-2): tags, encryption, idempotency."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from ebs_snapshots_testlib import MANAGED, ROOT, tags_of, volume
from snapshot_copy import NotACopyableEvent, copy_snapshot, snapshot_of
from snapshot_schedule import COPIED_FROM, EXPIRES, MANAGED_BY

DEST_KEY = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def sample() -> dict:
    return json.loads((ROOT / "events/ebs_snapshots/create_snapshot_succeeded.json").read_text())


def managed_snapshot(ec2, encrypted: bool = False) -> str:
    vid = ec2.create_volume(Size=1, AvailabilityZone="us-east-1a", Encrypted=encrypted,
                            TagSpecifications=[{"ResourceType": "volume", "Tags": [
                                {"Key": "Name", "Value": "db"}]}])["VolumeId"]
    return ec2.create_snapshot(VolumeId=vid, Description="nightly", TagSpecifications=[{
        "ResourceType": "snapshot", "Tags": [
            {"Key": "Name", "Value": "db"}, {"Key": MANAGED_BY, "Value": MANAGED},
            {"Key": EXPIRES, "Value": "2024-05-09T09:00:00Z"}]}])["SnapshotId"]


def test_the_event_names_the_snapshot_and_its_region() -> None:
    assert snapshot_of(sample()) == ("us-east-1", "snap-01234567890abcdef")
    usual = sample()
    usual["detail"]["snapshot_id"] = "arn:aws:ec2:eu-west-1:123456789012:snapshot/snap-0abc"
    assert snapshot_of(usual) == ("eu-west-1", "snap-0abc")
    failed = sample()
    failed["detail"]["result"] = "failed"
    with pytest.raises(NotACopyableEvent, match="failed"):
        snapshot_of(failed)
    copy_event = sample()
    copy_event["detail"]["event"] = "copySnapshot"
    with pytest.raises(NotACopyableEvent):
        snapshot_of(copy_event)
    bad = sample()
    bad["detail"]["snapshot_id"] = "snap-123"
    with pytest.raises(NotACopyableEvent, match="unreadable"):
        snapshot_of(bad)


def test_a_copy_carries_the_tags_and_is_made_once(regions) -> None:
    east, west = regions["us-east-1"], regions["us-west-2"]
    snap = managed_snapshot(east)
    out = copy_snapshot(east, west, "us-east-1", snap, "us-west-2", managed_by=MANAGED)
    assert out["copied"].startswith("snap-") and out["encrypted"] is False
    copy = west.describe_snapshots(SnapshotIds=[out["copied"]])["Snapshots"][0]
    assert tags_of(copy) == {"Name": "db", MANAGED_BY: MANAGED,
                             EXPIRES: "2024-05-09T09:00:00Z",
                             COPIED_FROM: f"us-east-1/{snap}"}
    assert copy["Description"] == f"Copy of {snap} from us-east-1: nightly"
    again = copy_snapshot(east, west, "us-east-1", snap, "us-west-2", managed_by=MANAGED)
    assert again["copied"] == out["copied"] and again["existing"] is True
    copies = west.describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": f"tag:{COPIED_FROM}", "Values": [f"us-east-1/{snap}"]}])["Snapshots"]
    assert len(copies) == 1


def test_an_encrypted_snapshot_is_copied_with_the_destination_key(regions) -> None:
    east, west = regions["us-east-1"], regions["us-west-2"]
    snap = managed_snapshot(east, encrypted=True)
    calls = []
    west.meta.events.register("provide-client-params.ec2.CopySnapshot",
                              lambda params, **_: calls.append(dict(params)))
    out = copy_snapshot(east, west, "us-east-1", snap, "us-west-2", DEST_KEY,
                        managed_by=MANAGED)
    assert out["encrypted"] is True and out["kmsKeyId"] == DEST_KEY
    assert calls[0]["Encrypted"] is True and calls[0]["KmsKeyId"] == DEST_KEY
    copy = west.describe_snapshots(SnapshotIds=[out["copied"]])["Snapshots"][0]
    assert copy["Encrypted"] is True and copy["KmsKeyId"] == DEST_KEY


def test_what_is_not_copied(regions) -> None:
    east, west = regions["us-east-1"], regions["us-west-2"]
    vid = volume(east, {"Name": "x"})
    foreign = east.create_snapshot(VolumeId=vid)["SnapshotId"]
    assert copy_snapshot(east, west, "us-east-1", foreign, "us-west-2", managed_by=MANAGED
                         )["skipped"] == "not made by this scheduler (CopyScope managed)"
    assert "copied" in copy_snapshot(east, west, "us-east-1", foreign, "us-west-2",
                                     scope="all", managed_by=MANAGED)
    copy = copy_snapshot(east, west, "us-east-1", managed_snapshot(east), "us-west-2",
                         managed_by=MANAGED)["copied"]
    assert copy_snapshot(west, east, "us-west-2", copy, "us-east-1", scope="all",
                         managed_by=MANAGED)["skipped"] == "a copy is not copied again"
    assert copy_snapshot(east, east, "us-east-1", foreign, "us-east-1", scope="all")[
        "skipped"] == "destination region is the source region"


def test_the_handler_copies_from_the_event(regions, load_module, monkeypatch) -> None:
    monkeypatch.setenv("MANAGED_BY", MANAGED)
    monkeypatch.setenv("DESTINATION_REGION", "us-west-2")
    monkeypatch.setenv("DESTINATION_KMS_KEY_ID", DEST_KEY)
    from common import aws

    aws.clear_cache()
    app = load_module("functions/ebs_snapshots/snapshots/app.py", "ebs_snapshots_copy_app")
    snap = managed_snapshot(regions["us-east-1"])
    event = sample()
    event["detail"]["snapshot_id"] = f"arn:aws:ec2::us-east-1:snapshot/{snap}"
    context = SimpleNamespace(function_name="f", memory_limit_in_mb=256, aws_request_id="r",
                              invoked_function_arn="arn:aws:lambda:us-east-1:1:function:f")
    out = app.copy_handler(event, context)
    assert out["destinationRegion"] == "us-west-2" and out["copied"].startswith("snap-")
    failed = sample()
    failed["detail"]["result"] = "failed"
    assert "failed" in app.copy_handler(failed, context)["skipped"]

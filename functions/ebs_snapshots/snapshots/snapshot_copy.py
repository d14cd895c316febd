"""Cross-region copy of a completed EBS snapshot (the seed's CloudWatch Events example).

The EventBridge event (source aws.ec2, detail-type "EBS Snapshot Notification", event
createSnapshot, result succeeded) names the snapshot by ARN; the copy is made in the
destination region with the source's tags (AWS-reserved keys excepted) and a marker naming the
source, and an encrypted snapshot is re-encrypted with the destination region's KMS key.
"""

from __future__ import annotations

import re
from typing import Any

from snapshot_schedule import COPIED_FROM, MANAGED_BY

# EBS events write the region where an ARN has the account ("arn:aws:ec2::us-west-2:snapshot/
# snap-..."); the usual order is accepted too.
_ARN = re.compile(r"^arn:aws[a-z-]*:ec2:(?P<a>[a-z0-9-]*):(?P<b>[a-z0-9-]*):snapshot/"
                  r"(?P<id>snap-[0-9a-f]+)$")


class NotACopyableEvent(ValueError):
    """The event is not a successful createSnapshot notification."""


def snapshot_of(event: dict[str, Any]) -> tuple[str, str]:
    """(region, snapshot id) of a successful createSnapshot event."""
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict) or detail.get("event") != "createSnapshot":
        raise NotACopyableEvent("not a createSnapshot notification")
    if detail.get("result") != "succeeded":
        raise NotACopyableEvent(f"createSnapshot {detail.get('result')}: nothing to copy")
    match = _ARN.match(str(detail.get("snapshot_id", "")))
    if not match:
        raise NotACopyableEvent(f"unreadable snapshot_id {detail.get('snapshot_id')!r}")
    region = next((part for part in (match.group("a"), match.group("b"))
                   if part and not part.isdigit()), event.get("region", ""))
    return region, match.group("id")


def copy_snapshot(source_ec2: Any, dest_ec2: Any, source_region: str, snapshot_id: str,
                  dest_region: str, dest_kms_key: str = "", scope: str = "managed",
                  managed_by: str = "") -> dict[str, Any]:
    """Copy one snapshot; returns what was done ({"copied": ...} or {"skipped": reason})."""
    out: dict[str, Any] = {"source": snapshot_id, "sourceRegion": source_region,
                           "destinationRegion": dest_region}
    if dest_region == source_region:
        return {**out, "skipped": "destination region is the source region"}
    snap = source_ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
    tags = {t["Key"]: t["Value"] for t in snap.get("Tags", [])}
    if COPIED_FROM in tags:
        return {**out, "skipped": "a copy is not copied again"}
    if scope == "managed" and tags.get(MANAGED_BY) != managed_by:
        return {**out, "skipped": "not made by this scheduler (CopyScope managed)"}
    # EventBridge delivers at least once: an existing copy of this source is the answer.
    existing = dest_ec2.describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": f"tag:{COPIED_FROM}", "Values": [f"{source_region}/{snapshot_id}"]}])[
        "Snapshots"]
    if existing:
        return {**out, "copied": existing[0]["SnapshotId"], "existing": True}
    carried = [{"Key": k, "Value": v} for k, v in tags.items() if not k.startswith("aws:")]
    carried.append({"Key": COPIED_FROM, "Value": f"{source_region}/{snapshot_id}"})
    kwargs: dict[str, Any] = {
        "SourceRegion": source_region, "SourceSnapshotId": snapshot_id,
        "Description": f"Copy of {snapshot_id} from {source_region}"
                       + (f": {snap['Description']}" if snap.get("Description") else ""),
        "TagSpecifications": [{"ResourceType": "snapshot", "Tags": carried}]}
    if snap.get("Encrypted"):
        kwargs["Encrypted"] = True
        if dest_kms_key:  # else the destination region's default EBS key
            kwargs["KmsKeyId"] = dest_kms_key
    copied = dest_ec2.copy_snapshot(**kwargs)
    return {**out, "copied": copied["SnapshotId"], "encrypted": bool(snap.get("Encrypted")),
            "kmsKeyId": kwargs.get("KmsKeyId", "")}

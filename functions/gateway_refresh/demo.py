"""The gateway_refresh scenario for `localcloud demo`, and helpers the tests share.

Storage Gateway does not run locally (moto has no Storage Gateway): the function's gateway
client is the local stand-in of gateway_client.py, which keeps the gateway's shares and every
RefreshCache request in the cloud's state folder. The scenario registers two gateways' shares
(one exporting projects/, one projects/alpha/) and a share the gateway does not know
(archive/), changes many objects, and checks that each share was refreshed for exactly the
folders that changed, in far fewer calls than there were events.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Protocol

SHARE = "arn:aws:storagegateway:us-east-1:123456789012:share/share-{}"


class DemoContext(Protocol):
    outputs: dict[str, Any]
    cloud: Any

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def wait_for(self, what: str, check: Any, timeout: float = 30.0,
                 every: float = 0.2) -> Any: ...


def gateway_dir(ctx: DemoContext) -> Path:
    return Path(ctx.cloud.state_dir) / "storagegateway"


def set_gateway_shares(ctx: DemoContext, shares: list[str]) -> None:
    """The file shares the (local) gateways have."""
    folder = gateway_dir(ctx)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shares.json").write_text(json.dumps({"shares": shares}))


def configure(ctx: DemoContext, mapping: dict[str, str]) -> None:
    """share ARN -> prefix of the shared bucket, in the FileShares table."""
    ddb, out = ctx.client("dynamodb"), ctx.outputs
    for share, prefix in mapping.items():
        ddb.put_item(TableName=out["FileSharesTableName"], Item={
            "bucket": {"S": out["SharedBucketName"]}, "share_arn": {"S": share},
            "prefix": {"S": prefix}})


def refresh_calls(ctx: DemoContext) -> list[dict[str, Any]]:
    path = gateway_dir(ctx) / "refresh_calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def covered(calls: list[dict[str, Any]], share: str, folder: str) -> bool:
    """Whether some call refreshed `folder` of `share` (itself, or an ancestor recursively)."""
    for call in calls:
        if call["share"] != share:
            continue
        for f in call["folders"]:
            if f == folder or (call["recursive"] and (f == "/" or folder.startswith(f + "/"))):
                return True
    return False


def run(ctx: DemoContext) -> None:
    out, s3 = ctx.outputs, ctx.client("s3")
    bucket, run_id = out["SharedBucketName"], uuid.uuid4().hex[:6]
    team, alpha, unknown = (SHARE.format(f"{run_id}A"), SHARE.format(f"{run_id}B"),
                            SHARE.format(f"{run_id}X"))
    set_gateway_shares(ctx, [team, alpha])
    configure(ctx, {team: f"{run_id}/projects/", alpha: f"{run_id}/projects/alpha/",
                    unknown: f"{run_id}/archive/"})
    ctx.step("shares: team -> projects/, alpha -> projects/alpha/ (gateway 2), "
             "archive/ -> a share no gateway has")
    keys = [f"{run_id}/projects/{p}/{d}/file-{i}.txt" for p in ("alpha", "beta", "gamma")
            for d in ("src", "docs") for i in range(8)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    for key in keys[:6]:
        s3.delete_object(Bucket=bucket, Key=key)
    s3.put_object(Bucket=bucket, Key=f"{run_id}/misc/readme.txt", Body=b"no share")
    events = len(keys) + 6
    ctx.step(f"{events} object changes (48 PUTs, 6 DELETEs) + 1 outside every share")
    want = {(team, f"/{p}/{d}") for p in ("alpha", "beta", "gamma") for d in ("src", "docs")}
    want |= {(alpha, f"/{d}") for d in ("src", "docs")}

    def all_refreshed() -> bool:
        calls = refresh_calls(ctx)
        return all(covered(calls, share, folder) for share, folder in want)

    ctx.wait_for("every changed folder refreshed on its shares", all_refreshed, timeout=60)
    ctx.cloud.wait_idle()
    calls = [c for c in refresh_calls(ctx) if c["share"] in (team, alpha, unknown)]
    per_share = {s: sum(1 for c in calls if c["share"] == s) for s in (team, alpha)}
    assert all(c["share"] != unknown for c in calls), "an unknown share was refreshed"
    assert per_share[team] < events / 4 and per_share[alpha] < events / 4, per_share
    ctx.step(f"RefreshCache calls: {per_share[team]} for team, {per_share[alpha]} for alpha "
             f"(not {events}); folders: "
             + ", ".join(sorted({f for c in calls if c['share'] == team for f in c['folders']})))

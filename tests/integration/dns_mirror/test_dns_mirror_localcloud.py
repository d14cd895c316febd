"""dns_mirror deployed from the templates into the local cloud, driven through its schedules.

The root template is deployed with the app's parameters pointing at a real named (and a TSIG
key it requires, whose secret sits in an SSM SecureString). Firing a schedule delivers its
constant input to the function in a Lambda-like worker (128 MB enforced), which transfers
the zone and writes the private hosted zone the stack created.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SERIAL = 2026112301
KEY = "mirror-xfr"
SECRET_PARAMETER = "/dns_mirror/tsig"


@pytest.fixture(scope="module")
def stack(lm: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    secret = lm.tsig_secret()
    named = lm.BindServer(tmp_path_factory.mktemp("named"))
    named.add_key(KEY, secret)
    fwd = lm.zone_text(lm.FORWARD, SERIAL, lm.forward_records())
    rev = lm.zone_text(lm.REVERSE, SERIAL, lm.reverse_records(), ns=(f"ns1.{lm.FORWARD}.",))
    named.add_zone(lm.FORWARD, fwd, allow_transfer=[f"key {KEY}"])
    named.add_zone(lm.REVERSE, rev, allow_transfer=[f"key {KEY}"])
    named.start()
    cloud = LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None)
    try:
        cloud.start()
        cloud.deploy(apps={"dns_mirror"}, parameters={
            "DnsMirrorMasterDns": named.host, "DnsMirrorMasterPort": str(named.port),
            "DnsMirrorZoneDomain": lm.FORWARD, "DnsMirrorReverseZoneDomain": lm.REVERSE,
            "DnsMirrorTsigKeyName": KEY, "DnsMirrorTsigSecretParameter": SECRET_PARAMETER})
        cloud.client("ssm").put_parameter(Name=SECRET_PARAMETER, Value=secret,
                                          Type="SecureString")
        cloud.start_delivery()
        yield {"cloud": cloud, "named": named, "outputs": cloud.outputs()["dns_mirror"],
               "texts": {lm.FORWARD: fwd, lm.REVERSE: rev}}
    finally:
        cloud.stop()
        named.stop()


def rule_input(stack: dict[str, Any], output: str) -> dict[str, Any]:
    events = stack["cloud"].client("events")
    rule = events.describe_rule(Name=stack["outputs"][output])
    assert rule["ScheduleExpression"] == "rate(15 minutes)" and rule["State"] == "ENABLED"
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == stack["outputs"]["SyncFunctionArn"]
    return json.loads(target["Input"])


def invoke(stack: dict[str, Any], event: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    cloud = stack["cloud"]
    result = cloud.invoke(cloud.find_function("dns_mirror/SyncFunction").name, event)
    assert result.ok, result.error
    return json.loads(result.payload), result


def test_stack_creates_private_zones_and_one_schedule_per_zone(
        lm: ModuleType, stack: dict[str, Any]) -> None:
    out, cloud = stack["outputs"], stack["cloud"]
    r53 = cloud.client("route53")
    for zone_id, domain in ((out["HostedZoneId"], lm.FORWARD),
                            (out["ReverseHostedZoneId"], lm.REVERSE)):
        zone = r53.get_hosted_zone(Id=zone_id)
        assert zone["HostedZone"]["Name"] == domain + "."
        assert zone["HostedZone"]["Config"]["PrivateZone"] is True
        assert zone["VPCs"] == [{"VPCRegion": "us-east-1", "VPCId": out["HostedZoneVpcId"]}]
    vpc = cloud.client("ec2").describe_vpcs(VpcIds=[out["HostedZoneVpcId"]])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.255.255.0/28"
    assert rule_input(stack, "ForwardScheduleName") == {
        "Domain": lm.FORWARD, "MasterDns": "127.0.0.1", "MasterPort": stack["named"].port,
        "ZoneId": out["HostedZoneId"], "IgnoreTTL": "False", "ZoneSerial": "",
        "TsigKey": {"Name": KEY, "Algorithm": "hmac-sha256", "SecretParameter": SECRET_PARAMETER}}
    assert rule_input(stack, "ReverseScheduleName")["ZoneId"] == out["ReverseHostedZoneId"]
    spec = cloud.find_function("dns_mirror/SyncFunction")
    assert (spec.memory_mb, spec.timeout) == (128, 300.0)


def test_firing_the_schedules_mirrors_both_zones(lm: ModuleType, stack: dict[str, Any]) -> None:
    cloud, out = stack["cloud"], stack["outputs"]
    for schedule in ("ForwardSchedule", "ReverseSchedule"):
        cloud.scheduler.fire(f"dns_mirror/{schedule}")
    assert cloud.wait_idle(timeout=120)
    assert cloud.async_failures == []
    r53 = cloud.client("route53")
    for zone_id, domain in ((out["HostedZoneId"], lm.FORWARD),
                            (out["ReverseHostedZoneId"], lm.REVERSE)):
        assert lm.route53_differences(r53, zone_id, stack["texts"][domain], domain) == []


def test_the_worker_reports_and_logs_within_128_mb(lm: ModuleType,
                                                   stack: dict[str, Any]) -> None:
    event = rule_input(stack, "ForwardScheduleName")
    body, result = invoke(stack, event)  # the schedules above already mirrored it
    assert body["status"] == "in_sync" and body["route53_calls"] == {"ListResourceRecordSets": 1}
    assert 0 < result.max_memory_mb < 128
    emf = [json.loads(line) for line in result.logs.splitlines() if line.startswith('{"_aws"')]
    assert emf and emf[-1]["SyncFailures"] == [0.0] and emf[-1]["Zone"] == lm.FORWARD + "."


def test_tsig_is_required_and_its_secret_must_exist(stack: dict[str, Any]) -> None:
    event = rule_input(stack, "ForwardScheduleName")
    no_key = {k: v for k, v in event.items() if k != "TsigKey"}
    body, _ = invoke(stack, {**no_key, "ZoneSerial": "0"})
    assert body["status"] == "error" and body["error"]["type"] == "Refused"
    missing = {**event, "TsigKey": {**event["TsigKey"], "SecretParameter": "/no/such"}}
    body, result = invoke(stack, missing)
    assert body["error"]["type"] == "TsigSecretUnavailable" and "/no/such" in body["message"]
    assert "SyncFailures\":[1.0]" in result.logs.replace(" ", "")


def test_bad_input_through_the_worker(stack: dict[str, Any]) -> None:
    body, _ = invoke(stack, json.loads((ROOT / "events" / "dns_mirror" / "missing_keys.json")
                                       .read_text()))
    assert body["status"] == "error" and body["error"]["type"] == "InvalidEvent"


@pytest.mark.slow
def test_demo_passes() -> None:
    out = subprocess.run([sys.executable, "-m", "localcloud.cli", "demo", "dns_mirror"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[dns_mirror] PASSED" in out.stdout
    assert "in_sync" in out.stdout and "+ new-host.corp.example.internal. A" in out.stdout

"""dns_mirror against real peers: BIND 9 (`named`) on a loopback port, Route 53 from moto."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud import motopatch

ROOT = Path(__file__).resolve().parents[3]
APP_DIR = ROOT / "functions" / "dns_mirror"
CODE = APP_DIR / "sync"
# Appended, not prepended: only the `dns_mirror` package is wanted from there, and other
# apps' tests must not pick up this function's `app` module.
if str(CODE) not in sys.path:
    sys.path.append(str(CODE))


def _local_master() -> ModuleType:
    name = "dns_mirror_local_master"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, APP_DIR / "local_master.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def lm() -> ModuleType:
    """functions/dns_mirror/local_master.py: BindServer, sample zones, hosted zone checks."""
    return _local_master()


@pytest.fixture
def named(lm: ModuleType, tmp_path: Path) -> Iterator[Any]:
    """A BindServer of this test's own (add zones, then start()); stopped afterwards."""
    server = lm.BindServer(tmp_path / "named")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """In-process moto with localcloud's Route 53 fixes; clients for route53, ec2 and ssm."""
    motopatch.patch_route53()
    with mock_aws():
        yield {name: boto3.client(name, region_name="us-east-1")
               for name in ("route53", "ec2", "ssm")}


@pytest.fixture
def private_zone(aws: dict[str, Any]) -> Any:
    """make(domain) -> the id of a new private hosted zone in a new VPC."""
    vpc = aws["ec2"].create_vpc(CidrBlock="10.255.255.0/28")["Vpc"]["VpcId"]

    def make(domain: str) -> str:
        out = aws["route53"].create_hosted_zone(
            Name=domain, CallerReference=f"test-{domain}",
            HostedZoneConfig={"PrivateZone": True, "Comment": "test"},
            VPC={"VPCRegion": "us-east-1", "VPCId": vpc})
        return out["HostedZone"]["Id"].split("/")[-1]

    return make

"""booking through the localcloud CLI, as a user runs it: the demo and `invoke` of a step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "booking"
CLI = [sys.executable, "-m", "localcloud.cli"]

pytestmark = pytest.mark.integration


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_demo_passes() -> None:
    out = _cli("demo", "booking")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[booking] PASSED" in out.stdout
    assert "1/1 scenarios passed" in out.stdout
    assert "refunded once" in out.stdout
    assert "3 CONFIRMED, 5 CANCELLED" in out.stdout
    # The interpreter's failure logging stays quiet even though the scenario fails on purpose.
    assert "Exception=FailureEventException" not in out.stderr


def test_invoke_a_workflow_step_with_a_sample_event() -> None:
    out = _cli("invoke", "booking/CollectPaymentFunction", "--event",
               str(EVENTS / "collect_payment.json"))
    assert out.returncode == 0, out.stderr
    charge = json.loads(out.stdout)
    assert (charge["status"], charge["amount"], charge["currency"]) == ("CAPTURED", 45900, "GBP")
    assert charge["chargeId"].startswith("ch_")
    assert "REPORT RequestId:" in out.stderr

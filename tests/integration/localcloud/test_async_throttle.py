"""A throttled asynchronous invocation waits for capacity; it is not dropped (as on Lambda)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from localcloud.testing import running_cloud

pytestmark = pytest.mark.integration

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.11
      Timeout: 10
      ReservedConcurrentExecutions: 1
"""

HANDLER = """\
import json, os, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    with open(os.path.join(os.environ["OUT_DIR"], event["name"]), "w") as fh:
        json.dump(event, fh)
    return event
"""


def test_throttled_async_events_all_run(tmp_path: Path) -> None:
    app = tmp_path / "throttle_app"
    (app / "fn").mkdir(parents=True)
    (app / "template.yaml").write_text(TEMPLATE)
    (app / "fn" / "app.py").write_text(HANDLER)
    out = tmp_path / "out"
    out.mkdir()
    with running_cloud(template=app / "template.yaml", api=False, delivery=False) as cloud:
        spec = cloud.find_function("SlowFunction")
        spec.environment["OUT_DIR"] = str(out)
        cloud.register_function(spec)  # the pool picks up the test's output folder
        lam = cloud.client("lambda")
        names = [f"event-{i}" for i in range(4)]
        for name in names:
            lam.invoke(FunctionName=spec.name, InvocationType="Event",
                       Payload=json.dumps({"name": name, "sleep": 0.3}).encode())
        assert cloud.wait_idle(timeout=30)
        deadline = time.time() + 5
        while len(list(out.iterdir())) < len(names) and time.time() < deadline:
            time.sleep(0.1)
        assert sorted(p.name for p in out.iterdir()) == names
        assert cloud.async_failures == []

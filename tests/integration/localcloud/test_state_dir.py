"""LOCALCLOUD_STATE_DIR: one folder per cloud, shared by every worker, removed at stop."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud
from localcloud.runtime.executor import FunctionSpec

pytestmark = pytest.mark.integration

HANDLER = textwrap.dedent(
    """
    import os

    def handler(event, context):
        state = os.environ["LOCALCLOUD_STATE_DIR"]
        path = os.path.join(state, "counter.txt")
        count = int(open(path).read()) + 1 if os.path.exists(path) else 1
        with open(path, "w") as f:
            f.write(str(count))
        return {"state_dir": state, "count": count}
    """
)


def test_workers_share_the_cloud_state_dir_and_stop_removes_it(tmp_path: Path) -> None:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    cloud = LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        state_dir = cloud.state_dir
        assert state_dir is not None and state_dir.is_dir()
        for name in ("first", "second"):  # two functions: two worker processes
            cloud.register_function(FunctionSpec(
                name=name, arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
                handler="app.handler", code_dir=code, timeout=10))
        first = json.loads(cloud.invoke("first", {}).payload)
        second = json.loads(cloud.invoke("second", {}).payload)
        assert first == {"state_dir": str(state_dir), "count": 1}
        assert second == {"state_dir": str(state_dir), "count": 2}
        assert (state_dir / "counter.txt").read_text() == "2"
    finally:
        cloud.stop()
    assert not state_dir.exists()

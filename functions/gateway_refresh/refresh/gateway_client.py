"""The edge this app talks to: a Storage Gateway's RefreshCache, behind a small interface.

`AwsGateway` calls the Storage Gateway API. `LocalGateway` stands in for it where no gateway
exists (moto does not emulate Storage Gateway): on localcloud it keeps the gateway's file
shares and every RefreshCache request in files of the cloud's state folder, and answers an
unknown share or a third concurrent refresh the way the service does.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Protocol


class GatewayError(Exception):
    """RefreshCache was refused (unknown share, throttled, gateway offline...)."""

    def __init__(self, share_arn: str, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.share_arn = share_arn
        self.code = code


class Gateway(Protocol):
    def refresh_cache(self, share_arn: str, folders: list[str], recursive: bool) -> str:
        """Start a refresh; returns its notification id."""
        ...


class AwsGateway:
    def __init__(self, client: Any) -> None:
        self.client = client

    def refresh_cache(self, share_arn: str, folders: list[str], recursive: bool) -> str:
        from botocore.exceptions import ClientError

        try:
            out = self.client.refresh_cache(FileShareARN=share_arn, FolderList=folders,
                                            Recursive=recursive)
        except ClientError as err:
            error = err.response.get("Error", {})
            raise GatewayError(share_arn, error.get("Code", "ClientError"),
                               error.get("Message", str(err))) from err
        return str(out.get("NotificationId", ""))


class LocalGateway:
    """Shares in `<dir>/shares.json` ({"shares": [arn, ...]}); requests appended to
    `<dir>/refresh_calls.jsonl`, one JSON line each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def calls_file(self) -> Path:
        return self.folder / "refresh_calls.jsonl"

    def shares(self) -> set[str]:
        try:
            return set(json.loads((self.folder / "shares.json").read_text())["shares"])
        except FileNotFoundError:
            return set()

    def refresh_cache(self, share_arn: str, folders: list[str], recursive: bool) -> str:
        if share_arn not in self.shares():
            raise GatewayError(share_arn, "InvalidGatewayRequestException",
                               "The specified file share was not found.")
        if not 1 <= len(folders) <= 50 or any(not f.startswith("/") for f in folders):
            raise GatewayError(share_arn, "ValidationException", f"bad FolderList {folders}")
        notification = str(uuid.uuid4())
        line = json.dumps({"share": share_arn, "folders": folders, "recursive": recursive,
                           "notification_id": notification, "at": time.time(),
                           "pid": os.getpid()}) + "\n"
        # One write of one line with O_APPEND: concurrent workers never interleave lines.
        fd = os.open(self.calls_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        return notification


def make_gateway() -> Gateway:
    """The local stand-in on localcloud (LOCALCLOUD_STATE_DIR is set), else Storage Gateway."""
    state = os.environ.get("LOCALCLOUD_STATE_DIR")
    if state:
        return LocalGateway(Path(state) / "storagegateway")
    import boto3

    return AwsGateway(boto3.client("storagegateway"))

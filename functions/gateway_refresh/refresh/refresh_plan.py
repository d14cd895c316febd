"""Which file shares to refresh, and which folders of each, for a batch of S3 events.

Plain functions: S3 event records (from SQS messages) are matched to the file shares that
export their bucket/prefix, and each share's changed folders are coalesced into one
RefreshCache request: at most 50 folders (the API's limit), non-recursive when the folders
themselves are few enough, else lifted to common ancestors and refreshed recursively.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

MAX_FOLDERS = 50  # RefreshCache FolderList: 1..50 items


class BadMessage(ValueError):
    """A message that holds no S3 event, or a key that is not URL-encoded UTF-8."""


@dataclass(frozen=True)
class Share:
    arn: str
    bucket: str
    prefix: str  # "" or ending with "/"

    def covers(self, bucket: str, key: str) -> bool:
        return bucket == self.bucket and key.startswith(self.prefix)

    def folder_of(self, key: str) -> str:
        """The share folder (path from the share root, starting with '/') holding `key`."""
        rel = key[len(self.prefix):]
        parent = posixpath.dirname(rel.rstrip("/") if rel.endswith("/") else rel)
        return "/" + parent if parent else "/"


@dataclass(frozen=True)
class Change:
    message_id: str
    bucket: str
    key: str
    event_name: str


@dataclass
class Refresh:
    share: Share
    folders: list[str]
    recursive: bool
    message_ids: set[str] = field(default_factory=set)
    changes: int = 0


def changes_in(message_id: str, body: str) -> list[Change]:
    """The object changes an S3 notification (an SQS message body) reports; [] for a test."""
    try:
        event = json.loads(body)
    except (TypeError, json.JSONDecodeError) as err:
        raise BadMessage("message body is not JSON") from err
    if not isinstance(event, dict):
        raise BadMessage("message body is not an S3 event")
    if event.get("Event") == "s3:TestEvent":
        return []
    records = event.get("Records")
    if not isinstance(records, list):
        raise BadMessage("message has no S3 Records")
    out = []
    for record in records:
        try:
            name = str(record["eventName"])
            bucket = record["s3"]["bucket"]["name"]
            raw = record["s3"]["object"]["key"]
        except (KeyError, TypeError) as err:
            raise BadMessage(f"S3 record lacks {err}") from err
        if not name.startswith(("ObjectCreated", "ObjectRemoved")):
            continue
        try:
            key = unquote_plus(raw, encoding="utf-8", errors="strict")
        except UnicodeDecodeError as err:
            raise BadMessage(f"key {raw!r} is not URL-encoded UTF-8") from err
        out.append(Change(message_id, bucket, key, name))
    return out


def coalesce(folders: Iterable[str], limit: int = MAX_FOLDERS) -> tuple[list[str], bool]:
    """At most `limit` folders covering `folders`; True when they must be refreshed
    recursively (some were replaced by an ancestor)."""
    current = set(folders) or {"/"}
    recursive = False
    while len(current) > limit:
        recursive = True
        deepest = max(f.count("/") for f in current if f != "/")
        current = {posixpath.dirname(f) if f.count("/") == deepest and f != "/" else f
                   for f in current}
    if recursive:  # a folder under another one in the list is covered by it
        current = {f for f in current if not any(
            a != f and (a == "/" or f.startswith(a + "/")) for a in current)}
    return sorted(current), recursive


def plan(changes: Iterable[Change], shares: Iterable[Share]) -> tuple[list[Refresh], list[Change]]:
    """One Refresh per share touched by `changes`, and the changes no share exports."""
    shares = list(shares)
    touched: dict[str, tuple[Share, set[str], set[str], int]] = {}
    unmapped = []
    for change in changes:
        matched = False
        for share in shares:
            if share.covers(change.bucket, change.key):
                matched = True
                entry = touched.setdefault(share.arn, (share, set(), set(), 0))
                entry[1].add(share.folder_of(change.key))
                entry[2].add(change.message_id)
                touched[share.arn] = (entry[0], entry[1], entry[2], entry[3] + 1)
        if not matched:
            unmapped.append(change)
    refreshes = []
    for share, folders, ids, count in touched.values():
        listed, recursive = coalesce(folders)
        refreshes.append(Refresh(share, listed, recursive, ids, count))
    return refreshes, unmapped


def shares_from_items(items: Iterable[dict[str, Any]]) -> list[Share]:
    """Shares from the configuration table's items: bucket, share_arn, prefix."""
    out = []
    for item in items:
        prefix = str(item.get("prefix") or "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        out.append(Share(arn=str(item["share_arn"]), bucket=str(item["bucket"]),
                         prefix=prefix.lstrip("/")))
    return out

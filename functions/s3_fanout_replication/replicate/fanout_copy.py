"""Copy one S3 object to a destination bucket, metadata included; multipart above a threshold.

Plain functions with an S3 client passed in, so they run against moto or AWS alike.
CopyObject copies at most 5 GiB in one call; above the threshold (5 GiB by default) the object
is copied in parts with UploadPartCopy, each part a byte range of the source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

GIB = 1024**3
MIB = 1024**2
COPY_OBJECT_MAX = 5 * GIB  # the largest object a single CopyObject call may copy
MIN_PART = 5 * MIB  # S3's smallest part (all but the last)
MAX_PART = 5 * GIB  # S3's largest part
MAX_PARTS = 10_000

# What CreateMultipartUpload must be told again: CopyObject's MetadataDirective=COPY carries
# these over by itself, a multipart upload starts with none of them.
_HEADER_FIELDS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding",
                  "ContentLanguage", "Expires", "WebsiteRedirectLocation", "StorageClass")


class BadRecord(ValueError):
    """A notification record that can never be copied (malformed, or its key is undecodable)."""


@dataclass(frozen=True)
class SourceObject:
    bucket: str
    key: str
    version_id: str | None = None
    size: int | None = None
    event_name: str = ""


@dataclass(frozen=True)
class PartRange:
    number: int
    first: int
    last: int  # inclusive, as in an HTTP Range

    @property
    def header(self) -> str:
        return f"bytes={self.first}-{self.last}"


@dataclass
class CopyResult:
    key: str
    destination: str
    size: int
    method: str  # "copy" | "multipart"
    parts: int = 1
    etag: str = ""


@dataclass
class Settings:
    destination: str
    multipart_threshold: int = COPY_OBJECT_MAX
    part_size: int = 512 * MIB
    extra: dict[str, Any] = field(default_factory=dict)


def decode_key(raw: str) -> str:
    """The object key of an S3 notification: URL-encoded with '+' for spaces, UTF-8.

    Raises BadRecord when the bytes after decoding are not UTF-8 (such a key names no object).
    """
    try:
        return unquote_plus(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as err:
        raise BadRecord(f"key {raw!r} is not URL-encoded UTF-8") from err


def s3_records(message: str) -> list[dict[str, Any]]:
    """The S3 event records in one SNS message; [] for S3's s3:TestEvent.

    Raises BadRecord when the message is not an S3 event.
    """
    try:
        body = json.loads(message)
    except (TypeError, json.JSONDecodeError) as err:
        raise BadRecord("SNS message is not JSON") from err
    if not isinstance(body, dict):
        raise BadRecord("SNS message is not an S3 event")
    if body.get("Event") == "s3:TestEvent":
        return []
    records = body.get("Records")
    if not isinstance(records, list):
        raise BadRecord("SNS message has no S3 Records")
    return records


def source_of(record: dict[str, Any]) -> SourceObject:
    """The object an S3 event record names (key decoded)."""
    try:
        s3 = record["s3"]
        bucket = s3["bucket"]["name"]
        obj = s3["object"]
        raw_key = obj["key"]
    except (KeyError, TypeError) as err:
        raise BadRecord(f"record lacks {err}") from err
    if not isinstance(bucket, str) or not isinstance(raw_key, str) or not raw_key:
        raise BadRecord("record has no bucket name or key")
    size = obj.get("size")
    return SourceObject(bucket=bucket, key=decode_key(raw_key), version_id=obj.get("versionId"),
                        size=int(size) if isinstance(size, int) else None,
                        event_name=str(record.get("eventName", "")))


def plan_parts(size: int, part_size: int) -> list[PartRange]:
    """Byte ranges covering `size` bytes in parts of about `part_size`.

    The part size is raised when needed so there are at most 10,000 parts and kept within
    S3's 5 MiB .. 5 GiB; only the last part may be smaller.
    """
    if size <= 0:
        raise ValueError("an empty object is not copied in parts")
    part = max(MIN_PART, min(MAX_PART, part_size))
    if -(-size // part) > MAX_PARTS:
        part = -(-size // MAX_PARTS)
        part = -(-part // MIB) * MIB  # whole MiB, still at most 10,000 parts
    if part > MAX_PART:
        raise ValueError(f"{size} bytes cannot be copied in {MAX_PARTS} parts of at most 5 GiB")
    return [PartRange(i + 1, first, min(first + part, size) - 1)
            for i, first in enumerate(range(0, size, part))]


def _copy_source(src: SourceObject) -> dict[str, str]:
    out = {"Bucket": src.bucket, "Key": src.key}
    if src.version_id:
        out["VersionId"] = src.version_id
    return out


def replicate(s3: Any, src: SourceObject, settings: Settings) -> CopyResult:
    """Copy `src` to settings.destination under the same key with its metadata and tags.

    The source is read once (HeadObject): its size decides between CopyObject and a multipart
    copy, and a missing object raises the client's NoSuchKey/404 error.
    """
    head_kw: dict[str, Any] = {"Bucket": src.bucket, "Key": src.key}
    if src.version_id:
        head_kw["VersionId"] = src.version_id
    head = s3.head_object(**head_kw)
    size = int(head["ContentLength"])
    if size <= settings.multipart_threshold:
        out = s3.copy_object(Bucket=settings.destination, Key=src.key,
                             CopySource=_copy_source(src), MetadataDirective="COPY",
                             TaggingDirective="COPY")
        return CopyResult(src.key, settings.destination, size, "copy",
                          etag=out.get("CopyObjectResult", {}).get("ETag", ""))
    return _multipart_copy(s3, src, head, size, settings)


def _multipart_copy(s3: Any, src: SourceObject, head: dict[str, Any], size: int,
                    settings: Settings) -> CopyResult:
    create: dict[str, Any] = {"Bucket": settings.destination, "Key": src.key,
                              "Metadata": head.get("Metadata", {})}
    create.update({k: head[k] for k in _HEADER_FIELDS if head.get(k)})
    tag_kw = {"Bucket": src.bucket, "Key": src.key}
    if src.version_id:
        tag_kw["VersionId"] = src.version_id
    tags = s3.get_object_tagging(**tag_kw).get("TagSet", [])
    if tags:
        from urllib.parse import urlencode

        create["Tagging"] = urlencode([(t["Key"], t["Value"]) for t in tags])
    parts = plan_parts(size, settings.part_size)
    upload_id = s3.create_multipart_upload(**create)["UploadId"]
    try:
        done = []
        for part in parts:
            out = s3.upload_part_copy(
                Bucket=settings.destination, Key=src.key, UploadId=upload_id,
                PartNumber=part.number, CopySource=_copy_source(src),
                CopySourceRange=part.header,
                # The source must not change between parts: pin its ETag.
                CopySourceIfMatch=head["ETag"])
            done.append({"PartNumber": part.number, "ETag": out["CopyPartResult"]["ETag"]})
        result = s3.complete_multipart_upload(Bucket=settings.destination, Key=src.key,
                                              UploadId=upload_id,
                                              MultipartUpload={"Parts": done})
    except Exception:
        # An abandoned upload keeps its parts (and their cost) until aborted.
        s3.abort_multipart_upload(Bucket=settings.destination, Key=src.key, UploadId=upload_id)
        raise
    return CopyResult(src.key, settings.destination, size, "multipart", parts=len(parts),
                      etag=result.get("ETag", ""))


@dataclass
class Outcome:
    copied: list[CopyResult] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: int = 0


def replicate_event(s3: Any, event: dict[str, Any], settings: Settings) -> Outcome:
    """Handle every S3 record of every SNS record of a Lambda event; failures are collected,
    not raised, so one bad record does not stop the others."""
    outcome = Outcome()
    for sns_record in event.get("Records") or []:
        message = (sns_record.get("Sns") or {}).get("Message")
        try:
            records = s3_records(message)
        except BadRecord as err:
            outcome.failed.append({"key": "", "error": str(err)})
            continue
        if not records:
            outcome.skipped += 1
        for record in records:
            key = str(((record.get("s3") or {}).get("object") or {}).get("key", ""))
            try:
                src = source_of(record)
                key = src.key
                if not src.event_name.startswith("ObjectCreated"):
                    outcome.skipped += 1
                    continue
                outcome.copied.append(replicate(s3, src, settings))
            except BadRecord as err:
                outcome.failed.append({"key": key, "error": str(err)})
            except Exception as err:  # noqa: BLE001 - reported with the key, then raised
                outcome.failed.append({"key": key, "error": _error_text(err)})
    return outcome


def _error_text(err: Exception) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code')}: {error.get('Message') or ''}".strip()
    return f"{type(err).__name__}: {err}"

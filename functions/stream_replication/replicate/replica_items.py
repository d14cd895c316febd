"""Kinesis web events -> DynamoDB items keyed so a replay overwrites instead of duplicating.

The key is the seed's: partition `seqNumbershardIdHash` = sequenceNumber[-3:-1] + "_" + shardId
(better spread than the last two digits), sort `sequenceNumber`. A sequence number is unique
within a stream, so the same Kinesis record always lands on the same item.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

HASH_KEY = "seqNumbershardIdHash"
RANGE_KEY = "sequenceNumber"
# DynamoDB's item limit is 400 KB; the JSON text is a close upper bound of the item's size.
MAX_ITEM_BYTES = 400 * 1024
_serializer = TypeSerializer()


class BadRecord(ValueError):
    """A stream record that cannot become an item; retrying cannot help (a poison record)."""


def hash_key(sequence_number: str, shard_id: str) -> str:
    """The partition key: two digits of the sequence number (not the last) and the shard."""
    return f"{sequence_number[-3:-1]}_{shard_id}"


def _reject_constant(name: str) -> Any:
    raise BadRecord(f"{name} is not a number DynamoDB can store")


def clean(value: Any) -> Any:
    """Drop null and empty-string attributes (at every level of maps), keep everything else."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if k != "" and v is not None and v != ""}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def replica_item(data: bytes, sequence_number: str, shard_id: str) -> dict[str, Any]:
    """The DynamoDB item (low-level attribute values) for one Kinesis record's data."""
    if len(data) > MAX_ITEM_BYTES:
        raise BadRecord(f"{len(data)} bytes: too large for a DynamoDB item")
    try:
        # Numbers as Decimal: DynamoDB takes no floats, and a Decimal keeps the digits sent.
        payload = json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as err:
        if isinstance(err, BadRecord):
            raise
        raise BadRecord(f"not JSON: {err}") from err
    if not isinstance(payload, dict):
        raise BadRecord("not a JSON object")
    item = clean(payload)
    item.update({RANGE_KEY: sequence_number, "shardId": shard_id,
                 HASH_KEY: hash_key(sequence_number, shard_id)})
    try:
        return {name: _serializer.serialize(value) for name, value in item.items()}
    except (TypeError, ArithmeticError) as err:  # e.g. a number of more than 38 digits
        raise BadRecord(f"not storable in DynamoDB: {err}") from err


def key_of(item: dict[str, Any]) -> tuple[str, str]:
    return item[HASH_KEY]["S"], item[RANGE_KEY]["S"]

"""Event source mappings: poll SQS, Kinesis and DynamoDB streams the way Lambda does.

Batch size and batching window, ReportBatchItemFailures (partial batch responses),
BisectBatchOnFunctionError, MaximumRetryAttempts and an OnFailure destination are honoured, so
handlers meet the same failure semantics locally as on AWS.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cloud import LocalCloud

POLL_IDLE_S = 0.2


def _epoch(value: Any) -> Any:
    return value.timestamp() if isinstance(value, datetime) else value


def _failed_ids(payload: str) -> list[str] | None:
    """itemIdentifiers of a partial batch response, or None if the response is not one."""
    try:
        body = json.loads(payload) if payload else None
    except ValueError:
        return None
    if not isinstance(body, dict) or "batchItemFailures" not in body:
        return None
    failures = body["batchItemFailures"] or []
    return [str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)]


class _Mapping(threading.Thread):
    def __init__(self, cloud: LocalCloud, config: dict[str, Any]) -> None:
        super().__init__(name=f"esm-{config['UUID'][:8]}", daemon=True)
        self.cloud = cloud
        self.config = config
        self.stop_event = threading.Event()
        self.function = cloud.function_name(config["FunctionArn"])
        self.source_arn = config["EventSourceArn"]
        self.batch_size = int(config.get("BatchSize") or 10)
        self.window = float(config.get("MaximumBatchingWindowInSeconds") or 0)
        self.partial = "ReportBatchItemFailures" in (config.get("FunctionResponseTypes") or [])
        self.bisect = bool(config.get("BisectBatchOnFunctionError"))
        retries = config.get("MaximumRetryAttempts")
        self.max_retries = -1 if retries is None else int(retries)
        self.on_failure = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination")
        self.batches = 0

    def run(self) -> None:
        # A poller that dies takes its event source with it, silently: report and go on.
        while not self.stop_event.is_set():
            try:
                self.poll()
            except Exception as exc:
                self.cloud.warn(f"{self.function}: polling {self.source_arn} failed: {exc!r}")
                self.stop_event.wait(1.0)

    def poll(self) -> None:
        """One round: read what is there, invoke the function, wait a little when idle."""
        raise NotImplementedError

    def invoke(self, event: dict[str, Any]) -> tuple[bool, str]:
        self.batches += 1
        result = self.cloud.invoke(self.function, event)
        return result.ok, result.payload


class _SqsMapping(_Mapping):
    _url: str | None = None

    def poll(self) -> None:
        sqs = self.cloud.client("sqs")
        if self._url is None:
            name = self.source_arn.split(":")[5]
            self._url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        url = self._url
        messages: list[dict[str, Any]] = []
        where: dict[str, int] = {}
        started = time.time()
        while len(messages) < self.batch_size and not self.stop_event.is_set():
            got = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=0, AttributeNames=["All"], MessageAttributeNames=["All"],
            ).get("Messages", [])
            for m in got:  # seen again when its visibility timeout ran out in the window
                if m["MessageId"] in where:
                    messages[where[m["MessageId"]]] = m  # only the newest handle deletes it
                else:
                    where[m["MessageId"]] = len(messages)
                    messages.append(m)
            if not messages or time.time() - started >= self.window:
                break
            if not got:  # inside the batching window: wait for more, without spinning
                self.stop_event.wait(min(POLL_IDLE_S, self.window))
        if not messages:
            self.stop_event.wait(POLL_IDLE_S)
            return
        records = [self._record(m) for m in messages]
        ok, payload = self.invoke({"Records": records})
        if not ok:
            return  # they reappear after the visibility timeout; redrive applies
        failed = set(_failed_ids(payload) or []) if self.partial else set()
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages) if m["MessageId"] not in failed]
        for i in range(0, len(done), 10):
            sqs.delete_message_batch(QueueUrl=url, Entries=done[i:i + 10])

    def _record(self, m: dict[str, Any]) -> dict[str, Any]:
        attrs = {k: {"stringValue": v.get("StringValue"), "binaryValue": v.get("BinaryValue"),
                     "dataType": v["DataType"]} for k, v in m.get("MessageAttributes", {}).items()}
        return {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"], "attributes": m.get("Attributes", {}),
                "messageAttributes": attrs, "md5OfBody": m.get("MD5OfBody"),
                "eventSource": "aws:sqs", "eventSourceARN": self.source_arn,
                "awsRegion": self.cloud.region}


class _StreamMapping(_Mapping):
    """Kinesis and DynamoDB streams: in order per shard, checkpointed after success."""

    kind = "kinesis"

    def __init__(self, cloud: LocalCloud, config: dict[str, Any]) -> None:
        super().__init__(cloud, config)
        self.kind = "dynamodb" if ":dynamodb:" in self.source_arn else "kinesis"
        self.client = cloud.client("kinesis" if self.kind == "kinesis" else "dynamodbstreams")
        self.starting = config.get("StartingPosition") or "TRIM_HORIZON"
        self._iterators: dict[str, str] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._first_seen: dict[str, float] = {}

    def _shards(self) -> list[str]:
        if self.kind == "kinesis":
            desc = self.client.describe_stream(StreamARN=self.source_arn)["StreamDescription"]
        else:
            desc = self.client.describe_stream(StreamArn=self.source_arn)["StreamDescription"]
        return [s["ShardId"] for s in desc["Shards"]]

    def _iterator(self, shard: str, start_after: str | None = None) -> str:
        kwargs: dict[str, Any] = {"ShardId": shard}
        if start_after:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                          StartingSequenceNumber=start_after)
        else:
            kwargs["ShardIteratorType"] = self.starting
        if self.kind == "kinesis":
            # By name: moto writes the name into the iterator, and GetRecords reads it there.
            name = self.source_arn.split(":stream/", 1)[1]
            return self.client.get_shard_iterator(StreamName=name, **kwargs)["ShardIterator"]
        return self.client.get_shard_iterator(StreamArn=self.source_arn,
                                              **kwargs)["ShardIterator"]

    def poll(self) -> None:
        first_seen = self._first_seen
        busy = False
        for shard in self._shards():
            if shard not in self._iterators:
                self._iterators[shard] = self._iterator(shard)
                self._buffers[shard] = []
            buf = self._buffers[shard]
            if len(buf) < self.batch_size:
                out = self.client.get_records(ShardIterator=self._iterators[shard],
                                              Limit=self.batch_size - len(buf))
                self._iterators[shard] = out.get("NextShardIterator") or self._iterators[shard]
                if out["Records"]:
                    first_seen.setdefault(shard, time.time())
                    buf.extend(self._record(shard, r) for r in out["Records"])
            if not buf:
                continue
            if len(buf) < self.batch_size and time.time() - first_seen[shard] < self.window:
                continue
            busy = True
            batch, self._buffers[shard] = buf[:self.batch_size], buf[self.batch_size:]
            first_seen.pop(shard, None)
            self._process(shard, batch)
        if not busy:
            self.stop_event.wait(POLL_IDLE_S)

    def _seq(self, record: dict[str, Any]) -> str:
        return (record["kinesis"]["sequenceNumber"] if self.kind == "kinesis"
                else record["dynamodb"]["SequenceNumber"])

    def _process(self, shard: str, batch: list[dict[str, Any]]) -> None:
        """Deliver a batch until it succeeds, is split to its poison record, or is given up."""
        pending = [(batch, 0)]
        while pending and not self.stop_event.is_set():
            records, attempts = pending.pop(0)
            ok, payload = self.invoke({"Records": records})
            if ok:
                failed = _failed_ids(payload) if self.partial else None
                if not failed:
                    continue
                seqs = [self._seq(r) for r in records]
                first = min((seqs.index(f) for f in failed if f in seqs), default=None)
                if first is None:  # unknown identifiers: Lambda retries the whole batch
                    first = 0
                records = records[first:]
            attempts += 1
            if self.bisect and len(records) > 1:
                half = len(records) // 2
                pending[:0] = [(records[:half], attempts), (records[half:], attempts)]
                continue
            if self.max_retries >= 0 and attempts > self.max_retries:
                self._give_up(shard, records, attempts)
                continue
            time.sleep(min(1.0, 0.1 * attempts))
            pending.insert(0, (records, attempts))

    def _give_up(self, shard: str, records: list[dict[str, Any]], attempts: int) -> None:
        info_key = "KinesisBatchInfo" if self.kind == "kinesis" else "DDBStreamBatchInfo"
        info = {"shardId": shard, "startSequenceNumber": self._seq(records[0]),
                "endSequenceNumber": self._seq(records[-1]), "batchSize": len(records),
                "streamArn": self.source_arn}
        message = {"requestContext": {"functionArn": self.cloud.function_arn(self.function),
                                      "condition": "RetryAttemptsExhausted",
                                      "approximateInvokeCount": attempts},
                   "version": "1.0", info_key: info}
        self.cloud.warn(f"{self.function}: dropped {len(records)} record(s) of {shard} after "
                        f"{attempts} attempts" + (f"; sent to {self.on_failure}"
                                                  if self.on_failure else ""))
        if self.on_failure:
            self.cloud._send(self.on_failure, json.dumps(message), {})

    def _record(self, shard: str, r: dict[str, Any]) -> dict[str, Any]:
        if self.kind == "kinesis":
            return {
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"],
                            "sequenceNumber": r["SequenceNumber"],
                            "data": base64.b64encode(r["Data"]).decode(),
                            "approximateArrivalTimestamp": _epoch(
                                r.get("ApproximateArrivalTimestamp"))},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": f"{shard}:{r['SequenceNumber']}", "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::123456789012:role/{self.function}",
                "awsRegion": self.cloud.region, "eventSourceARN": self.source_arn,
            }
        ddb = dict(r["dynamodb"])
        if "ApproximateCreationDateTime" in ddb:
            ddb["ApproximateCreationDateTime"] = _epoch(ddb["ApproximateCreationDateTime"])
        return {"eventID": r["eventID"], "eventName": r["eventName"],
                "eventVersion": r.get("eventVersion", "1.1"), "eventSource": "aws:dynamodb",
                "awsRegion": self.cloud.region, "dynamodb": ddb,
                "eventSourceARN": self.source_arn}


class Pollers:
    """Starts one poller per enabled event source mapping, and new ones as they appear."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.mappings: dict[str, _Mapping] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._discover_loop, name="esm-discovery",
                                        daemon=True)

    def start(self) -> None:
        self.discover()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for m in self.mappings.values():
            m.stop_event.set()

    def discover(self) -> None:
        lam = self.cloud.client("lambda")
        for esm in lam.list_event_source_mappings().get("EventSourceMappings", []):
            uuid = esm["UUID"]
            if uuid in self.mappings or esm.get("State") == "Disabled":
                continue
            config = {**esm, **self.cloud.event_sources.get(uuid, {})}
            config["FunctionArn"] = esm["FunctionArn"]
            config["UUID"] = uuid
            service = esm["EventSourceArn"].split(":")[2]
            cls = _SqsMapping if service == "sqs" else _StreamMapping
            mapping = cls(self.cloud, config)
            self.mappings[uuid] = mapping
            mapping.start()

    def _discover_loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.discover()
            except Exception as exc:  # keep the other mappings running
                self.cloud.warn(f"event source discovery failed: {exc!r}")

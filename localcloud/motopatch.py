"""The few places where moto would run Docker or deliver events in a way AWS does not.

moto is pinned (requirements-dev.txt) because these are its internals:
- `LambdaFunction.invoke` runs the handler in a local worker instead of a container, and
  honours InvocationType (Event = asynchronous with retries, as Lambda does).
- S3 notifications, SNS lambda subscriptions and EventBridge lambda/state-machine targets are
  delivered asynchronously through the same dispatcher (moto calls them inline, or not at all).
- Event source mappings (SQS, Kinesis, DynamoDB streams) are not pushed by moto inline: the
  local cloud's pollers read them with batching, partial failures and bisection.
- StartExecution without a name gets a unique one, as on AWS.
- Put/DeleteFunctionConcurrency reach the workers at once (reserved concurrency, kill switch).
- aws-sdk integrations reach services whose SDK id has a hyphen (`aws-sdk:redshiftdata:`
  calls redshift-data), and their results are JSON (timestamps as ISO-8601 text), as on AWS.
- DynamoDB item operations are atomic, as on AWS (moto's backend has no locks), and a write
  that changes nothing adds no stream record, as on AWS (moto adds a MODIFY record).
- S3 bucket policy statements with a Condition are skipped: moto takes every unmet condition
  for a deny, which made the TLS-only policy lock all clients out.
- Route 53: a new zone's SOA value is text (moto stores a dict's repr), and a change batch is
  all or nothing within the API's character limit, as on AWS.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol


class Dispatcher(Protocol):
    def invoke_sync(self, function: Any, event: Any) -> tuple[str, bool, str]: ...

    def invoke_async(self, function_arn: str, event: Any, source: str) -> None: ...

    def start_execution(self, state_machine_arn: str, payload: str) -> None: ...


_dispatcher: Dispatcher | None = None
_applied = False


def install(dispatcher: Dispatcher) -> None:
    """Route moto's Lambda work to `dispatcher` (idempotent)."""
    global _dispatcher, _applied
    _dispatcher = dispatcher
    if _applied:
        return
    _applied = True
    _patch_lambda()
    _patch_s3()
    _patch_sns()
    _patch_events()
    _patch_stepfunctions()
    _patch_dynamodb()
    _patch_dynamodb_streams()
    patch_route53()


def uninstall(dispatcher: Dispatcher) -> None:
    """Forget a stopped cloud; moto's patched entry points then refuse to run handlers."""
    global _dispatcher
    if _dispatcher is dispatcher:
        _dispatcher = None


def _d() -> Dispatcher:
    if _dispatcher is None:
        raise RuntimeError("localcloud dispatcher not installed")
    return _dispatcher


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _patch_lambda() -> None:
    from moto.awslambda import models as lm

    def invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> Any:
        event = json.loads(body) if body else {}
        inv_type = (request_headers or {}).get("x-amz-invocation-type", "RequestResponse")
        if inv_type == "DryRun":
            return ""
        if inv_type == "Event":
            _d().invoke_async(self.function_arn, event, "lambda:Invoke")
            return ""
        payload, errored, logs = _d().invoke_sync(self, event)
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        tail = logs[-4096:].encode()
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
        return payload.encode()

    lm.LambdaFunction.invoke = invoke

    original_create_esm = lm.LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        esm = original_create_esm(self, spec)
        _detach_push(self.account_id, self.region_name, esm)
        return esm

    lm.LambdaBackend.create_event_source_mapping = create_event_source_mapping

    # Reserved concurrency set or cleared through the API (the kill switch included) takes
    # effect in the workers at once, as on Lambda.
    original_put_concurrency = lm.LambdaBackend.put_function_concurrency
    original_delete_concurrency = lm.LambdaBackend.delete_function_concurrency

    def put_function_concurrency(self: Any, function_name: str, reserved: Any) -> Any:
        out = original_put_concurrency(self, function_name, reserved)
        _concurrency_changed(self.get_function(function_name).function_name, int(reserved))
        return out

    def delete_function_concurrency(self: Any, function_name: str) -> Any:
        out = original_delete_concurrency(self, function_name)
        _concurrency_changed(self.get_function(function_name).function_name, None)
        return out

    lm.LambdaBackend.put_function_concurrency = put_function_concurrency
    lm.LambdaBackend.delete_function_concurrency = delete_function_concurrency


def _concurrency_changed(name: str, value: int | None) -> None:
    hook = getattr(_dispatcher, "set_reserved_concurrency", None)
    if hook is not None:
        hook(name, value)


def _detach_push(account: str, region: str, esm: Any) -> None:
    """Stop moto from pushing records inline; the pollers deliver them (see module doc).

    moto keys these registrations differently per service (function ARN for SQS and DynamoDB,
    event source ARN for Kinesis), so every entry holding this mapping is removed.
    """
    arn = esm.event_source_arn
    service = arn.split(":")[2]
    holders: list[Any] = []
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        holders = list(sqs_backends[account][region].queues.values())
    elif service == "kinesis":
        from moto.kinesis.models import kinesis_backends

        holders = list(kinesis_backends[account][region].streams.values())
    elif service == "dynamodb":
        from moto.dynamodb.models import dynamodb_backends

        holders = list(dynamodb_backends[account][region].tables.values())
    for holder in holders:
        registered = holder.lambda_event_source_mappings
        for key in [k for k, v in registered.items() if v is esm]:
            del registered[key]


def _patch_s3() -> None:
    from moto.s3 import notifications

    def _invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region: str) -> None:
        _d().invoke_async(fn_arn, event_body, "aws:s3")

    notifications._invoke_awslambda = _invoke_awslambda
    _patch_s3_bucket_policy()


def _patch_s3_bucket_policy() -> None:
    """Bucket policy statements with a Condition do not apply locally.

    moto evaluates a bucket policy without any request context and takes a condition it cannot
    meet for an explicit deny, so the usual TLS-only statement (Deny if aws:SecureTransport is
    false) locks every client out of the bucket. With no context to test a condition against,
    such statements are skipped; unconditional ones (public-read grants, blanket denies) apply.
    """
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        text = self.policy.decode() if isinstance(self.policy, bytes) else self.policy
        document = json.loads(text)
        statements = document.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        kept = [s for s in statements if not s.get("Condition")]
        if not kept:
            return PermissionResult.NEUTRAL
        policy = IAMPolicy(json.dumps({**document, "Statement": kept}))
        return policy.is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission


def _patch_sns() -> None:
    from moto.sns import models as sm

    original = sm.Subscription.publish

    def publish(self: Any, message: str, message_id: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                deduplication_id: str | None = None,
                message_structure: str | None = None) -> None:
        if self.protocol != "lambda":
            return original(self, message, message_id, subject, message_attributes, group_id,
                            deduplication_id, message_structure)
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
                message_attributes, message):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        attrs = {
            k: {"Type": v.get("Type") or v.get("DataType"),
                "Value": v.get("Value") or v.get("StringValue") or v.get("BinaryValue")}
            for k, v in (message_attributes or {}).items()
        }
        event = {"Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": self.arn,
            "Sns": {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": self.topic.arn,
                "Subject": subject,
                "Message": message,
                "Timestamp": _now_iso(),
                "SignatureVersion": "1",
                "Signature": "LOCAL",
                "SigningCertUrl": "http://127.0.0.1/local.pem",
                "UnsubscribeUrl": "http://127.0.0.1/unsubscribe",
                "MessageAttributes": attrs,
            },
        }]}
        _d().invoke_async(self.endpoint, event, "aws:sns")
        return None

    sm.Subscription.publish = publish


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng import parse  # moto depends on jsonpath-ng

        found = [m.value for m in parse(target["InputPath"]).find(event)]
        return found[0] if found else None
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.models import EventTemplateParser

        text = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}), event=event)
        return text
    return event


def deliver_to_target(target: dict[str, Any], event: dict[str, Any]) -> bool:
    """Send an EventBridge event (or schedule tick) to a Lambda or Step Functions target."""
    arn = target["Arn"]
    service = arn.split(":")[2]
    payload = _target_input(target, event)
    if service == "lambda":
        _d().invoke_async(arn, payload, "aws:events")
        return True
    if service == "states":
        _d().start_execution(arn, payload if isinstance(payload, str) else json.dumps(payload))
        return True
    return False


def _aws_event(event: Any) -> Any:
    """moto's event as EventBridge sends it: `time` as ISO-8601 text, no moto-only fields."""
    if not isinstance(event, dict):
        return event
    event = {k: v for k, v in event.items() if k != "ingestion-time"}
    when = event.get("time")
    if isinstance(when, (int, float)):
        event["time"] = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(when, datetime):
        event["time"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def _patch_events() -> None:
    from moto.events import models as em

    original = em.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        # A DISABLED rule delivers nothing; a schedule-only rule matches no PutEvents event
        # (moto treats its empty pattern as "match everything").
        if self.state != "ENABLED" or (self.scheduled_expression and
                                       not self.event_pattern.get_pattern()):
            return
        if not self.event_pattern.matches_event(original_event):
            return
        event = _aws_event(original_event)
        others = [t for t in self.targets if t["Arn"].split(":")[2] not in ("lambda", "states")]
        for target in self.targets:
            if target not in others:
                deliver_to_target(target, event)
        if others:  # moto's own delivery wants its event as it made it (ingestion-time too)
            mine = self.targets
            self.targets = others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = mine

    em.Rule.send_to_targets = send_to_targets


def _patch_stepfunctions() -> None:
    # The interpreter's import costs most of a second (it pulls in moto's EC2 and Batch), so it
    # is patched on first use rather than at start-up.
    from moto.stepfunctions import responses

    original_get_backend = responses.get_backend

    def get_backend(account: str, region: str) -> Any:
        _patch_parser()
        return original_get_backend(account, region)

    responses.get_backend = get_backend


_parser_patched = False


def _patch_parser() -> None:
    global _parser_patched
    if _parser_patched:
        return
    _parser_patched = True
    from moto.stepfunctions.parser import models as pm

    _patch_sdk_service_names()
    _patch_sdk_responses()
    _patch_state_machine_copy()
    original = pm.StepFunctionsParserBackend.start_execution

    def start_execution(self: Any, state_machine_arn: str, name: Any = None,
                        execution_input: Any = None, trace_header: Any = None) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input,
                        trace_header)

    pm.StepFunctionsParserBackend.start_execution = start_execution


def _patch_state_machine_copy() -> None:
    """StartExecution deep-copies the state machine, and with it `backend`: every other state
    machine and its finished executions, whose locks cannot be copied. With two machines
    that have run, the next StartExecution failed (500). The copy shares the backend (a
    service, not data) and starts with no executions of its own."""
    import copy

    from moto.stepfunctions.models import StateMachineInstance

    def __deepcopy__(self: Any, memo: dict[int, Any]) -> Any:
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            if key == "backend":
                clone.__dict__[key] = value
            elif key == "executions":
                clone.__dict__[key] = []
            else:
                clone.__dict__[key] = copy.deepcopy(value, memo)
        return clone

    StateMachineInstance.__deepcopy__ = __deepcopy__


def _patch_sdk_service_names() -> None:
    """Map an aws-sdk integration's service name to the boto3 one it stands for.

    Step Functions names services by their SDK id without hyphens (`redshiftdata`,
    `sagemakerruntime`); moto hands that name to boto3, which knows them as `redshift-data`
    and `sagemaker-runtime`, so such a Task failed with an unknown-service error.
    """
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service as sts,
    )

    names = {name.replace("-", ""): name
             for name in botocore.session.get_session().get_available_services() if "-" in name}
    original = sts.StateTaskService._get_boto_service_name

    def _get_boto_service_name(self: Any, boto_service_name: str | None = None) -> str:
        name = original(self, boto_service_name)
        return names.get(name, name)

    sts.StateTaskService._get_boto_service_name = _get_boto_service_name


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
        return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _patch_sdk_responses() -> None:
    """An aws-sdk Task's result is JSON on AWS; moto keeps boto3's datetimes and bytes, and the
    execution then dies serialising its state (e.g. DescribeStatement's CreatedAt)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as sdk,
    )

    original = sdk.StateTaskServiceAwsSdk._eval_service_task

    def _eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        original(self, env, *args, **kwargs)
        env.stack.append(_json_safe(env.stack.pop()))

    sdk.StateTaskServiceAwsSdk._eval_service_task = _eval_service_task


# Every backend method that reads or writes items (batch and transact-get calls go through
# get_item/put_item/delete_item item by item, as their per-item atomicity on AWS allows).
_DYNAMODB_ITEM_OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "query", "scan",
                             "transact_write_items", "execute_statement", "execute_transaction",
                             "batch_execute_statement")


def _patch_dynamodb() -> None:
    """Serialise item operations: DynamoDB applies each write atomically, moto does not.

    The embedded server answers on many threads and moto checks a ConditionExpression, then
    writes, with no lock: two concurrent `SET n = n - 1` updates guarded by `n > 0` can both
    pass and one decrement is lost (a counter of seats oversold), and a scan can meet a
    half-done write. One lock for all tables is coarser than DynamoDB's per-item isolation
    and costs nothing measurable locally.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()

    def locked(original: Any) -> Any:
        @functools.wraps(original)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return method

    for name in _DYNAMODB_ITEM_OPERATIONS:
        setattr(DynamoDBBackend, name, locked(getattr(DynamoDBBackend, name)))


def _patch_dynamodb_streams() -> None:
    """A write that changes nothing adds no stream record, as on AWS.

    DynamoDB Streams records only modifications: a PutItem or UpdateItem that leaves the item
    as it was writes no stream record. moto adds a MODIFY record for it, so a consumer that
    replays idempotent writes (the same item put again) would see every item twice.
    """
    from moto.dynamodb.models.table import StreamShard

    original = StreamShard.add

    @functools.wraps(original)
    def add(self: Any, old: Any, new: Any) -> None:
        if old is not None and new is not None and old == new:
            return
        original(self, old, new)

    StreamShard.add = add


# ChangeResourceRecordSets counts at most this many characters of values (UPSERT twice).
ROUTE53_MAX_CHARS_PER_CALL = 32000
_route53_patched = False


def patch_route53() -> None:
    """Route 53 as AWS behaves it, where moto differs (idempotent; also for `mock_aws` tests).

    - A new hosted zone's SOA record holds `ns-... awsdns-hostmaster.amazon.com. 1 7200 900
      1209600 86400`; moto stores the repr of a `{"Value": ...}` dict instead.
    - ChangeResourceRecordSets is atomic: AWS validates the whole batch and applies all of it
      or nothing. moto applies change by change and stops at the first bad one, keeping the
      changes before it.
    - A batch's values may hold at most 32,000 characters (UPSERT counted twice); moto checks
      only the 1,000-record limit.
    """
    global _route53_patched
    if _route53_patched:
        return
    _route53_patched = True
    from moto.route53 import models as rm
    from moto.route53.exceptions import Route53ClientError

    create_zone = rm.Route53Backend.create_hosted_zone
    change = rm.Route53Backend.change_resource_record_sets

    @functools.wraps(create_zone)
    def create_hosted_zone(self: Any, *args: Any, **kwargs: Any) -> Any:
        zone = create_zone(self, *args, **kwargs)
        for rrset in zone.rrsets:
            if rrset.type == "SOA":
                rrset.records = [
                    r["Value"].replace("hostmaster.example.com.", "awsdns-hostmaster.amazon.com.")
                    if isinstance(r, dict) else r for r in rrset.records]
        return zone

    @functools.wraps(change)
    def change_resource_record_sets(self: Any, zoneid: str, change_list: list[Any]) -> Any:
        chars = 0
        for item in change_list:
            values = item.get("ResourceRecordSet", {}).get("ResourceRecords") or []
            size = sum(len(v.get("Value", "") if isinstance(v, dict) else str(v))
                       for v in values)
            chars += size * (2 if item.get("Action") == "UPSERT" else 1)
        if chars > ROUTE53_MAX_CHARS_PER_CALL:
            raise Route53ClientError(
                "InvalidChangeBatch", f"Number of characters in values {chars} exceeds the "
                f"limit of {ROUTE53_MAX_CHARS_PER_CALL} (UPSERT values count twice)")
        zone = self.get_hosted_zone(zoneid)
        saved, journal = list(zone.rrsets), len(zone.rr_changes)
        try:
            return change(self, zoneid, change_list)
        except Exception:
            zone.rrsets = saved
            del zone.rr_changes[journal:]
            raise

    rm.Route53Backend.create_hosted_zone = create_hosted_zone
    rm.Route53Backend.change_resource_record_sets = change_resource_record_sets


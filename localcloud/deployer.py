"""Deploy transformed templates into the embedded AWS, resource by resource, in dependency order.

This plays CloudFormation's part: it resolves intrinsics, creates each resource through the
public AWS APIs of the embedded cloud (moto) and records what the local runtime must know
beyond them (where a function's code lives, which routes an API has, which rules are
schedules). Resource types the local cloud cannot emulate are reported, not silently dropped.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import templates
from .intrinsics import ResolveError, Resolver, dependencies
from .naming import physical_name
from .runtime.executor import FunctionSpec

if TYPE_CHECKING:
    from .cloud import LocalCloud

ACCOUNT = "123456789012"
# Stack parameters of type AWS::SSM::Parameter::Value<T> are resolved from the embedded SSM.
_SSM_VALUE_TYPE = "AWS::SSM::Parameter::Value<"
_EMPTY_ZIP: bytes


def _make_empty_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "code runs from the local folder named in the template\n")
    return buf.getvalue()


_EMPTY_ZIP = _make_empty_zip()


class DeployError(Exception):
    """A stack that cannot be deployed; the message names the stack and resource."""


@dataclass
class ApiRoute:
    method: str  # GET, POST, ..., ANY
    path: str  # /items/{id} or /{proxy+}
    function_arn: str | None
    authorizer: str | None = None
    mock_response: dict[str, Any] | None = None


@dataclass
class ApiAuthorizer:
    name: str
    function_arn: str
    kind: str  # token | request | jwt
    identity_source: list[str] = field(default_factory=list)
    simple_responses: bool = False
    payload_version: str = "1.0"
    jwt: dict[str, Any] | None = None


@dataclass
class ApiDefinition:
    api_id: str
    app: str
    logical_id: str
    kind: str  # rest | http
    routes: list[ApiRoute] = field(default_factory=list)
    authorizers: dict[str, ApiAuthorizer] = field(default_factory=dict)
    stages: list[str] = field(default_factory=list)
    base_path: str = ""
    cors: dict[str, Any] | None = None


@dataclass
class StackRecord:
    name: str
    app: str
    path: Path
    outputs: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, tuple[str, Any]] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)  # logical id -> function name
    children: dict[str, StackRecord] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class _Stack:
    def __init__(self, deployer: Deployer, record: StackRecord, template: dict[str, Any],
                 resolver: Resolver) -> None:
        self.d = deployer
        self.cloud = deployer.cloud
        self.record = record
        self.template = template
        self.r = resolver
        self.apis: list[ApiDefinition] = []

    def name_for(self, logical_id: str, rtype: str, suffix: str = "") -> str:
        return physical_name(self.record.name, logical_id, rtype, suffix)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.cloud.region}:{ACCOUNT}:{resource}"


Handler = Callable[[_Stack, str, dict[str, Any], dict[str, Any]], tuple[Any, dict[str, Any]]]
_HANDLERS: dict[str, Handler] = {}


def handles(*types: str) -> Callable[[Handler], Handler]:
    def wrap(fn: Handler) -> Handler:
        for t in types:
            _HANDLERS[t] = fn
        return fn
    return wrap


class Deployer:
    """Deploys a root template and its nested stacks into a LocalCloud."""

    def __init__(self, cloud: LocalCloud, cache_dir: Path | None) -> None:
        self.cloud = cloud
        self.cache_dir = cache_dir

    def deploy(self, path: Path, stack_name: str, parameters: dict[str, Any] | None = None,
               app: str = "", only: set[str] | None = None) -> StackRecord:
        """Deploy one template; `only` limits a root's nested stacks to these apps."""
        params_in = dict(parameters or {})
        template = templates.transform(path, params_in, self.cache_dir)
        record = StackRecord(name=stack_name, app=app or path.stem, path=path)
        params = self._parameters(template, params_in, path)
        resolver = Resolver(
            parameters=params,
            pseudo={
                "AWS::Region": self.cloud.region, "AWS::AccountId": ACCOUNT,
                "AWS::StackName": stack_name, "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": [],
                "AWS::StackId": f"arn:aws:cloudformation:{self.cloud.region}:{ACCOUNT}:"
                                f"stack/{stack_name}/local",
            },
            mappings=template.get("Mappings"),
            conditions=template.get("Conditions"),
        )
        stack = _Stack(self, record, template, resolver)
        resources: dict[str, Any] = template.get("Resources", {})
        for logical_id in self._order(resources, path):
            res = resources[logical_id]
            cond = res.get("Condition")
            if cond and not resolver.condition(cond):
                continue
            rtype = res["Type"]
            if rtype == "AWS::CloudFormation::Stack" and only is not None:
                child_app = self._child_app(res)
                if child_app not in only:
                    continue
            handler = _HANDLERS.get(rtype)
            try:
                props = resolver.resolve(res.get("Properties", {}))
                if handler is None:
                    ref, attrs = _unsupported(stack, logical_id, props, res)
                else:
                    ref, attrs = handler(stack, logical_id, props, res)
            except (ResolveError, KeyError, ValueError, TypeError) as exc:
                raise DeployError(f"{path.name}: {logical_id} ({rtype}): {exc}") from exc
            except Exception as exc:  # a service refusing the resource, e.g. a bad name
                raise DeployError(f"{path.name}: {logical_id} ({rtype}): {exc}") from exc
            resolver.refs[logical_id] = ref
            resolver.attrs[logical_id] = attrs
            record.resources[logical_id] = (rtype, ref)
        self._assign_api_paths(stack)
        for name, out in (template.get("Outputs") or {}).items():
            cond = out.get("Condition")
            if cond and not resolver.condition(cond):
                continue
            if only is not None and (dependencies(out["Value"]) & set(resources)) - set(
                    resolver.refs):
                continue  # an output of a nested stack that `only` left out
            try:
                value = resolver.resolve(out["Value"])
            except ResolveError as exc:
                raise DeployError(f"{path.name}: output {name}: {exc}") from exc
            record.outputs[name] = self.cloud.localise_url(value)
        return record

    @staticmethod
    def _child_app(res: dict[str, Any]) -> str:
        url = res.get("Properties", {}).get("TemplateURL", "")
        local = templates.local_path_of(url) if isinstance(url, str) else None
        return local.stem if local else ""

    def _parameters(self, template: dict[str, Any], given: dict[str, Any], path: Path) -> dict:
        out: dict[str, Any] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            if name in given:
                value = given[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise DeployError(f"{path.name}: parameter {name} has no value and no default")
            ptype = spec.get("Type", "String")
            if ptype.startswith(_SSM_VALUE_TYPE) and ptype.endswith(">"):
                # CloudFormation reads these from Parameter Store at deploy time: the value
                # given (or the default) is the SSM parameter's name; the inner type applies.
                value = self._ssm_parameter(str(value), name, path)
                ptype = ptype[len(_SSM_VALUE_TYPE):-1]
            if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
                if isinstance(value, str):
                    value = [v.strip() for v in value.split(",")] if value else []
            elif ptype == "Number":
                value = str(value)
            allowed = spec.get("AllowedValues")
            if allowed and value not in [str(a) if ptype == "Number" else a for a in allowed]:
                raise DeployError(f"{path.name}: parameter {name}={value!r} not in {allowed}")
            out[name] = value
        return out

    def _ssm_parameter(self, ssm_name: str, name: str, path: Path) -> str:
        ssm = self.cloud.client("ssm")
        try:
            return ssm.get_parameter(Name=ssm_name)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            raise DeployError(f"{path.name}: parameter {name}: SSM parameter {ssm_name!r} "
                              f"does not exist") from None

    @staticmethod
    def _order(resources: dict[str, Any], path: Path) -> list[str]:
        deps: dict[str, set[str]] = {}
        for lid, res in resources.items():
            d = dependencies(res.get("Properties", {})) & set(resources)
            depends_on = res.get("DependsOn", [])
            d |= set([depends_on] if isinstance(depends_on, str) else depends_on)
            deps[lid] = d - {lid}
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(n: str, trail: list[str]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                raise DeployError(f"{path.name}: circular dependency {' -> '.join(trail + [n])}")
            state[n] = 1
            for m in sorted(deps.get(n, ())):
                if m not in resources:
                    raise DeployError(f"{path.name}: {n} depends on unknown resource {m}")
                visit(m, trail + [n])
            state[n] = 2
            order.append(n)

        for lid in resources:
            visit(lid, [])
        return order

    def _assign_api_paths(self, stack: _Stack) -> None:
        apis = stack.apis
        for api in apis:
            api.base_path = (f"/{stack.record.app}" if len(apis) == 1
                             else f"/{stack.record.app}/{api.logical_id}")
            self.cloud.register_api(api)


# --------------------------------------------------------------------------------------------
# resource handlers


def _unsupported(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    msg = f"{lid}: {res['Type']} is not emulated locally; Ref/GetAtt give placeholders"
    stack.record.warnings.append(msg)
    stack.cloud.warn(msg)
    placeholder = stack.arn("local", f"{res['Type']}/{lid}")
    return placeholder, _AnyAttr(placeholder)


class _AnyAttr(dict):
    """Attributes of a placeholder resource: every attribute resolves to the placeholder."""

    def __init__(self, value: str) -> None:
        super().__init__()
        self._value = value

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return self._value


@handles("AWS::CloudFormation::Stack")
def _nested_stack(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    url = props["TemplateURL"]
    local = templates.local_path_of(url)
    if local is None:
        raise DeployError(f"{lid}: only local nested templates are supported, got {url}")
    child_name = f"{stack.record.name}-{local.stem}"
    child = stack.d.deploy(local, child_name, props.get("Parameters", {}), app=local.stem)
    stack.record.children[lid] = child
    stack.cloud.register_stack(child)
    attrs = {f"Outputs.{k}": v for k, v in child.outputs.items()}
    return stack.arn("cloudformation", f"stack/{child_name}/local"), attrs


@handles("AWS::IAM::Role")
def _role(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    iam = stack.cloud.client("iam")
    name = props.get("RoleName") or stack.name_for(lid, "AWS::IAM::Role")
    doc = json.dumps(props.get("AssumeRolePolicyDocument", {}))
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=doc,
                              Path=props.get("Path", "/"))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    for pol in props.get("Policies", []):
        # IAM defaults a missing Version to 2008-10-17; moto refuses it, so say it explicitly.
        document = {"Version": "2012-10-17", **pol["PolicyDocument"]}
        iam.put_role_policy(RoleName=name, PolicyName=pol["PolicyName"],
                            PolicyDocument=json.dumps(document))
    return name, {"Arn": arn, "RoleId": name}


@handles("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::Lambda::Permission",
         "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy", "AWS::Logs::ResourcePolicy")
def _policy(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    # Access control is not enforced by the embedded cloud; the template still declares it.
    return stack.name_for(lid, res["Type"]), {"Arn": stack.arn("iam", f"policy/{lid}")}


@handles("AWS::Logs::LogGroup")
def _log_group(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    logs = stack.cloud.client("logs")
    name = props.get("LogGroupName") or f"/aws/local/{stack.name_for(lid, res['Type'])}"
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=name)
    if props.get("RetentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    return name, {"Arn": stack.arn("logs", f"log-group:{name}:*")}


@handles("AWS::Logs::LogStream")
def _log_stream(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    logs = stack.cloud.client("logs")
    name = props.get("LogStreamName") or stack.name_for(lid, res["Type"])
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=props["LogGroupName"], logStreamName=name)
    return name, {}


@handles("AWS::Lambda::LayerVersion")
def _layer(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    content = props.get("Content", {})
    local = templates.local_path_of(content.get("S3Key", "") or "")
    name = props.get("LayerName") or lid
    arn = stack.arn("lambda", f"layer:{name}:1")
    if local is None:
        raise DeployError(f"{lid}: layer content must be a local folder")
    stack.cloud.layers[arn] = local
    return arn, {"LayerVersionArn": arn}


def _code_dir(props: dict, res: dict, lid: str) -> Path:
    if props.get("PackageType") == "Image":
        meta = res.get("Metadata", {})
        ctx = meta.get("DockerContext")
        if not ctx:
            raise DeployError(f"{lid}: an Image function needs Metadata.DockerContext locally")
        return Path(ctx)
    code = props.get("Code", {})
    if "ZipFile" in code:
        raise DeployError(f"{lid}: InlineCode is not supported locally; use CodeUri")
    local = templates.local_path_of(code.get("S3Key", "") or "")
    if local is None:
        raise DeployError(f"{lid}: code must be a local folder (CodeUri), got {code}")
    return local


@handles("AWS::Lambda::Function")
def _function(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    cloud = stack.cloud
    name = props.get("FunctionName") or stack.name_for(lid, "AWS::Lambda::Function")
    code_dir = _code_dir(props, res, lid)
    if props.get("PackageType") == "Image":
        meta = res.get("Metadata", {})
        docker_ctx = Path(stack.record.path.parent, meta["DockerContext"]).resolve()
        code_dir = docker_ctx
        cmd = props.get("ImageConfig", {}).get("Command") or []
        handler = cmd[0] if cmd else "app.handler"
        runtime = "python3.11"
        from .images import task_root_sources

        # What the Dockerfile COPYs into the task root stands in for the image's task root.
        dockerfile = docker_ctx / meta.get("Dockerfile", "Dockerfile")
        image_paths = task_root_sources(docker_ctx, dockerfile) if dockerfile.is_file() else []
        if image_paths:
            code_dir = image_paths[0]
    else:
        image_paths = []
        handler = props["Handler"]
        runtime = props.get("Runtime", "python3.11")
        if not runtime.startswith("python"):
            raise DeployError(f"{lid}: runtime {runtime} cannot run locally (Python only)")
    layers = list(image_paths[1:])
    for arn in props.get("Layers", []):
        if arn not in cloud.layers:
            raise DeployError(f"{lid}: layer {arn} is not a local layer of this collection")
        layers.append(cloud.layers[arn])
    # Endpoint URLs (a Cognito domain's OAuth endpoints) point at the local ones, as outputs do.
    env = {k: str(cloud.localise_url(v))
           for k, v in props.get("Environment", {}).get("Variables", {}).items()}
    arn = stack.arn("lambda", f"function:{name}")
    spec = FunctionSpec(
        name=name, arn=arn, handler=handler, code_dir=code_dir, layers=layers, environment=env,
        timeout=float(props.get("Timeout", 3)), memory_mb=int(props.get("MemorySize", 128)),
        reserved_concurrency=(int(props["ReservedConcurrentExecutions"])
                              if "ReservedConcurrentExecutions" in props else None),
        logical_id=lid, app=stack.record.app, runtime=runtime,
        dead_letter_arn=props.get("DeadLetterConfig", {}).get("TargetArn"),
    )
    lam = cloud.client("lambda")
    kwargs: dict[str, Any] = {
        "FunctionName": name, "Role": props["Role"], "Handler": handler, "Runtime": runtime,
        "Code": {"ZipFile": _EMPTY_ZIP}, "Timeout": int(spec.timeout),
        "MemorySize": spec.memory_mb, "Environment": {"Variables": env},
        "Tags": {"localcloud:app": stack.record.app, "localcloud:logical-id": lid},
    }
    if spec.dead_letter_arn:
        kwargs["DeadLetterConfig"] = {"TargetArn": spec.dead_letter_arn}
    lam.create_function(**kwargs)
    if spec.reserved_concurrency is not None:
        lam.put_function_concurrency(FunctionName=name,
                                     ReservedConcurrentExecutions=spec.reserved_concurrency)
    cloud.register_function(spec)
    stack.record.functions[lid] = name
    return name, {"Arn": arn}


@handles("AWS::Lambda::Version")
def _version(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    arn = f"{stack.cloud.function_arn(props['FunctionName'])}:1"
    return arn, {"Version": "1"}


@handles("AWS::Lambda::Alias")
def _alias(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    # Aliases resolve to $LATEST locally: one code version exists.
    arn = f"{stack.cloud.function_arn(props['FunctionName'])}:{props['Name']}"
    stack.cloud.aliases[arn] = stack.cloud.function_arn(props["FunctionName"])
    return arn, {}


@handles("AWS::Lambda::EventInvokeConfig")
def _invoke_config(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    spec = stack.cloud.function_spec(props["FunctionName"])
    if "MaximumRetryAttempts" in props:
        spec.async_max_retries = int(props["MaximumRetryAttempts"])
    dest = props.get("DestinationConfig", {})
    spec.on_failure_arn = dest.get("OnFailure", {}).get("Destination")
    spec.on_success_arn = dest.get("OnSuccess", {}).get("Destination")
    return lid, {}


_ESM_INTEGERS = {"BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor",
                 "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "TumblingWindowInSeconds"}
_ESM_BOOLEANS = {"Enabled", "BisectBatchOnFunctionError"}


@handles("AWS::Lambda::EventSourceMapping")
def _esm(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    lam = stack.cloud.client("lambda")
    kwargs = {k: v for k, v in props.items() if k in {
        "EventSourceArn", "FunctionName", "Enabled", "BatchSize", "StartingPosition",
        "MaximumBatchingWindowInSeconds", "ParallelizationFactor", "MaximumRetryAttempts",
        "BisectBatchOnFunctionError", "MaximumRecordAgeInSeconds", "FunctionResponseTypes",
        "DestinationConfig", "TumblingWindowInSeconds", "FilterCriteria"}}
    kwargs["FunctionName"] = stack.cloud.function_name(kwargs["FunctionName"])
    # A Number parameter (!Ref BatchSize) arrives as text; CloudFormation converts it.
    for key in _ESM_INTEGERS & set(kwargs):
        kwargs[key] = int(kwargs[key])
    for key in _ESM_BOOLEANS & set(kwargs):
        kwargs[key] = str(kwargs[key]).lower() == "true"
    _check_visibility_timeout(stack, kwargs["EventSourceArn"], kwargs["FunctionName"])
    out = lam.create_event_source_mapping(**kwargs)
    stack.cloud.register_event_source(out["UUID"], {**props, **kwargs})
    return out["UUID"], {"Id": out["UUID"]}


def _check_visibility_timeout(stack: _Stack, source_arn: str, function: str) -> None:
    """Lambda refuses an SQS mapping whose queue hides messages for less than the function
    may run: a message would come back while its batch is still being processed."""
    spec = stack.cloud.executor.spec(function) if stack.cloud.executor else None
    if source_arn.split(":")[2] != "sqs" or spec is None:
        return
    sqs = stack.cloud.client("sqs")
    url = sqs.get_queue_url(QueueName=source_arn.split(":")[5])["QueueUrl"]
    visibility = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "VisibilityTimeout"])["Attributes"]["VisibilityTimeout"])
    if visibility < spec.timeout:
        raise DeployError(f"queue visibility timeout: {visibility} seconds is less than function "
                          f"timeout: {spec.timeout:g} seconds (Lambda refuses this mapping)")


def s3_encryption_rules(bucket_encryption: dict[str, Any]) -> list[dict[str, Any]]:
    """CloudFormation's BucketEncryption rules in the S3 API's shape: the template says
    ServerSideEncryptionByDefault where PutBucketEncryption wants ApplyServerSideEncryption..."""
    rules = []
    for rule in bucket_encryption.get("ServerSideEncryptionConfiguration", []):
        rule = dict(rule)
        if "ServerSideEncryptionByDefault" in rule:
            rule["ApplyServerSideEncryptionByDefault"] = rule.pop("ServerSideEncryptionByDefault")
        if "BucketKeyEnabled" in rule:
            rule["BucketKeyEnabled"] = str(rule["BucketKeyEnabled"]).lower() == "true"
        rules.append(rule)
    return rules


@handles("AWS::S3::Bucket")
def _bucket(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    s3 = stack.cloud.client("s3")
    name = props.get("BucketName") or stack.name_for(lid, "AWS::S3::Bucket")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=name)
    if "BucketEncryption" in props:
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
            "Rules": s3_encryption_rules(props["BucketEncryption"])})
    if props.get("VersioningConfiguration"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={
            "Status": props["VersioningConfiguration"]["Status"]})
    if props.get("LifecycleConfiguration"):
        rules = []
        for rule in props["LifecycleConfiguration"]["Rules"]:
            r: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule["Status"],
                                 "Filter": {"Prefix": rule.get("Prefix", "")}}
            if "ExpirationInDays" in rule:
                r["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
            rules.append(r)
        s3.put_bucket_lifecycle_configuration(Bucket=name,
                                              LifecycleConfiguration={"Rules": rules})
    notif = props.get("NotificationConfiguration", {})
    lambdas = []
    for cfg in notif.get("LambdaConfigurations", []):
        item = {"LambdaFunctionArn": cfg["Function"], "Events": [cfg["Event"]]}
        rules = cfg.get("Filter", {}).get("S3Key", {}).get("Rules")
        if rules:
            item["Filter"] = {"Key": {"FilterRules": rules}}
        lambdas.append(item)
    queues = [{"QueueArn": c["Queue"], "Events": [c["Event"]]}
              for c in notif.get("QueueConfigurations", [])]
    topics = [{"TopicArn": c["Topic"], "Events": [c["Event"]]}
              for c in notif.get("TopicConfigurations", [])]
    if lambdas or queues or topics or notif.get("EventBridgeConfiguration"):
        conf: dict[str, Any] = {}
        if lambdas:
            conf["LambdaFunctionConfigurations"] = lambdas
        if queues:
            conf["QueueConfigurations"] = queues
        if topics:
            conf["TopicConfigurations"] = topics
        if "EventBridgeConfiguration" in notif:
            conf["EventBridgeConfiguration"] = {}
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=conf)
    return name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
                  "RegionalDomainName": f"{name}.s3.{stack.cloud.region}.amazonaws.com",
                  "WebsiteURL": f"http://{name}.s3-website-{stack.cloud.region}.amazonaws.com"}


@handles("AWS::S3::BucketPolicy")
def _bucket_policy(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    stack.cloud.client("s3").put_bucket_policy(
        Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"]))
    return lid, {}


@handles("AWS::SNS::Topic")
def _topic(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    sns = stack.cloud.client("sns")
    fifo = str(props.get("FifoTopic", "false")).lower() == "true"
    name = props.get("TopicName") or stack.name_for(
        lid, "AWS::SNS::Topic", ".fifo" if fifo else "")
    attrs = {"FifoTopic": "true"} if fifo else {}
    arn = sns.create_topic(Name=name, Attributes=attrs)["TopicArn"]
    for sub in props.get("Subscription", []):
        sns.subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
    return arn, {"TopicArn": arn, "TopicName": name}


@handles("AWS::SNS::Subscription")
def _subscription(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    sns = stack.cloud.client("sns")
    attrs = {}
    if "FilterPolicy" in props:
        attrs["FilterPolicy"] = json.dumps(props["FilterPolicy"])
        if props.get("FilterPolicyScope"):
            attrs["FilterPolicyScope"] = props["FilterPolicyScope"]
    if str(props.get("RawMessageDelivery", "")).lower() == "true":
        attrs["RawMessageDelivery"] = "true"
    if "RedrivePolicy" in props:
        attrs["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    arn = sns.subscribe(TopicArn=props["TopicArn"], Protocol=props["Protocol"],
                        Endpoint=props["Endpoint"], Attributes=attrs)["SubscriptionArn"]
    return arn, {"Arn": arn}


@handles("AWS::SQS::Queue")
def _queue(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    sqs = stack.cloud.client("sqs")
    fifo = str(props.get("FifoQueue", "false")).lower() == "true"
    name = props.get("QueueName") or stack.name_for(
        lid, "AWS::SQS::Queue", ".fifo" if fifo else "")
    attrs: dict[str, str] = {}
    for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds", "MaximumMessageSize",
                "ContentBasedDeduplication", "KmsMasterKeyId", "SqsManagedSseEnabled"):
        if key in props:
            attrs[key] = str(props[key]).lower() if isinstance(props[key], bool) else str(
                props[key])
    if fifo:
        attrs["FifoQueue"] = "true"
    if "RedrivePolicy" in props:
        attrs["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = stack.arn("sqs", name)
    return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}


@handles("AWS::DynamoDB::Table")
def _table(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    ddb = stack.cloud.client("dynamodb")
    name = props.get("TableName") or stack.name_for(lid, "AWS::DynamoDB::Table")
    kwargs: dict[str, Any] = {
        "TableName": name, "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if kwargs["BillingMode"] == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = {
            k: int(v) for k, v in props.get("ProvisionedThroughput", {
                "ReadCapacityUnits": 5, "WriteCapacityUnits": 5}).items()}
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            kwargs[key] = props[key]
    if "StreamSpecification" in props:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    desc = ddb.create_table(**kwargs)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled")).lower() == "true":
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": ttl["AttributeName"]})
    attrs = {"Arn": desc["TableArn"]}
    if "LatestStreamArn" in desc:
        attrs["StreamArn"] = desc["LatestStreamArn"]
    return name, attrs


@handles("AWS::Serverless::SimpleTable")
def _simple_table(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    pk = props.get("PrimaryKey", {"Name": "id", "Type": "String"})
    type_code = {"String": "S", "Number": "N", "Binary": "B"}[pk["Type"]]
    return _table(stack, lid, {
        "TableName": props.get("TableName"),
        "KeySchema": [{"AttributeName": pk["Name"], "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": pk["Name"], "AttributeType": type_code}],
        "BillingMode": "PAY_PER_REQUEST"}, res)


@handles("AWS::Kinesis::Stream")
def _stream(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    kin = stack.cloud.client("kinesis")
    name = props.get("Name") or stack.name_for(lid, "AWS::Kinesis::Stream")
    kin.create_stream(StreamName=name, ShardCount=int(props.get("ShardCount", 1)))
    arn = stack.arn("kinesis", f"stream/{name}")
    return name, {"Arn": arn}


# Numbers and flags inside a delivery stream's configuration, which a !Ref to a parameter
# leaves as text (CloudFormation converts them).
_FIREHOSE_INTEGERS = {"IntervalInSeconds", "SizeInMBs", "DurationInSeconds"}
_FIREHOSE_BOOLEANS = {"Enabled"}
_FIREHOSE_DESTINATIONS = ("ExtendedS3DestinationConfiguration", "S3DestinationConfiguration",
                          "HttpEndpointDestinationConfiguration")


def _typed(value: Any, integers: set[str], booleans: set[str], key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _typed(v, integers, booleans, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v, integers, booleans) for v in value]
    if key in integers and isinstance(value, str):
        return int(value)
    if key in booleans and isinstance(value, str):
        return value.lower() == "true"
    return value


@handles("AWS::KinesisFirehose::DeliveryStream")
def _delivery_stream(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    """A Direct PUT delivery stream; moto writes each PutRecord(Batch) call to its S3
    destination at once (no buffering) under <Prefix>YYYY/MM/DD/HH/."""
    firehose = stack.cloud.client("firehose")
    name = props.get("DeliveryStreamName") or stack.name_for(
        lid, "AWS::KinesisFirehose::DeliveryStream")
    kwargs: dict[str, Any] = {"DeliveryStreamName": name,
                              "DeliveryStreamType": props.get("DeliveryStreamType", "DirectPut")}
    for key in (*_FIREHOSE_DESTINATIONS, "DeliveryStreamEncryptionConfigurationInput",
                "KinesisStreamSourceConfiguration", "Tags"):
        if key in props:
            kwargs[key] = _typed(props[key], _FIREHOSE_INTEGERS, _FIREHOSE_BOOLEANS)
    if not any(key in kwargs for key in _FIREHOSE_DESTINATIONS):
        raise DeployError(f"{lid}: only S3 and HTTP endpoint destinations are emulated locally")
    arn = firehose.create_delivery_stream(**kwargs)["DeliveryStreamARN"]
    return name, {"Arn": arn}


@handles("AWS::SSM::Parameter")
def _ssm_param(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    ssm = stack.cloud.client("ssm")
    name = props.get("Name") or f"/{stack.record.name}/{lid}"
    ssm.put_parameter(Name=name, Value=str(props["Value"]), Type=props.get("Type", "String"),
                      Overwrite=True)
    return name, {"Type": props.get("Type", "String"), "Value": props["Value"]}


@handles("AWS::SecretsManager::Secret")
def _secret(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    """A secret with its SecretString, or one generated as CloudFormation does
    (GenerateSecretString: a random password, alone or as one key of a JSON template)."""
    sm = stack.cloud.client("secretsmanager")
    name = props.get("Name") or stack.name_for(lid, "AWS::SecretsManager::Secret")
    value = props.get("SecretString")
    gen = props.get("GenerateSecretString")
    if value is None and gen is not None:
        options = {"PasswordLength": int(gen.get("PasswordLength", 32))}
        for key in ("ExcludeCharacters", "ExcludeLowercase", "ExcludeNumbers",
                    "ExcludePunctuation", "ExcludeUppercase", "IncludeSpace",
                    "RequireEachIncludedType"):
            if key in gen:
                options[key] = (gen[key] if key == "ExcludeCharacters"
                                else str(gen[key]).lower() == "true")
        password = sm.get_random_password(**options)["RandomPassword"]
        if gen.get("SecretStringTemplate") and gen.get("GenerateStringKey"):
            document = json.loads(gen["SecretStringTemplate"])
            document[gen["GenerateStringKey"]] = password
            value = json.dumps(document)
        else:
            value = password
    kwargs: dict[str, Any] = {"Name": name, "SecretString": value if value is not None else ""}
    if props.get("Description"):
        kwargs["Description"] = props["Description"]
    # KmsKeyId is not passed: moto does not encrypt, and the key may be a placeholder here.
    arn = sm.create_secret(**kwargs)["ARN"]
    return arn, {"Id": arn}


@handles("AWS::EC2::VPC")
def _vpc(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    ec2 = stack.cloud.client("ec2")
    vpc = ec2.create_vpc(CidrBlock=props["CidrBlock"],
                         InstanceTenancy=props.get("InstanceTenancy", "default"))["Vpc"]
    vpc_id = vpc["VpcId"]
    for attr in ("EnableDnsSupport", "EnableDnsHostnames"):
        if attr in props:
            ec2.modify_vpc_attribute(VpcId=vpc_id, **{attr: {
                "Value": str(props[attr]).lower() == "true"}})
    tags = [t for t in props.get("Tags", []) if "Key" in t]
    if tags:
        ec2.create_tags(Resources=[vpc_id], Tags=tags)
    sg = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}])
    default_sg = sg["SecurityGroups"][0]["GroupId"] if sg["SecurityGroups"] else ""
    return vpc_id, {"VpcId": vpc_id, "CidrBlock": props["CidrBlock"],
                    "DefaultSecurityGroup": default_sg}


@handles("AWS::Route53::HostedZone")
def _hosted_zone(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    r53 = stack.cloud.client("route53")
    vpcs = props.get("VPCs") or []
    kwargs: dict[str, Any] = {
        "Name": props["Name"],
        # Deterministic, like the physical names: a redeploy is not a second zone.
        "CallerReference": stack.name_for(lid, "AWS::Route53::HostedZone"),
        "HostedZoneConfig": {"Comment": (props.get("HostedZoneConfig") or {}).get("Comment", ""),
                             "PrivateZone": bool(vpcs)},
    }
    if vpcs:  # a private zone: the first VPC at creation, the others associated after
        kwargs["VPC"] = {"VPCId": vpcs[0]["VPCId"], "VPCRegion": vpcs[0]["VPCRegion"]}
    zone = r53.create_hosted_zone(**kwargs)
    zone_id = zone["HostedZone"]["Id"].split("/")[-1]
    for vpc in vpcs[1:]:
        r53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC={
            "VPCId": vpc["VPCId"], "VPCRegion": vpc["VPCRegion"]})
    tags = props.get("HostedZoneTags") or []
    if tags:
        r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id, AddTags=tags)
    name_servers = (zone.get("DelegationSet") or {}).get("NameServers", [])
    return zone_id, {"Id": zone_id, "NameServers": name_servers}


@handles("AWS::StepFunctions::StateMachine")
def _state_machine(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    sfn = stack.cloud.client("stepfunctions")
    name = props.get("StateMachineName") or stack.name_for(
        lid, "AWS::StepFunctions::StateMachine")
    if "DefinitionString" in props:
        text = props["DefinitionString"]
    elif "Definition" in props:
        text = json.dumps(props["Definition"])
    else:
        loc = props.get("DefinitionS3Location", {})
        local = templates.local_path_of(loc.get("Key", ""))
        if local is None:
            raise DeployError(f"{lid}: definition must be a local file (DefinitionUri)")
        text = local.read_text()
    subs = props.get("DefinitionSubstitutions", {})
    for key, value in subs.items():
        text = text.replace("${" + key + "}", str(value))
    left = re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)
    if left:
        raise DeployError(f"{lid}: DefinitionSubstitutions missing for {sorted(set(left))}")
    json.loads(text)  # a clear error here beats a state machine that cannot start
    kwargs: dict[str, Any] = {"name": name, "definition": text, "roleArn": props["RoleArn"],
                              "type": props.get("StateMachineType", "STANDARD")}
    arn = sfn.create_state_machine(**kwargs)["stateMachineArn"]
    return arn, {"Arn": arn, "Name": name}


@handles("AWS::Events::Rule")
def _rule(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    events = stack.cloud.client("events")
    name = props.get("Name") or stack.name_for(lid, "AWS::Events::Rule")
    bus = props.get("EventBusName", "default")
    kwargs: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED"),
                              "EventBusName": bus}
    if "ScheduleExpression" in props:
        kwargs["ScheduleExpression"] = props["ScheduleExpression"]
    if "EventPattern" in props:
        kwargs["EventPattern"] = json.dumps(props["EventPattern"])
    arn = events.put_rule(**kwargs)["RuleArn"]
    targets = []
    for t in props.get("Targets", []):
        item = {k: v for k, v in t.items() if k in {
            "Id", "Arn", "Input", "InputPath", "InputTransformer", "RoleArn",
            "DeadLetterConfig", "RetryPolicy", "SqsParameters"}}
        targets.append(item)
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    if "ScheduleExpression" in props:
        stack.cloud.register_schedule(name, props["ScheduleExpression"], targets,
                                      kwargs["State"] == "ENABLED", stack.record.app, lid)
    return name, {"Arn": arn}


@handles("AWS::Scheduler::Schedule")
def _schedule(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    name = props.get("Name") or stack.name_for(lid, "AWS::Scheduler::Schedule")
    target = dict(props["Target"])
    stack.cloud.register_schedule(name, props["ScheduleExpression"], [target],
                                  props.get("State", "ENABLED") == "ENABLED",
                                  stack.record.app, lid)
    return name, {"Arn": stack.arn("scheduler", f"schedule/default/{name}")}


@handles("AWS::CloudTrail::Trail")
def _trail(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    """The trail is created with its selectors and logging state; the embedded cloud records no
    API activity, so no log files or CloudTrail events follow from it."""
    ct = stack.cloud.client("cloudtrail")
    name = props.get("TrailName") or stack.name_for(lid, "AWS::CloudTrail::Trail")
    kwargs: dict[str, Any] = {"Name": name, "S3BucketName": props["S3BucketName"]}
    for key in ("S3KeyPrefix", "SnsTopicName", "CloudWatchLogsLogGroupArn",
                "CloudWatchLogsRoleArn", "KmsKeyId"):
        if props.get(key):
            kwargs[key] = props[key]
    for key in ("IncludeGlobalServiceEvents", "IsMultiRegionTrail", "EnableLogFileValidation",
                "IsOrganizationTrail"):
        if key in props:
            kwargs[key] = str(props[key]).lower() == "true"
    trail = ct.create_trail(**kwargs)
    if props.get("AdvancedEventSelectors"):
        ct.put_event_selectors(TrailName=name,
                               AdvancedEventSelectors=props["AdvancedEventSelectors"])
    elif props.get("EventSelectors"):
        selectors = []
        for sel in props["EventSelectors"]:
            sel = dict(sel)
            if "IncludeManagementEvents" in sel:
                sel["IncludeManagementEvents"] = str(
                    sel["IncludeManagementEvents"]).lower() == "true"
            selectors.append(sel)
        ct.put_event_selectors(TrailName=name, EventSelectors=selectors)
    if str(props.get("IsLogging", "false")).lower() == "true":
        ct.start_logging(Name=name)
    arn = trail["TrailARN"]
    return name, {"Arn": arn, "SnsTopicArn": trail.get("SnsTopicARN", "")}


@handles("AWS::Events::EventBus")
def _bus(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    events = stack.cloud.client("events")
    arn = events.create_event_bus(Name=props["Name"])["EventBusArn"]
    return props["Name"], {"Arn": arn, "Name": props["Name"]}


# --- Cognito user pools (the hosted UI / OAuth endpoints: cognito_oauth.py) ----------------

def _api_kwargs(client: Any, operation: str, props: dict, **fixed: Any) -> dict[str, Any]:
    """The template properties the API operation takes, typed by its input shape (a Number
    parameter resolves to a string; boto3 wants an int)."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    kwargs = {k: _shape_typed(v, shape.members[k]) for k, v in props.items()
              if k in shape.members}
    kwargs.update(fixed)
    return kwargs


def _shape_typed(value: Any, shape: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _shape_typed(v, shape.members[k]) for k, v in value.items()
                if k in shape.members}
    if kind == "list" and isinstance(value, list):
        return [_shape_typed(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _shape_typed(v, shape.value) for k, v in value.items()}
    if kind in ("integer", "long") and isinstance(value, str):
        return int(value)
    if kind == "boolean" and isinstance(value, str):
        return value.lower() == "true"
    return value


@handles("AWS::Cognito::UserPool")
def _user_pool(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    idp = stack.cloud.client("cognito-idp")
    name = props.get("UserPoolName") or stack.name_for(lid, "AWS::Cognito::UserPool")
    pool = idp.create_user_pool(**_api_kwargs(idp, "CreateUserPool", props,
                                              PoolName=name))["UserPool"]
    provider = f"cognito-idp.{stack.cloud.region}.amazonaws.com/{pool['Id']}"
    return pool["Id"], {"Arn": pool["Arn"], "UserPoolId": pool["Id"], "ProviderName": provider,
                        "ProviderURL": f"https://{provider}"}


@handles("AWS::Cognito::UserPoolClient")
def _user_pool_client(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    idp = stack.cloud.client("cognito-idp")
    props = {"ClientName": stack.name_for(lid, "AWS::Cognito::UserPoolClient"), **props}
    client = idp.create_user_pool_client(
        **_api_kwargs(idp, "CreateUserPoolClient", props))["UserPoolClient"]
    return client["ClientId"], {"ClientId": client["ClientId"], "Name": client["ClientName"],
                                "ClientSecret": client.get("ClientSecret", "")}


@handles("AWS::Cognito::UserPoolDomain")
def _user_pool_domain(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    """The hosted UI's domain; localcloud serves its OAuth endpoints (cognito_oauth.py) and
    rewrites https://<domain>.auth.<region>.amazoncognito.com to them (localise_url)."""
    idp = stack.cloud.client("cognito-idp")
    out = idp.create_user_pool_domain(**_api_kwargs(idp, "CreateUserPoolDomain", props))
    return props["Domain"], {"CloudFrontDistribution": out.get("CloudFrontDomain", "")}


@handles("AWS::Cognito::UserPoolGroup")
def _user_pool_group(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    idp = stack.cloud.client("cognito-idp")
    name = props.get("GroupName") or stack.name_for(lid, "AWS::Cognito::UserPoolGroup")
    idp.create_group(**_api_kwargs(idp, "CreateGroup", props, GroupName=name))
    return name, {}


# --- API Gateway ---------------------------------------------------------------------------

_FN_IN_URI = re.compile(r"functions/(arn:aws:lambda:[^/]+)/invocations")


def _function_of(uri: Any) -> str | None:
    if isinstance(uri, dict):
        uri = uri.get("uri") or uri.get("Uri")
    if not isinstance(uri, str):
        return None
    m = _FN_IN_URI.search(uri)
    return m.group(1) if m else (uri if uri.startswith("arn:aws:lambda") else None)


def _rest_authorizers(body: dict) -> dict[str, ApiAuthorizer]:
    out = {}
    for name, sd in (body.get("securityDefinitions") or {}).items():
        ext = sd.get("x-amazon-apigateway-authorizer")
        if not ext or ext.get("type") not in ("token", "request"):
            continue
        fn = _function_of(ext.get("authorizerUri"))
        if fn is None:
            continue
        header = sd.get("name", "Authorization")
        sources = [s.strip() for s in (ext.get("identitySource") or
                                       f"method.request.header.{header}").split(",")]
        out[name] = ApiAuthorizer(name=name, function_arn=fn, kind=ext["type"],
                                  identity_source=sources)
    return out


def _routes(body: dict, authorizers: dict[str, ApiAuthorizer]) -> list[ApiRoute]:
    routes = []
    default_sec = body.get("security") or []
    for path, methods in (body.get("paths") or {}).items():
        for method, op in methods.items():
            if not isinstance(op, dict):
                continue
            verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            integ = op.get("x-amazon-apigateway-integration", {})
            fn = _function_of(integ)
            auth = None
            for sec in op.get("security", default_sec):
                for sec_name in sec:
                    if sec_name in authorizers:
                        auth = sec_name
            mock = None
            if fn is None and integ.get("type") == "mock":
                responses = integ.get("responses", {}).get("default", {})
                mock = {k.replace("method.response.header.", ""): v.strip("'")
                        for k, v in responses.get("responseParameters", {}).items()}
            routes.append(ApiRoute(method=verb, path=path, function_arn=fn, authorizer=auth,
                                   mock_response=mock))
    return routes


def _api_body(props: dict, lid: str) -> dict:
    if "Body" in props:
        return props["Body"]
    loc = props.get("BodyS3Location") or {}
    local = templates.local_path_of(loc.get("Key", "")) if loc else None
    if local is None:
        raise DeployError(f"{lid}: an API needs a Body or a local DefinitionUri")
    from . import cfn_yaml

    return cfn_yaml.load(local)


@handles("AWS::ApiGateway::RestApi")
def _rest_api(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    apigw = stack.cloud.client("apigateway")
    body = _api_body(props, lid)
    name = props.get("Name") or (body.get("info") or {}).get("title") or lid
    api_id = apigw.create_rest_api(name=name)["id"]
    root = [r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/"][0]
    authorizers = _rest_authorizers(body)
    api = ApiDefinition(api_id=api_id, app=stack.record.app, logical_id=lid, kind="rest",
                        routes=_routes(body, authorizers), authorizers=authorizers)
    stack.apis.append(api)
    stack.cloud.apis_by_id[api_id] = api
    return api_id, {"RootResourceId": root["id"]}


@handles("AWS::ApiGateway::Stage")
def _rest_stage(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    api = stack.cloud.apis_by_id[props["RestApiId"]]
    api.stages.append(props["StageName"])
    return props["StageName"], {}


@handles("AWS::ApiGateway::Deployment", "AWS::ApiGateway::Account", "AWS::ApiGateway::Authorizer",
         "AWS::ApiGateway::BasePathMapping", "AWS::ApiGateway::UsagePlan",
         "AWS::ApiGatewayV2::Authorizer", "AWS::ApiGatewayV2::Deployment")
def _api_noop(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    # Routes and authorizers come from the API's OpenAPI body, where SAM puts them.
    return stack.name_for(lid, res["Type"]), {"DeploymentId": lid, "AuthorizerId": lid}


def _http_authorizers(body: dict) -> dict[str, ApiAuthorizer]:
    out = {}
    schemes = (body.get("components") or {}).get("securitySchemes") or {}
    for name, sd in schemes.items():
        ext = sd.get("x-amazon-apigateway-authorizer") or {}
        if ext.get("type") == "request":
            fn = _function_of(ext.get("authorizerUri"))
            if fn is None:
                continue
            sources = ext.get("identitySource") or []
            if isinstance(sources, str):
                sources = [s.strip() for s in sources.split(",")]
            out[name] = ApiAuthorizer(
                name=name, function_arn=fn, kind="request", identity_source=sources,
                simple_responses=bool(ext.get("enableSimpleResponses")),
                payload_version=ext.get("authorizerPayloadFormatVersion", "2.0"))
        elif ext.get("type") == "jwt":
            out[name] = ApiAuthorizer(name=name, function_arn="", kind="jwt",
                                      identity_source=[ext.get("identitySource", "")],
                                      jwt=ext.get("jwtConfiguration"))
    return out


@handles("AWS::ApiGatewayV2::Api")
def _http_api(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    v2 = stack.cloud.client("apigatewayv2")
    body = _api_body(props, lid)
    name = props.get("Name") or (body.get("info") or {}).get("title") or lid
    api_id = v2.create_api(Name=name, ProtocolType="HTTP")["ApiId"]
    authorizers = _http_authorizers(body)
    api = ApiDefinition(api_id=api_id, app=stack.record.app, logical_id=lid, kind="http",
                        routes=_routes(body, authorizers), authorizers=authorizers,
                        cors=body.get("x-amazon-apigateway-cors"))
    stack.apis.append(api)
    stack.cloud.apis_by_id[api_id] = api
    return api_id, {"ApiEndpoint": f"https://{api_id}.execute-api.{stack.cloud.region}"
                                   f".amazonaws.com"}


@handles("AWS::ApiGatewayV2::Stage")
def _http_stage(stack: _Stack, lid: str, props: dict, res: dict) -> tuple[Any, dict]:
    api = stack.cloud.apis_by_id[props["ApiId"]]
    api.stages.append(props["StageName"])
    return props["StageName"], {}

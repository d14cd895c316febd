"""Turn SAM templates into CloudFormation the way `sam deploy` does, with local code paths kept.

samtranslator (the library behind SAM CLI and the AWS::Serverless transform) does the work.
It wants S3 locations where our templates name local folders, so local paths are swapped for
`s3://localcloud-code/<absolute path>` before the transform; the deployer maps them back.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from . import cfn_yaml

LOCAL_BUCKET = "localcloud-code"
_S3_PREFIX = f"s3://{LOCAL_BUCKET}"
_HTTP_PREFIX = f"https://{LOCAL_BUCKET}.s3.amazonaws.com"


class TemplateError(Exception):
    """A template that cannot be read or transformed; the message names the file."""


def local_path_of(s3_key_or_url: str) -> Path | None:
    """The local path hidden in an S3 key/URL made by `_localise`, or None."""
    for prefix in (_S3_PREFIX, _HTTP_PREFIX):
        if s3_key_or_url.startswith(prefix):
            return Path(s3_key_or_url[len(prefix):])
    if s3_key_or_url.startswith("/"):
        return Path(s3_key_or_url)
    # samtranslator splits s3://bucket/key and drops the key's leading slash.
    candidate = Path("/" + s3_key_or_url)
    return candidate if s3_key_or_url and candidate.exists() else None


def _s3(path: Path) -> str:
    return f"{_S3_PREFIX}{path}"


_URI_PROPS = {
    "AWS::Serverless::Function": ("CodeUri",),
    "AWS::Serverless::LayerVersion": ("ContentUri",),
    "AWS::Serverless::StateMachine": ("DefinitionUri",),
    "AWS::Serverless::Api": ("DefinitionUri",),
    "AWS::Serverless::HttpApi": ("DefinitionUri",),
}


def _localise(template: dict[str, Any], base: Path) -> dict[str, Any]:
    """Replace local folders/files with S3 locations samtranslator accepts."""
    tpl = copy.deepcopy(template)
    globals_fn = tpl.get("Globals", {}).get("Function", {})
    if isinstance(globals_fn.get("CodeUri"), str) and "://" not in globals_fn["CodeUri"]:
        globals_fn["CodeUri"] = _s3((base / globals_fn["CodeUri"]).resolve())
    for logical_id, res in tpl.get("Resources", {}).items():
        rtype = res.get("Type")
        props = res.setdefault("Properties", {}) or {}
        res["Properties"] = props
        for prop in _URI_PROPS.get(rtype, ()):
            value = props.get(prop)
            if isinstance(value, str) and "://" not in value:
                path = (base / value).resolve()
                if not path.exists():
                    raise TemplateError(f"{logical_id}.{prop}: {path} does not exist")
                props[prop] = _s3(path)
        if rtype == "AWS::Serverless::Function" and props.get("PackageType") == "Image":
            # Image functions run locally from their Docker context's handler (see deployer).
            props.setdefault("ImageUri", "localcloud/image:latest")
        if rtype == "AWS::Serverless::Application":
            loc = props.get("Location")
            if isinstance(loc, str) and "://" not in loc:
                path = (base / loc).resolve()
                if not path.exists():
                    raise TemplateError(f"{logical_id}.Location: {path} does not exist")
                props["Location"] = f"{_HTTP_PREFIX}{path}"
    return tpl


class _NoManagedPolicies:
    """samtranslator asks IAM for managed policy ARNs; locally it knows them by their names."""

    def load(self) -> dict[str, str]:
        return {}


def transform(path: Path, parameters: dict[str, Any], cache_dir: Path | None) -> dict[str, Any]:
    """Return the CloudFormation template for a SAM template file (cached by content)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise TemplateError(f"{path}: {exc}") from exc
    try:
        raw = cfn_yaml.loads(text)
    except Exception as exc:  # yaml errors carry line numbers
        raise TemplateError(f"{path}: not valid YAML: {exc}") from exc
    if "Transform" not in raw:
        return raw
    from importlib.metadata import version  # cheaper than importing samtranslator itself

    key = hashlib.sha256(
        json.dumps([str(path), text, parameters, version("aws-sam-translator")], sort_keys=True,
                   default=str).encode()
    ).hexdigest()[:32]
    cached = cache_dir / f"{key}.json" if cache_dir else None
    if cached and cached.exists():
        return json.loads(cached.read_text())

    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform as sam_transform

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    localised = _localise(raw, path.parent)
    try:
        out = sam_transform(localised, dict(parameters), _NoManagedPolicies())
    except InvalidDocumentException as exc:
        causes = "; ".join(str(c.message) for c in exc.causes)
        raise TemplateError(f"{path}: {causes}") from exc
    except Exception as exc:
        raise TemplateError(f"{path}: SAM transform failed: {exc}") from exc
    finally:
        # samtranslator records metrics offline and warns at exit unless they are "published"
        # (to its dummy publisher, which drops them).
        from samtranslator.metrics.method_decorator import MetricsMethodWrapperSingleton

        MetricsMethodWrapperSingleton.get_instance().publish()
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_text(json.dumps(out))
        tmp.replace(cached)
    return out

"""Load CloudFormation/SAM YAML, turning short-form intrinsics (!Ref, !Sub ...) into long form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_SCALAR_FUNCS = {
    "Ref": "Ref",
    "Condition": "Condition",
}


class _Loader(yaml.SafeLoader):
    """SafeLoader that knows CloudFormation's tags."""


def _construct(tag: str):
    name = _SCALAR_FUNCS.get(tag, f"Fn::{tag}")

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt" and isinstance(value, str):
                # !GetAtt A.B.C -> ["A", "B.C"]
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _tag in (
    "Ref", "Condition", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not",
    "And", "Or", "FindInMap", "GetAZs", "ImportValue", "Base64", "Cidr", "Transform", "Length",
    "ToJsonString",
):
    _Loader.add_constructor(f"!{_tag}", _construct(_tag))


def _no_dates(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    # CloudFormation treats 2010-09-09 as a string, not a date.
    return loader.construct_scalar(node)  # type: ignore[return-value]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _no_dates)


def loads(text: str) -> dict[str, Any]:
    """Parse a template's text (YAML or JSON)."""
    data = yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError("a template must be a mapping")
    return data


def load(path: str | Path) -> dict[str, Any]:
    """Parse a template file."""
    return loads(Path(path).read_text())

"""Resolve CloudFormation intrinsic functions against a stack being deployed."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any

NO_VALUE = object()
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class ResolveError(Exception):
    """An intrinsic that cannot be resolved (unknown reference, bad arguments)."""


def _sub_names(text: str) -> list[str]:
    return [m.group(1).strip() for m in _SUB_VAR.finditer(text)]


def dependencies(node: Any) -> set[str]:
    """Every logical id (or parameter) that a template fragment refers to."""
    found: set[str] = set()

    def walk(n: Any) -> None:
        if isinstance(n, dict):
            if len(n) == 1:
                (key, val), = n.items()
                if key == "Ref" and isinstance(val, str):
                    found.add(val)
                    return
                if key == "Fn::GetAtt":
                    target = val[0] if isinstance(val, list) else str(val).split(".")[0]
                    found.add(target)
                    if isinstance(val, list):
                        walk(val[1:])
                    return
                if key == "Fn::Sub":
                    text, variables = (val, {}) if isinstance(val, str) else (val[0], val[1])
                    names = {name.split(".")[0] for name in _sub_names(text)}
                    found.update(names - set(variables))
                    walk(variables)
                    return
            for v in n.values():
                walk(v)
        elif isinstance(n, list):
            for v in n:
                walk(v)

    walk(node)
    return found


class Resolver:
    """Holds a stack's parameters, conditions and resource values, and resolves fragments."""

    def __init__(
        self,
        *,
        parameters: dict[str, Any],
        pseudo: dict[str, Any],
        mappings: dict[str, Any] | None = None,
        conditions: dict[str, Any] | None = None,
    ) -> None:
        self.parameters = parameters
        self.pseudo = pseudo
        self.mappings = mappings or {}
        self.condition_defs = conditions or {}
        self._conditions: dict[str, bool] = {}
        self.refs: dict[str, Any] = {}
        self.attrs: dict[str, dict[str, Any]] = {}

    # conditions -------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.condition_defs:
                raise ResolveError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(self.condition_defs[name]))
        return self._conditions[name]

    # values ---------------------------------------------------------------------------
    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise ResolveError(f"Ref to unknown or not yet created {name!r}")

    def getatt(self, logical_id: str, attr: str) -> Any:
        attrs = self.attrs.get(logical_id)
        if attrs is None:
            raise ResolveError(f"GetAtt on unknown or not yet created {logical_id!r}")
        if attr not in attrs:
            raise ResolveError(f"{logical_id} has no attribute {attr!r} (known: {sorted(attrs)})")
        return attrs[attr]

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def repl(m: re.Match[str]) -> str:
            name = m.group(1).strip()
            if name in variables:
                value = variables[name]
            elif "." in name and name.split(".")[0] not in self.parameters:
                res, attr = name.split(".", 1)
                value = self.getatt(res, attr)
            else:
                value = self.ref(name)
            return value if isinstance(value, str) else json.dumps(value) if isinstance(
                value, (dict, list)) else str(value)

        out = _SUB_VAR.sub(repl, text)
        return out.replace("${!", "${")

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(v) for v in node]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, val), = node.items()
            handler = _FUNCS.get(key)
            if handler is not None:
                return handler(self, val)
        out = {}
        for k, v in node.items():
            r = self.resolve(v)
            if r is not NO_VALUE:
                out[k] = r
        return out


def _ref(r: Resolver, v: Any) -> Any:
    if v == "AWS::NoValue":
        return NO_VALUE
    return r.ref(v)


def _getatt(r: Resolver, v: Any) -> Any:
    if isinstance(v, str):
        v = v.split(".", 1)
    res, attr = v[0], r.resolve(v[1])
    return r.getatt(res, attr)


def _sub(r: Resolver, v: Any) -> str:
    if isinstance(v, str):
        return r._sub(v, {})
    text, variables = v
    return r._sub(text, r.resolve(variables))


def _join(r: Resolver, v: Any) -> str:
    sep, items = r.resolve(v[0]), r.resolve(v[1])
    return sep.join(str(i) for i in items)


def _select(r: Resolver, v: Any) -> Any:
    idx, items = r.resolve(v[0]), r.resolve(v[1])
    return items[int(idx)]


def _split(r: Resolver, v: Any) -> list[str]:
    sep, text = r.resolve(v[0]), r.resolve(v[1])
    return text.split(sep)


def _if(r: Resolver, v: Any) -> Any:
    return r.resolve(v[1] if r.condition(v[0]) else v[2])


def _equals(r: Resolver, v: Any) -> bool:
    a, b = r.resolve(v[0]), r.resolve(v[1])
    return str(a) == str(b)


def _and(r: Resolver, v: Iterable[Any]) -> bool:
    return all(r.resolve(x) for x in v)


def _or(r: Resolver, v: Iterable[Any]) -> bool:
    return any(r.resolve(x) for x in v)


def _not(r: Resolver, v: Any) -> bool:
    return not r.resolve(v[0])


def _condition(r: Resolver, v: Any) -> bool:
    return r.condition(v)


def _find_in_map(r: Resolver, v: Any) -> Any:
    m, k1, k2 = (r.resolve(x) for x in v[:3])
    try:
        return r.mappings[m][k1][k2]
    except KeyError as exc:
        raise ResolveError(f"FindInMap {m}/{k1}/{k2}: not found") from exc


def _get_azs(r: Resolver, v: Any) -> list[str]:
    region = r.resolve(v) or r.pseudo["AWS::Region"]
    return [f"{region}a", f"{region}b", f"{region}c"]


def _base64(r: Resolver, v: Any) -> str:
    return base64.b64encode(str(r.resolve(v)).encode()).decode()


def _length(r: Resolver, v: Any) -> int:
    return len(r.resolve(v))


def _to_json(r: Resolver, v: Any) -> str:
    return json.dumps(r.resolve(v), separators=(",", ":"))


def _import_value(r: Resolver, v: Any) -> Any:
    raise ResolveError(f"Fn::ImportValue {r.resolve(v)!r}: cross-stack exports are not emulated")


_FUNCS = {
    "Ref": _ref,
    "Fn::GetAtt": _getatt,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::And": _and,
    "Fn::Or": _or,
    "Fn::Not": _not,
    "Condition": _condition,
    "Fn::FindInMap": _find_in_map,
    "Fn::GetAZs": _get_azs,
    "Fn::Base64": _base64,
    "Fn::Length": _length,
    "Fn::ToJsonString": _to_json,
    "Fn::ImportValue": _import_value,
}

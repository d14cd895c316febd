"""The populate step: the property-name mapping applied to what the sources said.

The mapping table holds one item per (source, property name as the source spells it):
`{"source": "specs_api", "name": "data.Colour", "unified": "color"}`. Editing it is editing
data: run populate again (no scraping) and the items follow.

For each item, each source's stored response is read; its properties whose names the mapping
knows become unified properties. When several sources give the same unified property, the
source with the lower `priority` wins (then the name, for a stable result). Names the mapping
does not know are counted per source: the list to label next.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Mapping_ = dict[str, dict[str, str]]  # source -> source's name -> unified name


def mapping_from_items(items: list[Mapping[str, Any]]) -> Mapping_:
    mapping: Mapping_ = defaultdict(dict)
    for item in items:
        source, name, unified = item.get("source"), item.get("name"), item.get("unified")
        if isinstance(source, str) and isinstance(name, str) and isinstance(unified, str) \
                and unified:
            mapping[source][name] = unified
    return dict(mapping)


@dataclass
class Unified:
    properties: dict[str, Any]
    property_sources: dict[str, str]
    statuses: dict[str, str]
    unmapped: dict[str, list[str]]


def unify(responses: list[Mapping[str, Any]], mapping: Mapping_,
          priority: Mapping[str, int]) -> Unified:
    """One item's responses (one per source) -> its unified properties."""
    ordered = sorted(responses, key=lambda r: (priority.get(r.get("source", ""), 1000),
                                               r.get("source", "")))
    properties: dict[str, Any] = {}
    origin: dict[str, str] = {}
    unmapped: dict[str, list[str]] = {}
    statuses = {}
    for response in ordered:
        source = response.get("source", "")
        statuses[source] = response.get("status", "missing")
        names = mapping.get(source, {})
        for name, value in (response.get("properties") or {}).items():
            unified = names.get(name)
            if unified is None:
                unmapped.setdefault(source, []).append(name)
            elif unified not in properties and value not in (None, ""):
                properties[unified] = value
                origin[unified] = source
    return Unified(properties, origin, statuses, unmapped)


@dataclass
class PopulateStats:
    items: int = 0
    items_with_properties: int = 0
    properties_written: int = 0
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    unmapped: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, unified: Unified, sources: list[str]) -> None:
        self.items += 1
        self.items_with_properties += bool(unified.properties)
        self.properties_written += len(unified.properties)
        for source in sources:
            self.statuses[source][unified.statuses.get(source, "missing")] += 1
        for source, names in unified.unmapped.items():
            self.unmapped[source].update(names)

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "items_with_properties": self.items_with_properties,
                "properties_written": self.properties_written,
                "sources": {s: dict(c) for s, c in sorted(self.statuses.items())},
                "unmapped": {s: dict(c.most_common()) for s, c in sorted(self.unmapped.items())}}

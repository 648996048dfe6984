"""The compute v1 discovery document googleapiclient ships (static discovery, as for every Google
API the bot calls), reduced to the collections the bot calls and the schemas they refer to: the
whole document is 5 MB of JSON (about 12 MB parsed, kept by each client built from it), of which
the bot uses an eighth. Parsed once per process, on first use."""

from __future__ import annotations

import functools
import json
from typing import Any

from googleapiclient import discovery_cache

# What bot/tpu/compute.py and compute_capacity.py call.
COLLECTIONS = (
    "instances",
    "zoneOperations",
    "instanceGroupManagers",
    "instanceGroupManagerResizeRequests",
    "reservations",
    "reservationBlocks",
    "reservationSubBlocks",
)


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value)
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


@functools.cache
def document() -> dict[str, Any]:
    """The bundled document with only `COLLECTIONS` and the schemas they reach."""
    full = json.loads(discovery_cache.get_static_doc("compute", "v1"))
    resources = {name: full["resources"][name] for name in COLLECTIONS}
    wanted: set[str] = set()
    _refs(resources, wanted)
    todo = list(wanted)
    while todo:
        more: set[str] = set()
        _refs(full["schemas"][todo.pop()], more)
        todo += sorted(more - wanted)
        wanted |= more
    reduced = {k: v for k, v in full.items() if k not in ("resources", "schemas")}
    reduced["resources"] = resources
    reduced["schemas"] = {name: full["schemas"][name] for name in sorted(wanted)}
    return reduced

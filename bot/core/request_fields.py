"""Pure: every field an approval request will send, flattened for the approver to read.

The approval card shows all of them, not a summary: an approver approves exactly what the API
will be sent (network, CIDR block, labels, description, scheduling, node specs...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The stored params' containers whose content is the body the API is sent.
_BODIES = ("spec", "request")


def fields_of(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """(field path, value) for every leaf of a request's stored params, in a stable order:
    `network`, `labels.team`, `nodeSpecs[0].node.acceleratorType`..."""
    found: list[tuple[str, str]] = []
    for key in sorted(params):
        value = params[key]
        prefix = "" if key in _BODIES and isinstance(value, Mapping) else key
        _flatten(prefix, value, found)
    return tuple(found)


def _flatten(path: str, value: Any, into: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        if not value:
            into.append((path, "{}"))
        for key in sorted(value):
            _flatten(f"{path}.{key}" if path else str(key), value[key], into)
    elif isinstance(value, list | tuple):
        if not value:
            into.append((path, "[]"))
        for index, item in enumerate(value):
            _flatten(f"{path}[{index}]", item, into)
    elif isinstance(value, bool):
        into.append((path, "true" if value else "false"))
    else:
        into.append((path, "" if value is None else str(value)))

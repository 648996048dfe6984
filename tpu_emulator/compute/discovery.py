"""googleapiclient's bundled `compute.v1.json`, read once: the served methods' paths, verbs and
query parameters, each schema's `kind`, and a check of request bodies against the schemas (an
unknown field or enum value is refused, as Google's front end refuses it)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from tpu_emulator.compute.errors import invalid_payload

Json = dict[str, Any]

# The resources whose methods the emulator routes (served or refused as not implemented).
RESOURCES = (
    "zones",
    "machineTypes",
    "instances",
    "zoneOperations",
    "instanceGroupManagers",
    "instanceGroupManagerResizeRequests",
    "resourcePolicies",
    "reservations",
    "reservationBlocks",
    "reservationSubBlocks",
    "futureReservations",
)


@dataclass(frozen=True)
class Method:
    id: str  # compute.instances.aggregatedList: also the stats key
    http: str
    pattern: re.Pattern[str]  # the path under compute/v1/, path parameters as named groups
    query: dict[str, Json]  # query parameter -> its discovery description
    path_params: dict[str, Json]
    request: str | None  # the body's schema, if any


@cache
def document() -> Json:
    text = (
        resources.files("googleapiclient")
        .joinpath("discovery_cache/documents/compute.v1.json")
        .read_text()
    )
    return dict(json.loads(text))


def _regex(path: str) -> re.Pattern[str]:
    """`projects/{project}/zones/{zone}/{+parentName}/x` -> an anchored regex with groups."""
    out = re.sub(r"\{\+(\w+)\}", r"(?P<\1>.+)", path)
    out = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", out)
    return re.compile(f"^{out}$")


@cache
def methods() -> tuple[Method, ...]:
    found = []
    for name in RESOURCES:
        for m in document()["resources"][name]["methods"].values():
            params = m.get("parameters", {})
            found.append(
                Method(
                    id=m["id"],
                    http=m["httpMethod"],
                    pattern=_regex(m["path"]),
                    query={k: v for k, v in params.items() if v["location"] == "query"},
                    path_params={k: v for k, v in params.items() if v["location"] == "path"},
                    request=(m.get("request") or {}).get("$ref"),
                )
            )
    return tuple(found)


def system_params() -> frozenset[str]:
    """Parameters every method takes (`fields`, `prettyPrint`...), and `$alt`."""
    return frozenset(document()["parameters"]) | {"$alt"}


def schema(name: str) -> Json:
    return dict(document()["schemas"][name])


def kind(name: str) -> str:
    return str(schema(name)["properties"]["kind"]["default"])


def has_field(schema_name: str, path: list[str]) -> bool:
    """Whether a dotted field path names a field of the schema (maps take any key)."""
    node: Json = schema(schema_name)
    for part in path:
        node = _resolve(node)
        if node.get("type") == "array":
            node = _resolve(node.get("items", {}))
        if "additionalProperties" in node:
            node = node["additionalProperties"]
            continue
        props = node.get("properties", {})
        if part not in props:
            return False
        node = props[part]
    return True


def _resolve(node: Json) -> Json:
    return schema(node["$ref"]) if "$ref" in node else node


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int, str),
    "number": (int, float, str),
    "object": (dict,),
    "array": (list,),
}


def check_body(schema_name: str, body: Any, where: str) -> None:
    """Refuse what Google's JSON parser would: unknown names, wrong types, unknown enums."""
    _check(schema(schema_name), body, where)


def _check(node: Json, value: Any, where: str) -> None:
    node = _resolve(node)
    kind_ = node.get("type", "object")
    if kind_ == "any" or value is None:
        return
    allowed = _PY_TYPES.get(kind_, (object,))
    if not isinstance(value, allowed) or (kind_ == "integer" and isinstance(value, bool)):
        raise invalid_payload(f"Invalid value at '{where}' ({kind_}), {json.dumps(value)}")
    if "enum" in node and value not in node["enum"]:
        raise invalid_payload(f"Invalid value at '{where}' (enum), {json.dumps(value)}")
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(node.get("items", {}), item, f"{where}[{i}]")
    elif isinstance(value, dict) and "additionalProperties" in node:
        for key, item in value.items():
            _check(node["additionalProperties"], item, f"{where}[{key!r}]")
    elif isinstance(value, dict):
        props = node.get("properties", {})
        for key, item in value.items():
            if key not in props:
                raise invalid_payload(
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': "
                    "Cannot find field."
                )
            _check(props[key], item, f"{where}.{key}")

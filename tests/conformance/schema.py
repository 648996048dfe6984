"""Responses checked against a discovery document's schemas: no unknown fields, no unknown enum
values. Shared by the Cloud TPU (v1alpha1, v1, v2), Cloud Monitoring (v3) and Compute
Engine (compute v1) conformance tests."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema


def discovery_document(version: str, api: str = "tpu") -> dict[str, Any]:
    return json.loads(
        resources.files("googleapiclient")
        .joinpath(f"discovery_cache/documents/{api}.{version}.json")
        .read_text()
    )


def _convert(schema: dict[str, Any]) -> dict[str, Any]:
    """A discovery schema -> JSON Schema that refuses unknown fields and unknown enum values."""
    if "$ref" in schema:
        return {"$ref": f"#/definitions/{schema['$ref']}"}
    kind = schema.get("type")
    if kind == "any" or kind is None:
        return {}
    out: dict[str, Any] = {"type": kind}
    if "enum" in schema:
        out["enum"] = schema["enum"]
    if kind == "array":
        out["items"] = _convert(schema.get("items", {}))
    if kind == "object":
        out["properties"] = {k: _convert(v) for k, v in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties")
        out["additionalProperties"] = _convert(extra) if extra is not None else False
    return out


def all_method_ids(resource: dict[str, Any]) -> set[str]:
    ids = {m["id"] for m in resource.get("methods", {}).values()}
    for child in resource.get("resources", {}).values():
        ids |= all_method_ids(child)
    return ids


class SchemaChecker:
    """`check(response, "Node")` against one API version's discovery document (Cloud TPU's
    unless `api` names another: `SchemaChecker("v3", "monitoring")`)."""

    def __init__(self, version: str, api: str = "tpu") -> None:
        self.version = version
        self.api = api
        self.doc = discovery_document(version, api)
        self.definitions = {name: _convert(s) for name, s in self.doc["schemas"].items()}
        self._validators: dict[str, jsonschema.Draft7Validator] = {}
        self._checked = False  # the definitions are checked once (compute's are large)

    def check(self, response: Any, schema_name: str) -> None:
        validator = self._validators.get(schema_name)
        if validator is None:
            schema = {"$ref": f"#/definitions/{schema_name}", "definitions": self.definitions}
            if not self._checked:
                jsonschema.Draft7Validator.check_schema(schema)  # once, not on every response
                self._checked = True
            validator = self._validators[schema_name] = jsonschema.Draft7Validator(schema)
        validator.validate(response)
        if schema_name == "Operation" and self.api == "tpu":
            self._check_operation(response)

    def _check_operation(self, response: dict[str, Any]) -> None:
        """The Any fields: metadata is this version's OperationMetadata, response a resource."""
        metadata = dict(response["metadata"])
        assert metadata.pop("@type").endswith(f".{self.version}.OperationMetadata")
        self.check(metadata, "OperationMetadata")
        if "response" in response:
            body = dict(response["response"])
            kind = body.pop("@type")
            resource = kind.rsplit(".", 1)[1]
            if kind.endswith("google.protobuf.Empty"):
                assert body == {}
            else:
                assert kind == f"type.googleapis.com/google.cloud.tpu.{self.version}.{resource}"
                self.check(body, resource)

    def served_keys(self, prefix: str = "") -> set[str]:
        """The stats keys of every method in the document (`nodes.list`, `v2.nodes.list`)."""
        keys = {i.removeprefix("tpu.projects.locations.") for i in all_method_ids(self.doc)}
        return {prefix + ("locations." + k if "." not in k else k) for k in keys}

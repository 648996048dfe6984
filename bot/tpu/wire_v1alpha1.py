"""v1alpha1 JSON <-> the bot's models. Tolerant: unknown fields are ignored, missing optional ones
default, unknown enum values map to the enum's unspecified member."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.models import Health, Node, NodeSpec, NodeState, Symptom, SymptomType, parse_time
from bot.core.operations import Operation, OperationError
from bot.core.watching.diff import fingerprint as watched_fingerprint


def symptom_from_api(data: Mapping[str, Any]) -> Symptom:
    return Symptom(
        symptom_type=SymptomType(str(data.get("symptomType", ""))),
        worker_id=str(data.get("workerId", "")),
        details=str(data.get("details", "")),
        create_time=parse_time(data.get("createTime")),
    )


# Where each field the watcher reads (core.watching.diff.WATCHED) comes from in this version.
WATCHED_FIELDS: dict[str, str | None] = {
    "state": "state",
    "health": "health",
    "accelerator_type": "acceleratorType",
    "symptoms": "symptoms",
    "labels": "labels",
    "maintenance": None,
}


def fingerprint(data: Mapping[str, Any]) -> int:
    """The fields the watcher's snapshot reads, hashed (in memory only; see NodeChanges)."""
    return watched_fingerprint(data, WATCHED_FIELDS)


def node_from_api(data: Mapping[str, Any]) -> Node:
    scheduling = data.get("schedulingConfig") or {}
    endpoints = data.get("networkEndpoints") or []
    ips = tuple(str(e.get("ipAddress", "")) for e in endpoints if isinstance(e, Mapping))
    if not ips and data.get("ipAddress"):
        ips = (str(data["ipAddress"]),)
    labels = data.get("labels") or {}
    return Node(
        name=str(data["name"]),
        accelerator_type=str(data.get("acceleratorType", "")),
        software_version=str(data.get("tensorflowVersion", "")),
        state=NodeState(str(data.get("state", ""))),
        health=Health(str(data.get("health", ""))),
        health_description=str(data.get("healthDescription", "")),
        cidr_block=str(data.get("cidrBlock", "")),
        network=str(data.get("network", "")),
        description=str(data.get("description", "")),
        preemptible=bool(scheduling.get("preemptible", False)),
        reserved=bool(scheduling.get("reserved", False)),
        labels={str(k): str(v) for k, v in labels.items()},
        symptoms=tuple(
            symptom_from_api(s) for s in data.get("symptoms") or [] if isinstance(s, Mapping)
        ),
        ip_addresses=ips,
        service_account=str(data.get("serviceAccount", "")),
        create_time=parse_time(data.get("createTime")),
    )


def operation_from_api(data: Mapping[str, Any]) -> Operation:
    metadata = data.get("metadata") or {}
    error = data.get("error")
    response = data.get("response") or {}
    node = None
    if isinstance(response, Mapping) and "name" in response and "state" in response:
        node = node_from_api(response)
    return Operation(
        name=str(data["name"]),
        done=bool(data.get("done", False)),
        verb=str(metadata.get("verb", "")),
        target=str(metadata.get("target", "")),
        create_time=parse_time(metadata.get("createTime")),
        end_time=parse_time(metadata.get("endTime")),
        status_detail=str(metadata.get("statusDetail", "")),
        cancel_requested=bool(metadata.get("cancelRequested", False)),
        error=(
            OperationError(int(error.get("code", 2)), str(error.get("message", "")))
            if isinstance(error, Mapping)
            else None
        ),
        node=node,
    )


def node_body(spec: NodeSpec) -> dict[str, Any]:
    """The request body of v1alpha1 nodes.create (no spot, no acceleratorConfig there)."""
    body = spec.as_dict()
    body.pop("acceleratorConfig", None)
    if spec.spot:
        body["schedulingConfig"] = {"preemptible": True}
    return body

"""v2 JSON <-> the bot's models (TPU VMs and queued resources). Tolerant: unknown fields are
ignored, missing optional ones default, unknown enum values map to the unspecified member."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from bot.core.models import (
    AcceleratorConfig,
    Health,
    Maintenance,
    Node,
    NodeSpec,
    NodeState,
    parse_time,
)
from bot.core.operations import Operation, OperationError
from bot.core.queued import (
    QueuedNodeSpec,
    QueuedResource,
    QueuedResourceRequest,
    QueuedState,
    QueueingPolicy,
    StateInitiator,
)
from bot.core.watching.diff import fingerprint as watched_fingerprint
from bot.tpu import wire_v1alpha1
from bot.tpu.wire_v1alpha1 import symptom_from_api


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _labels(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in _map(value).items()}


def _seconds(value: object) -> float | None:
    """A protobuf Duration ("3600s", "1.5s") -> seconds."""
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)s", str(value or ""))
    return float(match.group(1)) if match else None


def _accelerator_config(value: object) -> AcceleratorConfig | None:
    data = _map(value)
    if not data:
        return None
    return AcceleratorConfig(type=str(data.get("type", "")), topology=str(data.get("topology", "")))


def maintenance_from_api(value: object) -> Maintenance | None:
    data = _map(value)
    if not data:
        return None
    return Maintenance(
        type=str(data.get("type", "")),
        status=str(data.get("maintenanceStatus", "")),
        window_start=parse_time(data.get("windowStartTime")),
        window_end=parse_time(data.get("windowEndTime")),
        latest_window_start=parse_time(data.get("latestWindowStartTime")),
        can_reschedule=bool(data.get("canReschedule", False)),
    )


# Where each field the watcher reads (core.watching.diff.WATCHED) comes from in this version.
WATCHED_FIELDS: dict[str, str | None] = {
    "state": "state",
    "health": "health",
    "accelerator_type": "acceleratorType",
    "symptoms": "symptoms",
    "labels": "labels",
    "maintenance": "upcomingMaintenance",
}


def fingerprint(data: Mapping[str, Any]) -> int:
    """The fields the watcher's snapshot reads, hashed (in memory only; see NodeChanges)."""
    return watched_fingerprint(data, WATCHED_FIELDS)


def node_from_api(data: Mapping[str, Any]) -> Node:
    scheduling = _map(data.get("schedulingConfig"))
    endpoints = data.get("networkEndpoints") or []
    ips = tuple(str(e.get("ipAddress", "")) for e in endpoints if isinstance(e, Mapping))
    return Node(
        name=str(data["name"]),
        accelerator_type=str(data.get("acceleratorType", "")),
        software_version=str(data.get("runtimeVersion", "")),
        state=NodeState(str(data.get("state", ""))),
        health=Health(str(data.get("health", ""))),
        health_description=str(data.get("healthDescription", "")),
        cidr_block=str(data.get("cidrBlock", "")),
        network=str(_map(data.get("networkConfig")).get("network", "")),
        description=str(data.get("description", "")),
        preemptible=bool(scheduling.get("preemptible", False)),
        reserved=bool(scheduling.get("reserved", False)),
        spot=bool(scheduling.get("spot", False)),
        labels=_labels(data.get("labels")),
        symptoms=tuple(
            symptom_from_api(s) for s in data.get("symptoms") or [] if isinstance(s, Mapping)
        ),
        ip_addresses=ips,
        service_account=str(_map(data.get("serviceAccount")).get("email", "")),
        create_time=parse_time(data.get("createTime")),
        accelerator_config=_accelerator_config(data.get("acceleratorConfig")),
        queued_resource=str(data.get("queuedResource", "")),
        multislice_node=bool(data.get("multisliceNode", False)),
        maintenance=maintenance_from_api(data.get("upcomingMaintenance")),
    )


def node_body(spec: NodeSpec) -> dict[str, Any]:
    """The request body of v2 nodes.create (and of a queued resource's node)."""
    body: dict[str, Any] = {"runtimeVersion": spec.software_version}
    if spec.accelerator_type:
        body["acceleratorType"] = spec.accelerator_type
    if spec.accelerator_config is not None:
        config = spec.accelerator_config
        body["acceleratorConfig"] = {"type": config.type, "topology": config.topology}
    if spec.cidr_block:
        body["cidrBlock"] = spec.cidr_block
    if spec.network:
        body["networkConfig"] = {"network": spec.network}
    if spec.description:
        body["description"] = spec.description
    if spec.labels:
        body["labels"] = dict(spec.labels)
    flags = {"preemptible": spec.preemptible, "reserved": spec.reserved, "spot": spec.spot}
    if any(flags.values()):
        body["schedulingConfig"] = {key: True for key, value in flags.items() if value}
    return body


def operation_from_api(data: Mapping[str, Any]) -> Operation:
    """A v2 operation; its response is a v2 Node, a QueuedResource or Empty."""
    response = _map(data.get("response"))
    plain = wire_v1alpha1.operation_from_api({k: v for k, v in data.items() if k != "response"})
    if "name" in response and "state" in response and "/nodes/" in str(response["name"]):
        return dataclasses.replace(plain, node=node_from_api(response))
    return plain


# ----- queued resources ----------------------------------------------------------------------


def _queued_spec(data: Mapping[str, Any]) -> QueuedNodeSpec:
    node = _map(data.get("node"))
    multislice = _map(data.get("multisliceParams"))
    return QueuedNodeSpec(
        parent=str(data.get("parent", "")),
        node_id=str(data.get("nodeId", "")),
        accelerator_type=str(node.get("acceleratorType", "")),
        accelerator_config=_accelerator_config(node.get("acceleratorConfig")),
        software_version=str(node.get("runtimeVersion", "")),
        labels=_labels(node.get("labels")),
        description=str(node.get("description", "")),
        multislice_count=int(multislice.get("nodeCount", 0) or 0),
        multislice_prefix=str(multislice.get("nodeIdPrefix", "")),
    )


def _policy(value: object) -> QueueingPolicy | None:
    data = _map(value)
    if not data:
        return None
    interval = _map(data.get("validInterval"))
    return QueueingPolicy(
        valid_after=parse_time(data.get("validAfterTime") or interval.get("startTime")),
        valid_until=parse_time(data.get("validUntilTime") or interval.get("endTime")),
        valid_after_seconds=_seconds(data.get("validAfterDuration")),
        valid_until_seconds=_seconds(data.get("validUntilDuration")),
    )


def queued_from_api(data: Mapping[str, Any]) -> QueuedResource:
    state = _map(data.get("state"))
    error = _map(_map(state.get("failedData")).get("error"))
    guaranteed = data.get("guaranteed")
    return QueuedResource(
        name=str(data["name"]),
        state=QueuedState(str(state.get("state", ""))),
        state_initiator=StateInitiator(str(state.get("stateInitiator", ""))),
        create_time=parse_time(data.get("createTime")),
        node_specs=tuple(
            _queued_spec(s)
            for s in _map(data.get("tpu")).get("nodeSpec") or []
            if isinstance(s, Mapping)
        ),
        spot="spot" in data,
        guaranteed=isinstance(guaranteed, Mapping),
        guaranteed_min_seconds=_seconds(_map(guaranteed).get("minDuration")),
        queueing_policy=_policy(data.get("queueingPolicy")),
        reservation=str(data.get("reservationName", "")),
        failure=(
            OperationError(int(error.get("code", 2)), str(error.get("message", "")))
            if error
            else None
        ),
    )


def queued_body(request: QueuedResourceRequest) -> dict[str, Any]:
    """The request body of queuedResources.create."""
    specs = []
    for spec in request.node_specs:
        node = node_body(
            NodeSpec(
                accelerator_type=spec.accelerator_type,
                software_version=spec.software_version,
                accelerator_config=spec.accelerator_config,
                description=spec.description,
                labels=dict(spec.labels),
            )
        )
        item: dict[str, Any] = {"parent": spec.parent, "node": node}
        if spec.multislice_count:
            item["multisliceParams"] = {"nodeCount": spec.multislice_count}
            if spec.multislice_prefix:
                item["multisliceParams"]["nodeIdPrefix"] = spec.multislice_prefix
        else:
            item["nodeId"] = spec.node_id
        specs.append(item)
    body: dict[str, Any] = {"tpu": {"nodeSpec": specs}}
    if request.spot:
        body["spot"] = {}
    if request.guaranteed:
        body["guaranteed"] = {}
    if request.reservation:
        body["reservationName"] = request.reservation
    policy: dict[str, str] = {}
    if request.valid_after_seconds is not None:
        policy["validAfterDuration"] = f"{request.valid_after_seconds:g}s"
    if request.valid_until_seconds is not None:
        policy["validUntilDuration"] = f"{request.valid_until_seconds:g}s"
    if policy:
        body["queueingPolicy"] = policy
    return body

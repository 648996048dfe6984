"""Compute Engine JSON (compute.v1.json) <-> the core's instances, groups, flex-start requests,
reservations and operations. Compute writes links (`https://.../compute/v1/projects/...`) where
the core speaks of resource names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.core.instances import (
    HOST_ERROR,
    PREEMPTED,
    FlexRequest,
    FlexState,
    Host,
    Instance,
    InstanceGroup,
    InstanceStatus,
    ProvisioningModel,
    Reservation,
    ReservationBlock,
    SubBlock,
    SystemEvent,
)
from bot.core.models import Maintenance, parse_time
from bot.core.names import Kind, ResourceName
from bot.core.operations import Operation, OperationError
from bot.core.watching.diff import WATCHED
from bot.core.watching.diff import fingerprint as snapshot_fingerprint

Json = Mapping[str, Any]

# The zone operations that record what the service did to an instance on its own.
SYSTEM_EVENTS = {
    "compute.instances.preempted": PREEMPTED,
    "compute.instances.hostError": HOST_ERROR,
}
# What the watcher reads of an instance (its snapshot's fields) -> the fields it comes from:
# a change in any of them makes the instance a model again.
WIRE_FIELDS: Mapping[str, str | None] = {
    "state": "status",
    "health": None,
    "accelerator_type": "machineType",
    "symptoms": None,
    "labels": "labels",
    "maintenance": "resourceStatus",
}
assert set(WIRE_FIELDS) == set(WATCHED), "every watched field is mapped"
# google.rpc codes for what a failed operation's HTTP status says.
_RPC_BY_HTTP = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 412: 9, 429: 8, 500: 13, 503: 14}
_EXHAUSTED = ("QUOTA_EXCEEDED", "ZONE_RESOURCE_POOL_EXHAUSTED", "RESOURCE_EXHAUSTED")


# Compute's links name Google's host whatever endpoint answered.
LINK_BASE = "https://www.googleapis.com/compute/v1/"


def link(name: str) -> str:
    """A resource name -> the link Compute writes for it (a filter compares links)."""
    return LINK_BASE + name


def name_of(link: str) -> str:
    """A Compute link (or a bare path) -> the resource name `projects/...`."""
    at = link.find("projects/")
    return link[at:] if at >= 0 else link


def short(link: str) -> str:
    """The last part of a link: `.../machineTypes/ct6e-standard-4t` -> `ct6e-standard-4t`."""
    return link.rsplit("/", 1)[-1]


def fingerprint(raw: Json) -> int:
    return snapshot_fingerprint(raw, WIRE_FIELDS)


def maintenance_of(data: Json | None, ongoing: bool = False) -> Maintenance | None:
    if not data:
        return None
    status = "ONGOING" if ongoing else str(data.get("maintenanceStatus") or "PENDING")
    return Maintenance(
        type=str(data.get("type", "")),
        status=status,
        window_start=parse_time(data.get("windowStartTime") or data.get("startTimeWindow")),
        window_end=parse_time(data.get("windowEndTime")),
        latest_window_start=parse_time(data.get("latestWindowStartTime")),
        can_reschedule=bool(data.get("canReschedule")),
    )


def _seconds(duration: Json | None) -> int | None:
    if not duration or "seconds" not in duration:
        return None
    return int(duration["seconds"])


def instance_from_api(data: Json) -> Instance:
    scheduling = data.get("scheduling") or {}
    status = data.get("resourceStatus") or {}
    consumed = status.get("reservationConsumptionInfo") or {}
    policies = [name_of(p) for p in data.get("resourcePolicies") or []]
    return Instance(
        name=name_of(str(data["selfLink"])),
        machine_type=short(str(data.get("machineType", ""))),
        status=InstanceStatus(str(data.get("status", ""))),
        uid=str(data.get("id", "")),
        provisioning=ProvisioningModel(str(scheduling.get("provisioningModel", "STANDARD"))),
        labels=dict(data.get("labels") or {}),
        label_fingerprint=str(data.get("labelFingerprint", "")),
        maintenance=maintenance_of(status.get("upcomingMaintenance")),
        create_time=parse_time(data.get("creationTimestamp")),
        last_start=parse_time(data.get("lastStartTimestamp")),
        status_message=str(data.get("statusMessage", "")),
        termination_action=str(scheduling.get("instanceTerminationAction", "")),
        termination_time=parse_time((status.get("scheduling") or {}).get("terminationTimestamp")),
        reservation=name_of(str(consumed.get("consumedReservation", ""))),
        sub_block=name_of(str(consumed.get("consumedReservationSubBlock", ""))),
        host=str(status.get("physicalHost", "")),
        placement_policy=next(iter(policies), ""),
    )


def operation_from_api(data: Json) -> Operation:
    """A zone operation, named in full (`projects/P/zones/Z/operations/N`)."""
    name = ResourceName.parse(name_of(str(data["selfLink"])))
    error = None
    errors = (data.get("error") or {}).get("errors") or []
    if errors:
        first = errors[0]
        http = int(data.get("httpErrorStatusCode") or 0)
        code = _RPC_BY_HTTP.get(http, 2)
        if any(str(first.get("code", "")).startswith(e) for e in _EXHAUSTED):
            code = 8  # RESOURCE_EXHAUSTED: out of capacity or quota
        message = str(first.get("message") or data.get("httpErrorMessage") or "")
        error = OperationError(code, message)
    return Operation(
        name=name.full,
        done=data.get("status") == "DONE",
        verb=str(data.get("operationType", "")),
        target=name_of(str(data.get("targetLink", ""))),
        create_time=parse_time(data.get("insertTime")),
        end_time=parse_time(data.get("endTime")),
        status_detail=str(data.get("statusMessage", "")),
        error=error,
    )


def system_event_of(data: Json) -> SystemEvent | None:
    kind = SYSTEM_EVENTS.get(str(data.get("operationType", "")))
    if kind is None:
        return None
    when = parse_time(data.get("endTime") or data.get("insertTime"))
    return SystemEvent(name_of(str(data.get("targetLink", ""))), kind, when)


def group_from_api(data: Json, managed: Iterable[Json] = ()) -> InstanceGroup:
    """A group and (for a slice) its hosts as `listManagedInstances` gives them."""
    status = data.get("status") or {}
    topologies = status.get("appliedAcceleratorTopologies") or []
    applied = topologies[0] if topologies else {}
    policy = (data.get("resourcePolicies") or {}).get("workloadPolicy", "")
    hosts = sorted(
        (
            Host(name_of(str(m["instance"])), InstanceStatus(str(m.get("instanceStatus", ""))))
            for m in managed
        ),
        key=lambda h: h.name,
    )
    return InstanceGroup(
        name=name_of(str(data["selfLink"])),
        wanted=int(data.get("targetSize", 0)),
        hosts=tuple(hosts),
        topology=str(applied.get("acceleratorTopology", "")),
        topology_state=str(applied.get("state", "")),
        policy=name_of(str(policy)) if policy else "",
        create_time=parse_time(data.get("creationTimestamp")),
    )


def flex_from_api(data: Json, group: str) -> FlexRequest:
    status = data.get("status") or {}
    error = _first_error(status.get("error"))
    last = _first_error((status.get("lastAttempt") or {}).get("error"))
    owner = ResourceName.parse(group)
    name = ResourceName.of(
        owner.project,
        owner.zone,
        Kind.RESIZE_REQUEST,
        str(data["name"]),
        ((Kind.INSTANCE_GROUP.value, owner.id),),
    )
    return FlexRequest(
        name=name.full,
        state=FlexState(str(data.get("state", ""))),
        count=int(data.get("resizeBy") or len(data.get("instances") or [])),
        run_seconds=_seconds(data.get("requestedRunDuration")),
        create_time=parse_time(data.get("creationTimestamp")),
        error=error,
        last_error=last,
        description=str(data.get("description", "")),
    )


def _first_error(error: Json | None) -> str:
    errors = (error or {}).get("errors") or []
    return str(errors[0].get("message", "")) if errors else ""


def sub_block_from_api(data: Json) -> SubBlock:
    health = data.get("healthInfo") or {}
    upkeep = data.get("reservationSubBlockMaintenance") or {}
    ongoing = int(upkeep.get("maintenanceOngoingCount") or 0) > 0
    upcoming = upkeep.get("upcomingGroupMaintenance")
    maintenance = maintenance_of(upcoming, ongoing) if upcoming or ongoing else None
    if ongoing and maintenance is None:
        maintenance = Maintenance(status="ONGOING")
    return SubBlock(
        name=name_of(str(data["selfLink"])),
        count=int(data.get("count", 0)),
        in_use=int(data.get("inUseCount", 0)),
        degraded=int(health.get("degradedHostCount", 0)),
        maintenance=maintenance,
        create_time=parse_time(data.get("creationTimestamp")),
    )


def block_from_api(data: Json, sub_blocks: Iterable[SubBlock]) -> ReservationBlock:
    return ReservationBlock(
        name=name_of(str(data["selfLink"])),
        count=int(data.get("count", 0)),
        in_use=int(data.get("inUseCount", 0)),
        sub_blocks=tuple(sub_blocks),
    )


def reservation_from_api(data: Json, blocks: Iterable[ReservationBlock]) -> Reservation:
    specific = data.get("specificReservation") or {}
    properties = specific.get("instanceProperties") or {}
    return Reservation(
        name=name_of(str(data["selfLink"])),
        machine_type=short(str(properties.get("machineType", ""))),
        count=int(specific.get("count", 0)),
        in_use=int(specific.get("inUseCount", 0)),
        blocks=tuple(blocks),
        create_time=parse_time(data.get("creationTimestamp")),
    )

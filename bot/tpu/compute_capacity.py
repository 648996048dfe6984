"""The capacity around a project's TPU instances, listed on the watcher's slower cadence: its
instance groups (one aggregated list; the hosts of each group), their flex-start resize requests,
and its reservations with their blocks and sub-blocks (one aggregated list, then only where it
has some). A project with none costs two requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.core.instances import (
    CapacityListing,
    FlexRequest,
    InstanceGroup,
    Reservation,
    ReservationBlock,
)
from bot.core.names import Kind, ResourceName
from bot.core.operations import Operation
from bot.tpu import wire_compute
from bot.usecases.ports import InvalidArgument

if TYPE_CHECKING:
    from bot.tpu.compute import ComputeClient

MAX_RESULTS = 500


class _Count:
    """Requests a listing took (pages included)."""

    def __init__(self) -> None:
        self.requests = 0


def list_capacity(
    client: ComputeClient, project: str, locations: Sequence[str] = ("-",)
) -> CapacityListing:
    count = _Count()
    unreachable: list[str] = []
    groups, flex = _groups(client, project, locations, count, unreachable)
    reservations = _reservations(client, project, locations, count, unreachable)
    return CapacityListing(
        project,
        tuple(groups),
        tuple(flex),
        tuple(reservations),
        tuple(dict.fromkeys(unreachable)),
        count.requests,
    )


def _covers(locations: Sequence[str], zone: str) -> bool:
    return "-" in locations or zone in locations


def _listed(
    client: ComputeClient, method: str, collection: Any, request: Any, key: str, count: _Count
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in client.pages(method, collection, request):
        count.requests += 1
        found.extend(page.get(key, []))
    return found


def _groups(
    client: ComputeClient,
    project: str,
    locations: Sequence[str],
    count: _Count,
    unreachable: list[str],
) -> tuple[list[InstanceGroup], list[FlexRequest]]:
    migs = client.collections["instanceGroupManagers"]
    resizes = client.collections["instanceGroupManagerResizeRequests"]
    groups: list[InstanceGroup] = []
    flex: list[FlexRequest] = []
    raw: list[dict[str, Any]] = []
    for items, missing in client.aggregated(
        "instanceGroupManagers.aggregatedList", migs, "instanceGroupManagers", project
    ):
        count.requests += 1
        unreachable.extend(z for z in missing if _covers(locations, z))
        raw.extend(items)
    for item in raw:
        name = ResourceName.parse(wire_compute.name_of(str(item["selfLink"])))
        if not _covers(locations, name.zone):
            continue
        where = {"project": project, "zone": name.zone, "instanceGroupManager": name.id}
        request = migs.listManagedInstances(**where, maxResults=MAX_RESULTS)
        hosts = _listed(
            client,
            "instanceGroupManagers.listManagedInstances",
            migs,
            request,
            "managedInstances",
            count,
        )
        groups.append(wire_compute.group_from_api(item, hosts))
        request = resizes.list(**where, maxResults=MAX_RESULTS)
        method = "instanceGroupManagerResizeRequests.list"
        for rr in _listed(client, method, resizes, request, "items", count):
            flex.append(wire_compute.flex_from_api(rr, name.full))
    return groups, flex


def _reservations(
    client: ComputeClient,
    project: str,
    locations: Sequence[str],
    count: _Count,
    unreachable: list[str],
) -> list[Reservation]:
    raw: list[dict[str, Any]] = []
    for items, missing in client.aggregated(
        "reservations.aggregatedList", client.collections["reservations"], "reservations", project
    ):
        count.requests += 1
        unreachable.extend(z for z in missing if _covers(locations, z))
        raw.extend(items)
    found = []
    for item in raw:
        name = ResourceName.parse(wire_compute.name_of(str(item["selfLink"])))
        if not _covers(locations, name.zone):
            continue
        blocks = client.collections["reservationBlocks"]
        request = blocks.list(
            project=project, zone=name.zone, reservation=name.id, maxResults=MAX_RESULTS
        )
        listed = _listed(client, "reservationBlocks.list", blocks, request, "items", count)
        found.append(
            wire_compute.reservation_from_api(
                item, [_block(client, project, name, b, count) for b in listed]
            )
        )
    return found


def _block(
    client: ComputeClient,
    project: str,
    reservation: ResourceName,
    block: Mapping[str, Any],
    count: _Count,
) -> ReservationBlock:
    subs = client.collections["reservationSubBlocks"]
    parent = f"reservations/{reservation.id}/reservationBlocks/{block['name']}"
    request = subs.list(
        project=project, zone=reservation.zone, parentName=parent, maxResults=MAX_RESULTS
    )
    listed = _listed(client, "reservationSubBlocks.list", subs, request, "items", count)
    return wire_compute.block_from_api(block, [wire_compute.sub_block_from_api(s) for s in listed])


def perform_sub_block_maintenance(
    client: ComputeClient, name: ResourceName, request_id: str
) -> Operation:
    parent = "/".join(f"{collection}/{id}" for collection, id in name.within)
    request = client.collections["reservationSubBlocks"].performMaintenance(
        project=name.project,
        zone=name.zone,
        parentName=parent,
        reservationSubBlock=name.id,
        requestId=request_id,
    )
    return wire_compute.operation_from_api(
        client.execute("reservationSubBlocks.performMaintenance", request)
    )


def _flex_at(name: str) -> tuple[ResourceName, dict[str, str]]:
    parsed = ResourceName.parse(name)
    owner = parsed.owner
    if parsed.kind != Kind.RESIZE_REQUEST or owner is None:
        raise InvalidArgument(f"not a flex-start request name: {name!r}")
    return parsed, {
        "project": parsed.project,
        "zone": parsed.zone,
        "instanceGroupManager": owner.id,
    }


def get_flex_request(client: ComputeClient, name: str) -> FlexRequest:
    parsed, where = _flex_at(name)
    request = client.collections["instanceGroupManagerResizeRequests"].get(
        **where, resizeRequest=parsed.id
    )
    data = client.execute("instanceGroupManagerResizeRequests.get", request)
    owner = parsed.owner
    assert owner is not None
    return wire_compute.flex_from_api(data, owner.full)


def flex_call(client: ComputeClient, verb: str, name: str, request_id: str) -> Operation:
    """Cancel or delete a flex-start request."""
    parsed, where = _flex_at(name)
    method = getattr(client.collections["instanceGroupManagerResizeRequests"], verb)
    request = method(**where, resizeRequest=parsed.id, requestId=request_id)
    return wire_compute.operation_from_api(
        client.execute(f"instanceGroupManagerResizeRequests.{verb}", request)
    )


def create_flex_request(
    client: ComputeClient, name: str, body: Mapping[str, Any], request_id: str
) -> Operation:
    """Ask again for what a flex-start request asked (`FlexRequest.as_body`), by its name."""
    parsed, where = _flex_at(name)
    request = client.collections["instanceGroupManagerResizeRequests"].insert(
        **where, body={**body, "name": parsed.id}, requestId=request_id
    )
    return wire_compute.operation_from_api(
        client.execute("instanceGroupManagerResizeRequests.insert", request)
    )

"""The served methods of compute.v1.json, by discovery id (which is also the stats key):
path parameters `p`, query `q`, body `b`. Paths, verbs and parameters come from the document
itself (discovery.methods); a routed method missing here answers 501."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tpu_emulator.compute.service import Compute

Json = dict[str, Any]
Handler = Callable[["Compute", dict[str, str], dict[str, str], Json], Json]


def _rid(q: dict[str, str]) -> str | None:
    return q.get("requestId")


HANDLERS: dict[str, Handler] = {
    # zones and machine types
    "compute.zones.list": lambda c, p, q, b: c.list_zones(p["project"], q),
    "compute.zones.get": lambda c, p, q, b: c.get_zone(p["project"], p["zone"]),
    "compute.machineTypes.list": lambda c, p, q, b: c.list_machine_types(
        p["project"], p["zone"], q
    ),
    "compute.machineTypes.get": lambda c, p, q, b: c.get_machine_type(
        p["project"], p["zone"], p["machineType"]
    ),
    "compute.machineTypes.aggregatedList": lambda c, p, q, b: c.aggregated_machine_types(
        p["project"], q
    ),
    # instances
    "compute.instances.aggregatedList": lambda c, p, q, b: c.aggregated_instances(p["project"], q),
    "compute.instances.list": lambda c, p, q, b: c.list_instances(p["project"], p["zone"], q),
    "compute.instances.get": lambda c, p, q, b: c.get_instance(
        p["project"], p["zone"], p["instance"]
    ),
    "compute.instances.insert": lambda c, p, q, b: c.insert_instance(
        p["project"], p["zone"], b, _rid(q)
    ),
    "compute.instances.delete": lambda c, p, q, b: c.delete_instance(
        p["project"], p["zone"], p["instance"], _rid(q)
    ),
    "compute.instances.start": lambda c, p, q, b: c.start_instance(
        p["project"], p["zone"], p["instance"], _rid(q)
    ),
    "compute.instances.stop": lambda c, p, q, b: c.stop_instance(
        p["project"], p["zone"], p["instance"], _rid(q)
    ),
    "compute.instances.setLabels": lambda c, p, q, b: c.set_labels(
        p["project"], p["zone"], p["instance"], b, _rid(q)
    ),
    "compute.instances.reportHostAsFaulty": lambda c, p, q, b: c.report_host_as_faulty(
        p["project"], p["zone"], p["instance"], b, _rid(q)
    ),
    "compute.instances.performMaintenance": lambda c, p, q, b: c.perform_maintenance(
        p["project"], p["zone"], p["instance"], _rid(q)
    ),
    # zone operations
    "compute.zoneOperations.get": lambda c, p, q, b: c.get_operation(
        p["project"], p["zone"], p["operation"]
    ),
    "compute.zoneOperations.list": lambda c, p, q, b: c.list_operations(p["project"], p["zone"], q),
    "compute.zoneOperations.wait": lambda c, p, q, b: c.wait_operation(
        p["project"], p["zone"], p["operation"]
    ),
    "compute.zoneOperations.delete": lambda c, p, q, b: c.delete_operation(
        p["project"], p["zone"], p["operation"]
    ),
    # managed instance groups and resize requests
    "compute.instanceGroupManagers.list": lambda c, p, q, b: c.list_migs(
        p["project"], p["zone"], q
    ),
    "compute.instanceGroupManagers.get": lambda c, p, q, b: c.get_mig(
        p["project"], p["zone"], p["instanceGroupManager"]
    ),
    "compute.instanceGroupManagers.aggregatedList": lambda c, p, q, b: c.aggregated_migs(
        p["project"], q
    ),
    "compute.instanceGroupManagers.listManagedInstances": lambda c, p, q, b: (
        c.list_managed_instances(p["project"], p["zone"], p["instanceGroupManager"], q)
    ),
    "compute.instanceGroupManagerResizeRequests.list": lambda c, p, q, b: c.list_resize_requests(
        p["project"], p["zone"], p["instanceGroupManager"], q
    ),
    "compute.instanceGroupManagerResizeRequests.get": lambda c, p, q, b: c.get_resize_request(
        p["project"], p["zone"], p["instanceGroupManager"], p["resizeRequest"]
    ),
    "compute.instanceGroupManagerResizeRequests.insert": lambda c, p, q, b: c.insert_resize_request(
        p["project"], p["zone"], p["instanceGroupManager"], b, _rid(q)
    ),
    "compute.instanceGroupManagerResizeRequests.cancel": lambda c, p, q, b: c.cancel_resize_request(
        p["project"], p["zone"], p["instanceGroupManager"], p["resizeRequest"], _rid(q)
    ),
    "compute.instanceGroupManagerResizeRequests.delete": lambda c, p, q, b: c.delete_resize_request(
        p["project"], p["zone"], p["instanceGroupManager"], p["resizeRequest"], _rid(q)
    ),
    # resource policies
    "compute.resourcePolicies.list": lambda c, p, q, b: c.list_policies(
        p["project"], p["region"], q
    ),
    "compute.resourcePolicies.get": lambda c, p, q, b: c.get_policy(
        p["project"], p["region"], p["resourcePolicy"]
    ),
    "compute.resourcePolicies.aggregatedList": lambda c, p, q, b: c.aggregated_policies(
        p["project"], q
    ),
    # reservations, blocks, sub-blocks, future reservations
    "compute.reservations.list": lambda c, p, q, b: c.list_reservations(p["project"], p["zone"], q),
    "compute.reservations.get": lambda c, p, q, b: c.get_reservation(
        p["project"], p["zone"], p["reservation"]
    ),
    "compute.reservations.aggregatedList": lambda c, p, q, b: c.aggregated_reservations(
        p["project"], q
    ),
    "compute.reservationBlocks.list": lambda c, p, q, b: c.list_blocks(
        p["project"], p["zone"], p["reservation"], q
    ),
    "compute.reservationBlocks.get": lambda c, p, q, b: c.get_block(
        p["project"], p["zone"], p["reservation"], p["reservationBlock"]
    ),
    "compute.reservationSubBlocks.list": lambda c, p, q, b: c.list_sub_blocks(
        p["project"], p["zone"], p["parentName"], q
    ),
    "compute.reservationSubBlocks.get": lambda c, p, q, b: c.get_sub_block(
        p["project"], p["zone"], p["parentName"], p["reservationSubBlock"]
    ),
    "compute.reservationSubBlocks.reportFaulty": lambda c, p, q, b: c.report_faulty_sub_block(
        p["project"], p["zone"], p["parentName"], p["reservationSubBlock"], b, _rid(q)
    ),
    "compute.reservationSubBlocks.performMaintenance": lambda c, p, q, b: (
        c.perform_sub_block_maintenance(
            p["project"], p["zone"], p["parentName"], p["reservationSubBlock"], _rid(q)
        )
    ),
    "compute.futureReservations.list": lambda c, p, q, b: c.list_futures(
        p["project"], p["zone"], q
    ),
    "compute.futureReservations.get": lambda c, p, q, b: c.get_future(
        p["project"], p["zone"], p["futureReservation"]
    ),
}

"""Capacity records in compute.v1.json's schemas: managed instance groups and their managed
instances, resize requests, resource policies, reservations, blocks, sub-blocks and future
reservations."""

from __future__ import annotations

from typing import Any

from tpu_emulator.compute import catalog
from tpu_emulator.compute.model import (
    Block,
    FutureReservation,
    Instance,
    Mig,
    Reservation,
    ResizeRequest,
    ResourcePolicy,
    SubBlock,
    fingerprint,
)
from tpu_emulator.compute.wire import instance_path, link, ts, zone_path

Json = dict[str, Any]

# An instance's status -> what its group is doing to it (ManagedInstance.currentAction).
ACTIONS = {"PROVISIONING": "CREATING", "STAGING": "CREATING", "STOPPING": "DELETING"}
_SUMMARY = {
    "DEPROVISIONING": "deprovisioning",
    "PENDING": "pending",
    "PENDING_STOP": "pendingStop",
    "PROVISIONING": "provisioning",
    "REPAIRING": "repairing",
    "RUNNING": "running",
    "STAGING": "staging",
    "STOPPED": "stopped",
    "STOPPING": "stopping",
    "SUSPENDED": "suspended",
    "SUSPENDING": "suspending",
    "TERMINATED": "terminated",
}


def mig_path(mig: Mig) -> str:
    return f"{zone_path(mig.project, mig.zone)}/instanceGroupManagers/{mig.name}"


def mig_json(mig: Mig, members: list[Instance]) -> Json:
    zone = zone_path(mig.project, mig.zone)
    actions: dict[str, int] = {"none": 0, "creating": 0, "deleting": 0}
    statuses: dict[str, int] = {}
    for inst in members:
        action = ACTIONS.get(inst.status, "NONE").lower()
        actions[action] = actions.get(action, 0) + 1
        key = _SUMMARY[inst.status]
        statuses[key] = statuses.get(key, 0) + 1
    stable = all(i.status == "RUNNING" for i in members) and len(members) == mig.target_size
    status: Json = {
        "isStable": stable,
        "versionTarget": {"isReached": True},
        "currentInstanceStatuses": statuses,
    }
    body: Json = {
        "kind": "compute#instanceGroupManager",
        "id": mig.uid,
        "creationTimestamp": ts(mig.created),
        "name": mig.name,
        "zone": link(zone),
        "instanceTemplate": link(f"projects/{mig.project}/global/instanceTemplates/{mig.template}"),
        "versions": [
            {
                "name": "0",
                "instanceTemplate": link(
                    f"projects/{mig.project}/global/instanceTemplates/{mig.template}"
                ),
                "targetSize": {"calculated": mig.target_size},
            }
        ],
        "instanceGroup": link(f"{zone}/instanceGroups/{mig.name}"),
        "baseInstanceName": mig.base_name,
        "fingerprint": fingerprint([mig.name, mig.target_size]),
        "currentActions": actions,
        "status": status,
        "targetSize": mig.target_size,
        "listManagedInstancesResults": "PAGINATED",
        "selfLink": link(mig_path(mig)),
    }
    if mig.description:
        body["description"] = mig.description
    if mig.policy:
        region = catalog.region_of(mig.zone)
        body["resourcePolicies"] = {
            "workloadPolicy": link(
                f"projects/{mig.project}/regions/{region}/resourcePolicies/{mig.policy}"
            )
        }
        status["appliedAcceleratorTopologies"] = [
            {"acceleratorTopology": mig.topology, "state": _topology_state(mig, members)}
        ]
    return body


def _topology_state(mig: Mig, members: list[Instance]) -> str:
    running = sum(1 for i in members if i.status == "RUNNING")
    if running == mig.target_size and running == len(members):
        return "ACTIVE"
    if running == 0:
        return "ACTIVATING"
    return "ACTIVE_DEGRADED" if len(members) == mig.target_size else "INCOMPLETE"


def managed_instance_json(inst: Instance, template: str, errors: Json | None) -> Json:
    body: Json = {
        "instance": link(instance_path(inst)),
        "id": inst.uid,
        "name": inst.name,
        "instanceStatus": inst.status,
        "currentAction": ACTIONS.get(inst.status, "NONE"),
        "targetStatus": "RUNNING",
        "version": {
            "instanceTemplate": link(
                f"projects/{inst.project}/global/instanceTemplates/{template}"
            ),
            "name": "0",
        },
    }
    if inst.run_until is not None:
        body["scheduling"] = {"terminationTimestamp": ts(inst.run_until)}
    if errors is not None:
        body["lastAttempt"] = {"errors": errors}
    return body


def resize_path(rr: ResizeRequest) -> str:
    return (
        f"{zone_path(rr.project, rr.zone)}/instanceGroupManagers/{rr.mig}/resizeRequests/{rr.name}"
    )


def resize_json(rr: ResizeRequest) -> Json:
    path = resize_path(rr)
    body: Json = {
        "kind": "compute#instanceGroupManagerResizeRequest",
        "id": rr.uid,
        "creationTimestamp": ts(rr.created),
        "name": rr.name,
        "zone": link(zone_path(rr.project, rr.zone)),
        "state": rr.state,
        "selfLink": link(path),
        "selfLinkWithId": link(path.rsplit("/", 1)[0] + f"/{rr.uid}"),
    }
    if rr.names:
        body["instances"] = [{"name": n} for n in rr.names]
    else:
        body["resizeBy"] = rr.count
    if rr.run_seconds is not None:
        body["requestedRunDuration"] = {"seconds": str(rr.run_seconds)}
    if rr.description:
        body["description"] = rr.description
    status: Json = {}
    if rr.error is not None:
        status["error"] = rr.error
    if rr.last_error is not None:
        status["lastAttempt"] = {"error": rr.last_error}
    body["status"] = status
    return body


def policy_json(policy: ResourcePolicy) -> Json:
    path = f"projects/{policy.project}/regions/{policy.region}/resourcePolicies/{policy.name}"
    body: Json = {
        "kind": "compute#resourcePolicy",
        "id": policy.uid,
        "creationTimestamp": ts(policy.created),
        "name": policy.name,
        "region": link(f"projects/{policy.project}/regions/{policy.region}"),
        "selfLink": link(path),
        "status": "READY",
        "workloadPolicy": dict(policy.workload),
    }
    if policy.description:
        body["description"] = policy.description
    return body


def reservation_path(res: Reservation) -> str:
    return f"{zone_path(res.project, res.zone)}/reservations/{res.name}"


def reservation_json(res: Reservation) -> Json:
    subs = res.sub_blocks()
    count = sum(s.count for _, s in subs)
    in_use = sum(s.in_use for _, s in subs)
    degraded_blocks = sum(1 for b in res.blocks.values() if _block_degraded(b))
    body: Json = {
        "kind": "compute#reservation",
        "id": res.uid,
        "creationTimestamp": ts(res.created),
        "name": res.name,
        "zone": link(zone_path(res.project, res.zone)),
        "selfLink": link(reservation_path(res)),
        "status": "READY",
        "specificReservationRequired": True,
        "deploymentType": "DENSE",
        "specificReservation": {
            "count": str(count),
            "inUseCount": str(in_use),
            "assuredCount": str(count),
            "instanceProperties": {"machineType": res.machine_type},
        },
        "resourceStatus": {
            "reservationBlockCount": len(res.blocks),
            "healthInfo": {
                "healthStatus": "DEGRADED" if degraded_blocks else "HEALTHY",
                "healthyBlockCount": len(res.blocks) - degraded_blocks,
                "degradedBlockCount": degraded_blocks,
            },
            "reservationMaintenance": _group_maintenance([s for _, s in subs]),
        },
    }
    if res.description:
        body["description"] = res.description
    return body


def _block_degraded(block: Block) -> bool:
    return any(s.degraded for s in block.sub_blocks.values())


def _group_maintenance(subs: list[SubBlock]) -> Json:
    pending = sum(1 for s in subs if s.maintenance is not None and not s.ongoing)
    ongoing = sum(1 for s in subs if s.ongoing)
    out: Json = {
        "schedulingType": "GROUPED",
        "maintenancePendingCount": pending,
        "maintenanceOngoingCount": ongoing,
    }
    upcoming = next((s.maintenance for s in subs if s.maintenance is not None), None)
    if upcoming is not None:
        out["upcomingGroupMaintenance"] = dict(upcoming)
    return out


def block_json(res: Reservation, block: Block) -> Json:
    path = f"{reservation_path(res)}/reservationBlocks/{block.name}"
    subs = list(block.sub_blocks.values())
    degraded = sum(1 for s in subs if s.degraded)
    return {
        "kind": "compute#reservationBlock",
        "id": block.uid,
        "creationTimestamp": ts(block.created),
        "name": block.name,
        "zone": link(zone_path(res.project, res.zone)),
        "selfLink": link(path),
        "selfLinkWithId": link(path.rsplit("/", 1)[0] + f"/{block.uid}"),
        "status": "READY",
        "count": sum(s.count for s in subs),
        "inUseCount": sum(s.in_use for s in subs),
        "inUseHostCount": sum(s.in_use for s in subs),
        "reservationSubBlockCount": len(subs),
        "reservationSubBlockInUseCount": sum(1 for s in subs if s.in_use),
        "physicalTopology": {"cluster": f"{res.zone}-cluster", "block": block.uid[-8:]},
        "healthInfo": {
            "healthStatus": "DEGRADED" if degraded else "HEALTHY",
            "healthySubBlockCount": len(subs) - degraded,
            "degradedSubBlockCount": degraded,
        },
        "reservationMaintenance": _group_maintenance(subs),
    }


def sub_block_json(res: Reservation, block: Block, sub: SubBlock) -> Json:
    path = f"{reservation_path(res)}/reservationBlocks/{block.name}/reservationSubBlocks/{sub.name}"
    maintenance = _group_maintenance([sub])
    return {
        "kind": "compute#reservationSubBlock",
        "id": sub.uid,
        "creationTimestamp": ts(sub.created),
        "name": sub.name,
        "zone": link(zone_path(res.project, res.zone)),
        "selfLink": link(path),
        "selfLinkWithId": link(path.rsplit("/", 1)[0] + f"/{sub.uid}"),
        "status": "READY",
        "count": sub.count,
        "inUseCount": sub.in_use,
        "inUseHostCount": sub.in_use,
        "physicalTopology": {
            "cluster": f"{res.zone}-cluster",
            "block": block.uid[-8:],
            "subBlock": sub.uid[-8:],
        },
        "healthInfo": {
            "healthStatus": "DEGRADED" if sub.degraded else "HEALTHY",
            "healthyHostCount": sub.count - sub.degraded,
            "degradedHostCount": sub.degraded,
            "healthyInfraCount": 1,
            "degradedInfraCount": 0,
        },
        "reservationSubBlockMaintenance": maintenance,
    }


def future_json(fr: FutureReservation) -> Json:
    path = f"{zone_path(fr.project, fr.zone)}/futureReservations/{fr.name}"
    status: Json = {"procurementStatus": fr.procurement, "lockTime": ts(fr.start)}
    if fr.reservation:
        status["autoCreatedReservations"] = [
            link(f"{zone_path(fr.project, fr.zone)}/reservations/{fr.reservation}")
        ]
    return {
        "kind": "compute#futureReservation",
        "id": fr.uid,
        "creationTimestamp": ts(fr.created),
        "name": fr.name,
        "zone": link(zone_path(fr.project, fr.zone)),
        "selfLink": link(path),
        "selfLinkWithId": link(path.rsplit("/", 1)[0] + f"/{fr.uid}"),
        "specificSkuProperties": {
            "instanceProperties": {"machineType": fr.machine_type},
            "totalCount": str(fr.total),
        },
        "timeWindow": {"startTime": ts(fr.start), "endTime": ts(fr.end)},
        "planningStatus": "SUBMITTED",
        "deploymentType": "DENSE",
        "schedulingType": "GROUPED",
        "status": status,
    }

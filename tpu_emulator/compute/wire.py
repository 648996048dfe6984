"""Compute records in compute.v1.json's schemas: links, timestamps, zones, machine types,
instances and operations (the capacity resources are in wire_capacity)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tpu_emulator.compute import catalog
from tpu_emulator.compute.model import ComputeOp, Instance, fingerprint

Json = dict[str, Any]
# Compute's selfLinks name Google's host whatever endpoint served them (recorded traffic).
BASE = "https://www.googleapis.com/compute/v1/"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def link(path: str) -> str:
    return BASE + path


def ts(value: datetime) -> str:
    """Compute writes RFC 3339 with milliseconds and an offset (`...T09:00:00.000-07:00`)."""
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return f"{text[:-3]}+00:00"


def zone_path(project: str, zone: str) -> str:
    return f"projects/{project}/zones/{zone}"


def zone_json(project: str, zone: str, uid: str) -> Json:
    region = catalog.region_of(zone)
    return {
        "kind": "compute#zone",
        "id": uid,
        "creationTimestamp": ts(EPOCH),
        "name": zone,
        "description": zone,
        "status": "UP",
        "region": link(f"projects/{project}/regions/{region}"),
        "selfLink": link(zone_path(project, zone)),
        "availableCpuPlatforms": list(catalog.CPU_PLATFORMS),
        "supportsPzs": False,
    }


def machine_type_json(project: str, zone: str, spec: catalog.MachineSpec, uid: str) -> Json:
    return {
        "kind": "compute#machineType",
        "id": uid,
        "creationTimestamp": ts(EPOCH),
        "name": spec.name,
        "description": f"{spec.cpus} vCPUs, {spec.memory_gib} GB RAM, {spec.chips} TPU chips",
        "guestCpus": spec.cpus,
        "memoryMb": spec.memory_mb,
        "imageSpaceGb": 0,
        "maximumPersistentDisks": 128,
        "maximumPersistentDisksSizeGb": "263168",
        "zone": zone,
        "selfLink": link(f"{zone_path(project, zone)}/machineTypes/{spec.name}"),
        "isSharedCpu": False,
        "accelerators": [
            {"guestAcceleratorType": spec.accelerator, "guestAcceleratorCount": spec.chips}
        ],
        "architecture": "X86_64",
    }


def instance_path(inst: Instance) -> str:
    return f"{zone_path(inst.project, inst.zone)}/instances/{inst.name}"


def _fixed(inst: Instance) -> Json:
    """What an instance shows that never changes after it is made (rendered once)."""
    zone = zone_path(inst.project, inst.zone)
    body: Json = {
        "kind": "compute#instance",
        "id": inst.uid,
        "creationTimestamp": ts(inst.created),
        "name": inst.name,
        "machineType": link(f"{zone}/machineTypes/{inst.machine_type}"),
        "zone": link(zone),
        "canIpForward": False,
        "networkInterfaces": _nics(inst),
        "disks": _disks(inst),
        "metadata": {"kind": "compute#metadata", **_fingerprinted(inst.spec.get("metadata"))},
        "tags": _fingerprinted(inst.spec.get("tags")),
        "selfLink": link(instance_path(inst)),
        "cpuPlatform": catalog.CPU_PLATFORMS[len(inst.name) % len(catalog.CPU_PLATFORMS)],
        "startRestricted": False,
        "deletionProtection": bool(inst.spec.get("deletionProtection", False)),
        "fingerprint": fingerprint([inst.name, inst.machine_type, inst.scheduling]),
    }
    for key in ("description", "serviceAccounts", "reservationAffinity", "resourcePolicies"):
        if key in inst.spec:
            body[key] = inst.spec[key]
    return body


def instance_json(inst: Instance) -> Json:
    if inst.fixed is None:
        inst.fixed = _fixed(inst)
    body: Json = dict(inst.fixed)
    body["status"] = inst.status
    body["scheduling"] = dict(inst.scheduling)
    body["labels"] = dict(inst.labels)
    body["labelFingerprint"] = inst.label_fingerprint
    body["resourceStatus"] = _resource_status(inst)
    if inst.status_message:
        body["statusMessage"] = inst.status_message
    if inst.last_start is not None:
        body["lastStartTimestamp"] = ts(inst.last_start)
    if inst.last_stop is not None:
        body["lastStopTimestamp"] = ts(inst.last_stop)
    return body


def _fingerprinted(given: Json | None) -> Json:
    out = dict(given or {})
    out["fingerprint"] = fingerprint(out.get("items", []))
    return out


def _nics(inst: Instance) -> list[Json]:
    given = inst.spec.get("networkInterfaces") or [{}]
    region = catalog.region_of(inst.zone)
    nics = []
    for i, nic in enumerate(given):
        network = nic.get("network") or f"projects/{inst.project}/global/networks/default"
        subnet = (
            nic.get("subnetwork") or f"projects/{inst.project}/regions/{region}/subnetworks/default"
        )
        out: Json = {
            "kind": "compute#networkInterface",
            "network": network if network.startswith("http") else link(network),
            "subnetwork": subnet if subnet.startswith("http") else link(subnet),
            "networkIP": nic.get("networkIP") or _address(inst, i),
            "name": f"nic{i}",
            "fingerprint": fingerprint([inst.name, i]),
            "stackType": "IPV4_ONLY",
        }
        if "accessConfigs" in nic:
            out["accessConfigs"] = nic["accessConfigs"]
        nics.append(out)
    return nics


def _address(inst: Instance, nic: int) -> str:
    value = int(inst.uid) % (254 * 254)
    return f"10.{128 + nic}.{value // 254}.{value % 254 + 1}"


def _disks(inst: Instance) -> list[Json]:
    given = inst.spec.get("disks") or [{"boot": True, "autoDelete": True}]
    zone = zone_path(inst.project, inst.zone)
    disks = []
    for i, disk in enumerate(given):
        name = inst.name if i == 0 else f"{inst.name}-{i}"
        size = (disk.get("initializeParams") or {}).get("diskSizeGb") or disk.get("diskSizeGb")
        disks.append(
            {
                "kind": "compute#attachedDisk",
                "type": disk.get("type", "PERSISTENT"),
                "mode": disk.get("mode", "READ_WRITE"),
                "source": disk.get("source") or link(f"{zone}/disks/{name}"),
                "deviceName": disk.get("deviceName", f"persistent-disk-{i}"),
                "index": i,
                "boot": bool(disk.get("boot", i == 0)),
                "autoDelete": bool(disk.get("autoDelete", i == 0)),
                "interface": disk.get("interface", "NVME"),
                "diskSizeGb": str(size or 100),
            }
        )
    return disks


def _resource_status(inst: Instance) -> Json:
    status: Json = {}
    if inst.host:
        status["physicalHost"] = "/" + "/".join(
            inst.host[k] for k in ("cluster", "block", "subblock", "host") if k in inst.host
        )
        status["physicalHostTopology"] = dict(inst.host)
    if inst.maintenance is not None:
        status["upcomingMaintenance"] = dict(inst.maintenance)
    if inst.consumed is not None:
        reservation, block, sub_block = inst.consumed
        base = f"projects/{inst.project}/zones/{inst.zone}/reservations/{reservation}"
        status["reservationConsumptionInfo"] = {
            "consumedReservation": base,
            "consumedReservationBlock": f"{base}/reservationBlocks/{block}",
            "consumedReservationSubBlock": (
                f"{base}/reservationBlocks/{block}/reservationSubBlocks/{sub_block}"
            ),
        }
    if inst.run_until is not None:
        status["scheduling"] = {"terminationTimestamp": ts(inst.run_until)}
    return status


def op_json(op: ComputeOp) -> Json:
    zone = zone_path(op.project, op.zone)
    body: Json = {
        "kind": "compute#operation",
        "id": op.uid,
        "name": op.name,
        "zone": link(zone),
        "operationType": op.op_type,
        "targetLink": op.target_link,
        "targetId": op.target_id,
        "status": op.status,
        "user": op.user,
        "progress": 100 if op.status == "DONE" else 0,
        "insertTime": ts(op.created),
        "startTime": ts(op.created),
        "selfLink": link(f"{zone}/operations/{op.name}"),
    }
    if op.status_message:
        body["statusMessage"] = op.status_message
    if op.ended is not None:
        body["endTime"] = ts(op.ended)
    if op.error is not None:
        body.update(op.error)
    return body

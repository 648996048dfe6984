"""What Compute Engine does on its own, driven by the admin API and a fake clock: preemption,
host errors and repair, the end of a run, flex-start queues, reservation health, maintenance;
the seeded fleet's shape; reset and stats."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from devstack.admin import admin
from devstack.clock import FakeClock
from tests.conformance.compute_support import (
    BLOCK_PARENT,
    COMPUTE,
    FLEX,
    FLEX_ZONE,
    GKE,
    OP_SECONDS,
    PROJECT,
    SLICE,
    SLICE_ZONE,
    SPARE_SUB_BLOCK,
    api_client,
    seeded,
    serving,
)
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer

ZONE_PATH = f"projects/{PROJECT}/zones"


@pytest.fixture
def emulator(clock: FakeClock) -> Emulator:
    return seeded(clock)


@pytest.fixture
def server(emulator: Emulator) -> Iterator[RunningServer]:
    with serving(emulator) as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Any:
    return api_client(server)


def vms(api: Any, project: str = PROJECT, expression: str | None = None) -> list[dict[str, Any]]:
    request = api.instances().aggregatedList(project=project, filter=expression)
    found = []
    while request is not None:
        page = request.execute()
        found += [vm for s in page["items"].values() for vm in s.get("instances", [])]
        request = api.instances().aggregatedList_next(request, page)
    return found


def system_ops(api: Any, zone: str, kind: str) -> list[dict[str, Any]]:
    listed = api.zoneOperations().list(
        project=PROJECT, zone=zone, filter=f'operationType = "{kind}"'
    )
    return list(listed.execute().get("items", []))


def inject(server: RunningServer, path: str, body: dict[str, Any]) -> Any:
    return admin(server, f"{ZONE_PATH}/{path}:inject", body)


def test_the_seeded_fleet(emulator: Emulator, api: Any) -> None:
    stats = emulator.stats_json()
    assert stats["projects"] == stats["computeProjects"] == ["ml-prod", "ml-research", "ml-sandbox"]
    assert stats["nodes"] == 60 and stats["instances"] == 60 + 16 + 2 + 4
    fleet = [vm for p in stats["computeProjects"] for vm in vms(api, p)]
    models = [vm["scheduling"]["provisioningModel"] for vm in fleet]
    assert {"STANDARD", "SPOT", "FLEX_START", "RESERVATION_BOUND"} <= set(models)
    preempted = [vm for vm in fleet if vm.get("statusMessage") == "Instance was preempted."]
    assert len(preempted) == 1 and preempted[0]["status"] == "TERMINATED"
    assert preempted[0]["scheduling"]["provisioningModel"] == "SPOT"
    maintained = [vm for vm in fleet if "upcomingMaintenance" in vm["resourceStatus"]]
    assert len(maintained) == 1 and maintained[0]["status"] == "RUNNING"
    gke = [vm for vm in fleet if "goog-k8s-cluster-name" in vm["labels"]]
    assert len(gke) == 4 and {vm["labels"]["goog-k8s-node-pool-name"] for vm in gke} == {
        "tpu-v6e-pool"
    }
    slice_hosts = vms(api, expression="resourceStatus.reservationConsumptionInfo:*")
    assert len(slice_hosts) == 16
    assert {vm["resourceStatus"]["physicalHostTopology"]["subblock"] for vm in slice_hosts} == {
        f"{BLOCK_PARENT.rsplit('/', 1)[1]}-subblock-0001"
    }
    assert (
        Emulator(clock=FakeClock(), fleet=60, projects=3).stats_json()["instances"]
        == stats["instances"]
    )
    names = sorted(vm["name"] for vm in fleet)
    again = Emulator(clock=FakeClock(), fleet=60, projects=3)
    assert (
        sorted(
            k.rsplit("/", 1)[1]
            for p in stats["computeProjects"]
            for k in again.compute.instance_keys(p)
        )
        == names
    )


def test_a_clean_fleet_has_no_trouble(clock: FakeClock) -> None:
    clean = Emulator(clock=clock, fleet=60, projects=3, clean=True)
    assert all(
        i.status == "RUNNING" and i.maintenance is None for i in clean.compute.instances.values()
    )
    assert all(
        s.degraded == 0 for r in clean.compute.reservations.values() for _, s in r.sub_blocks()
    )


def test_no_fleet_no_compute(clock: FakeClock) -> None:
    empty = Emulator(clock=clock)
    assert empty.stats_json()["instances"] == 0 and empty.stats_json()["computeProjects"] == []


def test_preempting_a_spot_vm(api: Any, server: RunningServer) -> None:
    spot = vms(api, expression='(scheduling.provisioningModel = "SPOT") AND (status = "RUNNING")')[
        0
    ]
    zone = spot["zone"].rsplit("/", 1)[1]
    before = len(system_ops(api, zone, "compute.instances.preempted"))
    after = inject(server, f"{zone}/instances/{spot['name']}", {"preempted": True})
    assert after["status"] == "TERMINATED" and after["statusMessage"] == "Instance was preempted."
    events = system_ops(api, zone, "compute.instances.preempted")
    assert len(events) == before + 1 and events[-1]["targetLink"] == spot["selfLink"]
    assert events[-1]["status"] == "DONE" and events[-1]["user"] == "system"
    COMPUTE.check(events[-1], "Operation")
    standard = vms(api, expression='scheduling.provisioningModel = "STANDARD"')[0]
    with pytest.raises(Exception, match="400"):
        inject(
            server,
            f"{standard['zone'].rsplit('/', 1)[1]}/instances/{standard['name']}",
            {"preempted": True},
        )


def test_a_host_error_repairs_then_runs_again(
    api: Any, server: RunningServer, clock: FakeClock, emulator: Emulator
) -> None:
    host = vms(api, expression=f'name = "{SLICE}-*"')[0]
    broken = inject(server, f"{SLICE_ZONE}/instances/{host['name']}", {"hostError": True})
    assert broken["status"] == "REPAIRING"
    assert system_ops(api, SLICE_ZONE, "compute.instances.hostError")[-1]["targetId"] == host["id"]
    sub = api.reservationSubBlocks().get(
        project=PROJECT, zone=SLICE_ZONE, parentName=BLOCK_PARENT,
        reservationSubBlock=host["resourceStatus"]["physicalHostTopology"]["subblock"],
    ).execute()["resource"]  # fmt: skip
    assert sub["healthInfo"]["degradedHostCount"] == 1
    clock.advance(emulator.compute.repair_seconds + 1)
    fixed = api.instances().get(project=PROJECT, zone=SLICE_ZONE, instance=host["name"]).execute()
    assert fixed["status"] == "RUNNING"
    assert fixed["resourceStatus"]["physicalHost"] != host["resourceStatus"]["physicalHost"]


def test_a_flex_start_queue(api: Any, server: RunningServer, clock: FakeClock) -> None:
    requests = api.instanceGroupManagerResizeRequests()
    where = {"project": PROJECT, "zone": FLEX_ZONE, "instanceGroupManager": FLEX}
    admin(server, "faults", {"stockout": [FLEX_ZONE]})
    body = {"name": "waits", "resizeBy": 2, "requestedRunDuration": {"seconds": "600"}}
    requests.insert(**where, body=body).execute()
    clock.advance(OP_SECONDS * 5)
    assert requests.get(**where, resizeRequest="waits").execute()["state"] == "ACCEPTED"
    admin(server, "faults", {"stockout": []})  # capacity is back
    assert requests.get(**where, resizeRequest="waits").execute()["state"] == "CREATING"
    group = api.instanceGroupManagers().get(**where).execute()
    assert group["targetSize"] == 4 and group["currentActions"]["creating"] == 2
    clock.advance(OP_SECONDS + 1)
    assert requests.get(**where, resizeRequest="waits").execute()["state"] == "SUCCEEDED"
    managed = (
        api.instanceGroupManagers().listManagedInstances(**where).execute()["managedInstances"]
    )
    assert sorted(m["currentAction"] for m in managed) == ["NONE"] * 4
    clock.advance(600)  # the requested run is over: the group deletes those VMs
    left = api.instanceGroupManagers().listManagedInstances(**where).execute()["managedInstances"]
    assert len(left) == 2 and api.instanceGroupManagers().get(**where).execute()["targetSize"] == 2
    assert requests.get(**where, resizeRequest="waits").execute()["state"] == "SUCCEEDED"
    clock.advance(4 * 3600)  # the seeded grant's 4 hours end too
    assert (
        "managedInstances"
        not in api.instanceGroupManagers().listManagedInstances(**where).execute()
    )


def test_quota_fails_a_resize_request(api: Any, server: RunningServer, clock: FakeClock) -> None:
    requests = api.instanceGroupManagerResizeRequests()
    where = {"project": PROJECT, "zone": FLEX_ZONE, "instanceGroupManager": FLEX}
    admin(server, "faults", {"quota": [FLEX_ZONE]})
    requests.insert(**where, body={"name": "no-quota", "resizeBy": 8}).execute()
    clock.advance(OP_SECONDS + 1)
    failed = requests.get(**where, resizeRequest="no-quota").execute()
    COMPUTE.check(failed, "InstanceGroupManagerResizeRequest")
    assert failed["state"] == "FAILED"
    assert failed["status"]["error"]["errors"][0]["code"] == "QUOTA_EXCEEDED"


@pytest.mark.parametrize(
    ("state", "expected", "hosts"),
    [("stuck", "ACCEPTED", 2), ("granted", "SUCCEEDED", 6), ("failed", "FAILED", 2)],
)
def test_injected_resize_request_states(
    api: Any, server: RunningServer, clock: FakeClock, state: str, expected: str, hosts: int
) -> None:
    path = f"{FLEX_ZONE}/instanceGroupManagers/{FLEX}/resizeRequests/flex-v6e-queued"
    assert inject(server, path, {"state": state})["state"] == expected
    clock.advance(OP_SECONDS * 10)
    where = {"project": PROJECT, "zone": FLEX_ZONE, "instanceGroupManager": FLEX}
    got = api.instanceGroupManagerResizeRequests().get(**where, resizeRequest="flex-v6e-queued")
    assert got.execute()["state"] == expected
    assert api.instanceGroupManagers().get(**where).execute()["targetSize"] == hosts


def test_a_broken_slice_and_its_reservation(
    api: Any, server: RunningServer, clock: FakeClock
) -> None:
    group = inject(server, f"{SLICE_ZONE}/instanceGroupManagers/{SLICE}", {"brokenHosts": 3})
    assert group["status"]["currentInstanceStatuses"] == {"running": 13, "repairing": 3}
    at = f"{SLICE_ZONE}/{BLOCK_PARENT}/reservationSubBlocks/{SPARE_SUB_BLOCK}"
    window = {"windowStartTime": "2026-12-01T00:00:00Z", "windowEndTime": "2026-12-01T04:00:00Z"}
    sub = inject(server, at, {"degradedHosts": 0, "upcomingMaintenance": window})
    assert sub["healthInfo"] == {
        "healthStatus": "HEALTHY", "healthyHostCount": 16, "degradedHostCount": 0,
        "healthyInfraCount": 1, "degradedInfraCount": 0,
    }  # fmt: skip
    block = api.reservationBlocks().get(
        project=PROJECT, zone=SLICE_ZONE, reservation=BLOCK_PARENT.split("/")[1],
        reservationBlock=BLOCK_PARENT.rsplit("/", 1)[1],
    ).execute()["resource"]  # fmt: skip
    assert block["healthInfo"]["degradedSubBlockCount"] == 1  # the slice's, with 3 hosts down
    maintenance = sub["reservationSubBlockMaintenance"]["upcomingGroupMaintenance"]
    assert maintenance["windowStartTime"] == "2026-12-01T00:00:00Z"
    with pytest.raises(Exception, match="400"):
        inject(server, at, {"degradedHosts": 99})


def test_maintenance_on_an_instance(api: Any, server: RunningServer, clock: FakeClock) -> None:
    vm = vms(api, expression=f'name = "{GKE[:-4]}-*"')[0]
    window = {"windowStartTime": "2026-12-01T00:00:00Z", "canReschedule": False}
    shown = inject(server, f"{FLEX_ZONE}/instances/{vm['name']}", {"upcomingMaintenance": window})
    assert shown["resourceStatus"]["upcomingMaintenance"]["maintenanceStatus"] == "PENDING"
    listed = vms(api, expression="resourceStatus.upcomingMaintenance:*")
    assert vm["name"] in {v["name"] for v in listed}
    api.instances().performMaintenance(
        project=PROJECT, zone=FLEX_ZONE, instance=vm["name"]
    ).execute()
    ongoing = api.instances().get(project=PROJECT, zone=FLEX_ZONE, instance=vm["name"]).execute()
    assert ongoing["resourceStatus"]["upcomingMaintenance"]["maintenanceStatus"] == "ONGOING"
    clock.advance(OP_SECONDS + 1)
    done = api.instances().get(project=PROJECT, zone=FLEX_ZONE, instance=vm["name"]).execute()
    assert done["status"] == "RUNNING" and "upcomingMaintenance" not in done["resourceStatus"]
    with pytest.raises(Exception, match="400"):
        inject(
            server,
            f"{FLEX_ZONE}/instances/{vm['name']}",
            {"upcomingMaintenance": {"type": "SOMETIMES"}},
        )


def test_deleting_a_group_member_brings_it_back(api: Any, clock: FakeClock) -> None:
    where = {"project": PROJECT, "zone": FLEX_ZONE}
    member = vms(api, expression=f'name = "{GKE[:-4]}-*"')[0]
    api.instances().delete(**where, instance=member["name"]).execute()
    clock.advance(OP_SECONDS + 1)
    again = api.instances().get(**where, instance=member["name"]).execute()
    assert again["id"] != member["id"] and again["status"] == "PROVISIONING"
    clock.advance(OP_SECONDS + 1)
    assert api.instances().get(**where, instance=member["name"]).execute()["status"] == "RUNNING"


def test_a_run_ends_by_its_termination_action(api: Any, clock: FakeClock) -> None:
    where = {"project": PROJECT, "zone": SLICE_ZONE}
    for name, action in (("ends-stopped", "STOP"), ("ends-deleted", "DELETE")):
        body = {
            "name": name,
            "machineType": f"zones/{SLICE_ZONE}/machineTypes/tpu7x-standard-4t",
            "scheduling": {
                "maxRunDuration": {"seconds": "3600"},
                "instanceTerminationAction": action,
            },
        }
        api.instances().insert(**where, body=body).execute()
    clock.advance(OP_SECONDS + 1)
    running = api.instances().get(**where, instance="ends-stopped").execute()
    assert running["resourceStatus"]["scheduling"]["terminationTimestamp"]
    clock.advance(3600)
    assert api.instances().get(**where, instance="ends-stopped").execute()["status"] == "TERMINATED"
    names = {vm["name"] for vm in vms(api, expression='name = "ends-*"')}
    assert names == {"ends-stopped"}


def test_reset_restores_the_seeded_compute_fleet(
    api: Any, server: RunningServer, emulator: Emulator, clock: FakeClock
) -> None:
    seeded_count = emulator.stats_json()["instances"]
    first = vms(api)[0]
    zone = first["zone"].rsplit("/", 1)[1]
    api.instances().delete(project=PROJECT, zone=zone, instance=first["name"]).execute()
    inject(server, f"{SLICE_ZONE}/instanceGroupManagers/{SLICE}", {"brokenHosts": 16})
    admin(server, "reset", {})
    assert emulator.stats_json()["instances"] == seeded_count
    assert emulator.stats_json()["requests"] == {}
    group = api.instanceGroupManagers().get(
        project=PROJECT, zone=SLICE_ZONE, instanceGroupManager=SLICE
    )
    assert group.execute()["status"]["isStable"]
    assert admin(server, "stats")["requests"] == {"compute.instanceGroupManagers.get": 1}


def test_a_resize_request_with_instance_names(api: Any, clock: FakeClock) -> None:
    requests = api.instanceGroupManagerResizeRequests()
    where = {"project": PROJECT, "zone": FLEX_ZONE, "instanceGroupManager": FLEX}
    named = {"name": "named", "instances": [{"name": "flex-a"}, {"name": "flex-b"}]}
    requests.insert(**where, body=named).execute()
    clock.advance(2 * OP_SECONDS + 1)
    got = requests.get(**where, resizeRequest="named").execute()
    assert got["state"] == "SUCCEEDED" and got["instances"] == [
        {"name": "flex-a"},
        {"name": "flex-b"},
    ]
    members = (
        api.instanceGroupManagers().listManagedInstances(**where).execute()["managedInstances"]
    )
    assert {"flex-a", "flex-b"} <= {m["name"] for m in members}
    for body in (
        {"name": "again", "instances": [{"name": "flex-a"}]},  # that instance exists
        {"name": "both", "resizeBy": 1, "instances": [{"name": "flex-c"}]},
        {"name": "none"},
    ):
        with pytest.raises(HttpError) as refused:
            requests.insert(**where, body=body).execute()
        assert refused.value.resp.status == 400

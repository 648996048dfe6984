"""`tpu-bot emulator` as a user runs it, driven through its Compute Engine API by a plain
google-cloud-compute program and a plain googleapiclient program."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import httplib2
import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1
from googleapiclient import discovery

from devstack.replicas import emulator_process

PROJECT, SLICE_ZONE, FLEX_ZONE = "ml-prod", "us-central1-c", "us-east5-b"
BLOCK = "ironwood-reservation-block-0001"
PARENT = f"reservations/ironwood-reservation/reservationBlocks/{BLOCK}"


@pytest.fixture
def emulator_url() -> Iterator[str]:
    # --op-seconds 0: operations come back DONE, so extended operations need no polling.
    with emulator_process("--fleet", "40", "--projects", "3", "--op-seconds", "0") as url:
        yield url


def stats(url: str) -> Any:
    with urllib.request.urlopen(f"{url}/emulator/v1/stats", timeout=30) as response:
        return json.loads(response.read())


def client(kind: Any, url: str) -> Any:
    return kind(credentials=AnonymousCredentials(), client_options={"api_endpoint": url})


def test_google_cloud_compute_program(emulator_url: str) -> None:
    instances = client(compute_v1.InstancesClient, emulator_url)
    where = {"project": PROJECT, "zone": FLEX_ZONE}
    vm = compute_v1.Instance(
        name="cli-vm",
        machine_type=f"zones/{FLEX_ZONE}/machineTypes/ct6e-standard-4t",
        labels={"owner": "cli"},
    )
    instances.insert(**where, instance_resource=vm).result(timeout=30)
    got = instances.get(**where, instance="cli-vm")
    assert got.status == "RUNNING"
    relabel = compute_v1.InstancesSetLabelsRequest(
        labels={"owner": "bot"}, label_fingerprint=got.label_fingerprint
    )
    instances.set_labels(
        **where, instance="cli-vm", instances_set_labels_request_resource=relabel
    ).result(timeout=30)
    instances.stop(**where, instance="cli-vm").result(timeout=30)
    assert instances.get(**where, instance="cli-vm").status == "TERMINATED"
    instances.start(**where, instance="cli-vm").result(timeout=30)
    mine = compute_v1.AggregatedListInstancesRequest(project=PROJECT, filter='labels.owner = "bot"')
    assert [v.name for _, s in instances.aggregated_list(request=mine) for v in s.instances] == [
        "cli-vm"
    ]
    instances.delete(**where, instance="cli-vm").result(timeout=30)
    with pytest.raises(exceptions.NotFound):
        instances.get(**where, instance="cli-vm")

    groups = client(compute_v1.InstanceGroupManagersClient, emulator_url)
    managed = list(
        groups.list_managed_instances(
            project=PROJECT, zone=SLICE_ZONE, instance_group_manager="ironwood-slice-a"
        )
    )
    assert len(managed) == 16 and {m.instance_status for m in managed} == {"RUNNING"}

    resize = client(compute_v1.InstanceGroupManagerResizeRequestsClient, emulator_url)
    flex = {"project": PROJECT, "zone": FLEX_ZONE, "instance_group_manager": "flex-v6e"}
    request = compute_v1.InstanceGroupManagerResizeRequest(
        name="cli-rr", resize_by=1, requested_run_duration=compute_v1.Duration(seconds=1800)
    )
    resize.insert(**flex, instance_group_manager_resize_request_resource=request).result(timeout=30)
    assert resize.get(**flex, resize_request="cli-rr").state == "SUCCEEDED"
    resize.cancel(**flex, resize_request="flex-v6e-queued").result(timeout=30)
    resize.delete(**flex, resize_request="flex-v6e-queued").result(timeout=30)
    assert {r.name for r in resize.list(**flex)} == {"flex-v6e-granted", "cli-rr"}

    subs = client(compute_v1.ReservationSubBlocksClient, emulator_url)
    at = {"project": PROJECT, "zone": SLICE_ZONE, "parent_name": PARENT}
    health = [s.health_info.health_status for s in subs.list(**at)]
    assert health == ["HEALTHY", "DEGRADED"]
    counted = stats(emulator_url)["requests"]
    assert counted["compute.instances.insert"] >= 1
    assert counted["compute.reservationSubBlocks.list"] >= 1


def test_googleapiclient_program(emulator_url: str) -> None:
    compute = discovery.build(
        "compute",
        "v1",
        static_discovery=True,
        http=httplib2.Http(timeout=30),
        client_options={"api_endpoint": f"{emulator_url}/compute/v1/"},
    )
    where = {"project": "ml-research", "zone": SLICE_ZONE}
    body = {
        "name": "discovery-vm",
        "machineType": f"zones/{SLICE_ZONE}/machineTypes/tpu7x-standard-4t",
        "scheduling": {"provisioningModel": "SPOT"},
    }
    op = compute.instances().insert(**where, body=body).execute()
    done = compute.zoneOperations().wait(**where, operation=op["name"]).execute()
    assert done["status"] == "DONE" and "error" not in done
    request = compute.instances().aggregatedList(project="ml-research", maxResults=3)
    seen = []
    while request is not None:
        page = request.execute()
        seen += [vm["name"] for s in page["items"].values() for vm in s.get("instances", [])]
        request = compute.instances().aggregatedList_next(request, page)
    assert "discovery-vm" in seen and len(seen) == len(set(seen)) > 3

    groups = compute.instanceGroupManagers()
    slice_group = groups.get(
        project=PROJECT, zone=SLICE_ZONE, instanceGroupManager="ironwood-slice-a"
    ).execute()
    assert (
        slice_group["status"]["appliedAcceleratorTopologies"][0]["acceleratorTopology"] == "4x4x4"
    )
    listed = groups.listManagedInstances(
        project=PROJECT, zone=SLICE_ZONE, instanceGroupManager="ironwood-slice-a"
    ).execute()
    assert len(listed["managedInstances"]) == 16
    flex = {"project": PROJECT, "zone": FLEX_ZONE, "instanceGroupManager": "flex-v6e"}
    compute.instanceGroupManagerResizeRequests().insert(
        **flex, body={"name": "discovery-rr", "resizeBy": 2}
    ).execute()
    got = (
        compute.instanceGroupManagerResizeRequests()
        .get(**flex, resizeRequest="discovery-rr")
        .execute()
    )
    assert got["state"] == "SUCCEEDED"

    reservation = (
        compute.reservations()
        .get(project=PROJECT, zone=SLICE_ZONE, reservation="ironwood-reservation")
        .execute()
    )
    assert reservation["specificReservation"]["inUseCount"] == "16"
    sub = (
        compute.reservationSubBlocks()
        .get(
            project=PROJECT,
            zone=SLICE_ZONE,
            parentName=PARENT,
            reservationSubBlock=f"{BLOCK}-subblock-0002",
        )
        .execute()["resource"]
    )
    assert (
        sub["reservationSubBlockMaintenance"]["upcomingGroupMaintenance"]["maintenanceStatus"]
        == "PENDING"
    )

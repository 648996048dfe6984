"""Every served method of compute.v1.json through google-api-python-client, each response
validated against the discovery document's schemas; Compute's error shape; unreachable zones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httplib2
import pytest
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from devstack.admin import admin
from devstack.clock import FakeClock
from tests.conformance.compute_support import (
    BLOCK,
    BLOCK_PARENT,
    COMPUTE,
    FLEX,
    FLEX_ZONE,
    OP_SECONDS,
    PROJECT,
    RESERVATION,
    SLICE,
    SLICE_ZONE,
    SPARE_SUB_BLOCK,
    api_client,
    seeded,
    serving,
)
from tpu_emulator import Emulator
from tpu_emulator.compute.routes import HANDLERS
from tpu_emulator.http import RunningServer

check = COMPUTE.check


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


def whole(collection: Any, response_schema: str, **kwargs: Any) -> list[Any]:
    """Every page of an aggregated list, each page validated; the items of every scope."""
    found, request = [], collection.aggregatedList(**kwargs)
    while request is not None:
        page = request.execute()
        check(page, response_schema)
        for scoped in page.get("items", {}).values():
            found += next((v for k, v in scoped.items() if k != "warning"), [])
        request = collection.aggregatedList_next(request, page)
    return found


def finish(api: Any, clock: FakeClock, op: dict[str, Any]) -> dict[str, Any]:
    check(op, "Operation")
    clock.advance(OP_SECONDS + 1)
    zone = op["zone"].rsplit("/", 1)[1]
    done = api.zoneOperations().get(project=PROJECT, zone=zone, operation=op["name"]).execute()
    check(done, "Operation")
    assert done["status"] == "DONE" and "error" not in done, done
    return dict(done)


def test_zones_and_machine_types_conform(api: Any) -> None:
    zones = api.zones().list(project=PROJECT).execute()
    check(zones, "ZoneList")
    check(api.zones().get(project=PROJECT, zone=SLICE_ZONE).execute(), "Zone")
    types = api.machineTypes().list(project=PROJECT, zone=FLEX_ZONE).execute()
    check(types, "MachineTypeList")
    assert {t["name"] for t in types["items"]} >= {"ct6e-standard-4t", "ct5p-hightpu-4t"}
    ironwood = (
        api.machineTypes()
        .get(project=PROJECT, zone=SLICE_ZONE, machineType="tpu7x-standard-4t")
        .execute()
    )
    check(ironwood, "MachineType")
    assert ironwood["accelerators"] == [
        {"guestAcceleratorType": "tpu7x", "guestAcceleratorCount": 4}
    ]
    every = whole(api.machineTypes(), "MachineTypeAggregatedList", project=PROJECT, maxResults=5)
    assert len({(t["zone"], t["name"]) for t in every}) == len(every) > 10


def test_instance_methods_conform(api: Any, clock: FakeClock) -> None:
    instances = api.instances()
    seeded_vms = whole(instances, "InstanceAggregatedList", project=PROJECT, maxResults=7)
    assert seeded_vms and all(vm["kind"] == "compute#instance" for vm in seeded_vms)
    check(instances.list(project=PROJECT, zone=FLEX_ZONE).execute(), "InstanceList")
    body = {
        "name": "conformance-1",
        "machineType": f"zones/{FLEX_ZONE}/machineTypes/ct6e-standard-4t",
        "labels": {"team": "nlp"},
        "scheduling": {"provisioningModel": "SPOT"},
        "disks": [{"boot": True, "initializeParams": {"diskSizeGb": "200"}}],
    }
    created = instances.insert(project=PROJECT, zone=FLEX_ZONE, body=body, requestId="r-1")
    op = created.execute()
    assert op["operationType"] == "insert" and op["status"] == "RUNNING"
    finish(api, clock, op)
    vm = instances.get(project=PROJECT, zone=FLEX_ZONE, instance="conformance-1").execute()
    check(vm, "Instance")
    assert vm["status"] == "RUNNING" and vm["scheduling"]["provisioningModel"] == "SPOT"
    assert vm["disks"][0]["diskSizeGb"] == "200"
    where = {"project": PROJECT, "zone": FLEX_ZONE, "instance": "conformance-1"}
    labels = {"labels": {"team": "rl"}, "labelFingerprint": vm["labelFingerprint"]}
    for call in (
        lambda: instances.setLabels(**where, body=labels),
        lambda: instances.stop(**where),
        lambda: instances.start(**where),
        lambda: instances.reportHostAsFaulty(
            **where,
            body={"disruptionSchedule": "FUTURE", "faultReasons": [{"behavior": "PERFORMANCE"}]},
        ),
        lambda: instances.performMaintenance(**where),
    ):
        finish(api, clock, call().execute())
    ops = api.zoneOperations()
    listed = ops.list(project=PROJECT, zone=FLEX_ZONE, orderBy="creationTimestamp desc").execute()
    check(listed, "OperationList")
    assert [o["operationType"] for o in listed["items"][:2]] == [
        "performMaintenance",
        "reportHostAsFaulty",
    ]
    deleting = instances.delete(**where).execute()
    clock.advance(OP_SECONDS + 1)
    waited = ops.wait(project=PROJECT, zone=FLEX_ZONE, operation=deleting["name"]).execute()
    check(waited, "Operation")
    assert waited["status"] == "DONE" and waited["progress"] == 100
    # No response schema: googleapiclient hands back the raw body.
    forgotten = ops.delete(project=PROJECT, zone=FLEX_ZONE, operation=deleting["name"]).execute()
    assert forgotten == b"{}"
    with pytest.raises(HttpError) as gone:
        instances.get(**where).execute()
    assert gone.value.resp.status == 404


def test_group_and_resize_request_methods_conform(api: Any, clock: FakeClock) -> None:
    groups = api.instanceGroupManagers()
    check(groups.list(project=PROJECT, zone=SLICE_ZONE).execute(), "InstanceGroupManagerList")
    slice_group = groups.get(project=PROJECT, zone=SLICE_ZONE, instanceGroupManager=SLICE).execute()
    check(slice_group, "InstanceGroupManager")
    assert slice_group["resourcePolicies"]["workloadPolicy"].endswith("/ironwood-4x4x4")
    every = whole(groups, "InstanceGroupManagerAggregatedList", project=PROJECT)
    assert {g["name"] for g in every} >= {SLICE, FLEX}
    managed = groups.listManagedInstances(
        project=PROJECT, zone=SLICE_ZONE, instanceGroupManager=SLICE, maxResults=10
    ).execute()
    check(managed, "InstanceGroupManagersListManagedInstancesResponse")
    assert len(managed["managedInstances"]) == 10 and managed["nextPageToken"]

    requests = api.instanceGroupManagerResizeRequests()
    where = {"project": PROJECT, "zone": FLEX_ZONE, "instanceGroupManager": FLEX}
    body = {"name": "conformance-rr", "resizeBy": 2, "requestedRunDuration": {"seconds": "3600"}}
    finish(api, clock, requests.insert(**where, body=body).execute())
    check(requests.list(**where).execute(), "InstanceGroupManagerResizeRequestsListResponse")
    got = requests.get(**where, resizeRequest="conformance-rr").execute()
    check(got, "InstanceGroupManagerResizeRequest")
    finish(api, clock, requests.cancel(**where, resizeRequest="flex-v6e-queued").execute())
    finish(api, clock, requests.delete(**where, resizeRequest="flex-v6e-queued").execute())


def test_capacity_methods_conform(api: Any, clock: FakeClock) -> None:
    region = SLICE_ZONE.rsplit("-", 1)[0]
    policies = api.resourcePolicies()
    check(policies.list(project=PROJECT, region=region).execute(), "ResourcePolicyList")
    policy = policies.get(project=PROJECT, region=region, resourcePolicy="ironwood-4x4x4").execute()
    check(policy, "ResourcePolicy")
    assert policy["workloadPolicy"] == {"type": "HIGH_THROUGHPUT", "acceleratorTopology": "4x4x4"}
    assert whole(policies, "ResourcePolicyAggregatedList", project=PROJECT) == [policy]

    reservations = api.reservations()
    check(reservations.list(project=PROJECT, zone=SLICE_ZONE).execute(), "ReservationList")
    res = reservations.get(project=PROJECT, zone=SLICE_ZONE, reservation=RESERVATION).execute()
    check(res, "Reservation")
    assert whole(reservations, "ReservationAggregatedList", project=PROJECT) == [res]
    blocks = api.reservationBlocks()
    where = {"project": PROJECT, "zone": SLICE_ZONE, "reservation": RESERVATION}
    check(blocks.list(**where).execute(), "ReservationBlocksListResponse")
    check(blocks.get(**where, reservationBlock=BLOCK).execute(), "ReservationBlocksGetResponse")
    subs = api.reservationSubBlocks()
    at = {"project": PROJECT, "zone": SLICE_ZONE, "parentName": BLOCK_PARENT}
    check(subs.list(**at).execute(), "ReservationSubBlocksListResponse")
    spare = subs.get(**at, reservationSubBlock=SPARE_SUB_BLOCK).execute()
    check(spare, "ReservationSubBlocksGetResponse")
    report = {"disruptionSchedule": "IMMEDIATE", "faultReasons": [{"behavior": "PERFORMANCE"}]}
    finish(
        api,
        clock,
        subs.reportFaulty(**at, reservationSubBlock=SPARE_SUB_BLOCK, body=report).execute(),
    )
    finish(api, clock, subs.performMaintenance(**at, reservationSubBlock=SPARE_SUB_BLOCK).execute())

    futures = api.futureReservations()
    listed = futures.list(project=PROJECT, zone=SLICE_ZONE).execute()
    check(listed, "FutureReservationsListResponse")
    name = listed["items"][0]["name"]
    check(
        futures.get(project=PROJECT, zone=SLICE_ZONE, futureReservation=name).execute(),
        "FutureReservation",
    )


def test_every_served_method_is_in_the_document(
    api: Any, server: RunningServer, clock: FakeClock
) -> None:
    """The conformance tests above call every handler; together they cover the served set."""
    test_zones_and_machine_types_conform(api)
    test_instance_methods_conform(api, clock)
    test_group_and_resize_request_methods_conform(api, clock)
    test_capacity_methods_conform(api, clock)
    served = set(admin(server, "stats")["requests"])
    assert served == set(HANDLERS)
    ids = {
        m["id"] for r in COMPUTE.doc["resources"].values() for m in r.get("methods", {}).values()
    }
    assert served <= ids


def test_the_seeded_fleet_conforms(api: Any, emulator: Emulator) -> None:
    total = 0
    for project in emulator.stats_json()["computeProjects"]:
        total += len(
            whole(api.instances(), "InstanceAggregatedList", project=project, maxResults=9)
        )
    assert total == emulator.stats_json()["instances"] > 60


def test_a_document_rooted_at_the_emulator_works(server: RunningServer) -> None:
    """The discovery document with its rootUrl pointed at the emulator (servicePath kept)."""
    document = dict(COMPUTE.doc, rootUrl=server.url + "/")
    api = discovery.build_from_document(document, http=httplib2.Http(timeout=30))
    vm = api.instances().list(project=PROJECT, zone=SLICE_ZONE, maxResults=1).execute()
    check(vm, "InstanceList")
    assert vm["items"][0]["zone"].endswith(f"/zones/{SLICE_ZONE}")


def raw(server: RunningServer, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    response, content = httplib2.Http(timeout=30).request(
        f"{server.url}/compute/v1/{path}",
        method,
        body=None if body is None else json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    return response.status, json.loads(content or b"{}")


FP = "projects/ml-prod/zones/us-east5-b"


@pytest.mark.parametrize(
    ("path", "method", "body", "status", "reason"),
    [
        (f"{FP}/instances/nope", "GET", None, 404, "notFound"),
        ("projects/ml-prod/zones/mars-north1-a/instances", "GET", None, 404, "notFound"),
        (f"{FP}/instances", "POST", {"name": "Bad_Name"}, 400, "invalid"),
        (f"{FP}/instances", "POST", {"name": "x", "colour": "red"}, 400, "invalid"),
        (f"{FP}/instances", "POST", {"name": "x", "machineType": "n2-standard-8"}, 400, "invalid"),
        (f"{FP}/instances?frobnicate=1", "GET", None, 400, "invalid"),
        (f"{FP}/instances?maxResults=501", "GET", None, 400, "invalid"),
        (f"{FP}/instances?orderBy=status", "GET", None, 400, "invalid"),
        (f"{FP}/instances?filter=status%20~%20RUN", "GET", None, 400, "invalid"),
        (f"{FP}/instances?filter=colour%20%3D%20red", "GET", None, 400, "invalid"),
        (f"{FP}/instances?pageToken=forged", "GET", None, 400, "badRequest"),
        (f"{FP}/instances", "DELETE", None, 405, "httpMethodNotAllowed"),
        (f"{FP}/instances/x/reset", "POST", None, 501, "notImplemented"),
        (f"{FP}/instances?sourceInstanceTemplate=t", "POST", {"name": "x"}, 501, "notImplemented"),
        ("projects/ml-prod/zones/us-east5-b/nothing", "GET", None, 404, "notFound"),
    ],
)
def test_errors_use_computes_json_shape(
    server: RunningServer, path: str, method: str, body: Any, status: int, reason: str
) -> None:
    code, answer = raw(server, path, method, body)
    assert code == status, answer
    error = answer["error"]
    assert set(error) == {"code", "message", "errors"} and error["code"] == status
    assert error["errors"][0]["reason"] == reason and error["errors"][0]["domain"] == "global"
    assert error["message"] == error["errors"][0]["message"] and error["message"]


def test_an_unreachable_zone_fails_or_is_named(api: Any, server: RunningServer) -> None:
    admin(server, "faults", {"unreachable": [FLEX_ZONE]})
    request = api.instances().aggregatedList(project=PROJECT)
    with pytest.raises(HttpError) as failed:
        request.execute(num_retries=0)
    assert failed.value.resp.status == 503
    # rev 20261106 of compute.v1.json no longer declares returnPartialSuccess; the service
    # still takes it, so a googleapiclient caller adds it to the request's URI.
    request.uri += "&returnPartialSuccess=true"
    page = request.execute()
    check(page, "InstanceAggregatedList")
    assert page["unreachables"] == [f"zones/{FLEX_ZONE}"]
    assert f"zones/{FLEX_ZONE}" not in page["items"]
    assert page["items"][f"zones/{SLICE_ZONE}"]["instances"]
    with pytest.raises(HttpError) as zonal:
        api.instances().list(project=PROJECT, zone=FLEX_ZONE).execute(num_retries=0)
    assert zonal.value.resp.status == 503
    groups = api.instanceGroupManagers().aggregatedList(project=PROJECT)
    groups.uri += "&returnPartialSuccess=true"
    assert {
        g["name"]
        for s in groups.execute()["items"].values()
        for g in s.get("instanceGroupManagers", [])
    } == {SLICE}


def test_injected_faults_reach_compute_in_its_words(server: RunningServer) -> None:
    admin(server, "faults", {"failNext": 1, "errorCode": 503, "methods": ["compute.instances.get"]})
    assert raw(server, f"{FP}/instances")[0] == 200  # another method: untouched
    code, answer = raw(server, f"{FP}/instances/anything")
    assert code == 503 and answer["error"]["errors"][0]["reason"] == "backendError"
    admin(server, "faults", {"methods": [], "permissionDenied": ["ml-research"]})
    code, answer = raw(server, "projects/ml-research/aggregated/instances")
    assert code == 403 and answer["error"]["errors"][0]["reason"] == "forbidden"
    assert "compute.instances.aggregatedList" in answer["error"]["message"]
    assert raw(server, "projects/ml-prod/aggregated/instances")[0] == 200

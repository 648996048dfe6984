"""The Cloud TPU API raised to the same standard: v1 served (googleapiclient's `tpu.v1.json`),
filter and orderBy applied or refused, errors with Google's details (parsed by google-cloud-tpu),
queued resources through CREATING and SUSPENDING, empty lists left out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httplib2
import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import tpu_v2
from google.rpc import error_details_pb2
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from devstack.admin import admin
from devstack.clock import FakeClock
from tests.conformance.schema import SchemaChecker
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer
from tpu_emulator.server import serve

V1 = SchemaChecker("v1")
check = V1.check
PARENT = "projects/ml-prod/locations/us-central1-b"
VM_PARENT = "projects/ml-vision/locations/us-west4-a"
VM = {"acceleratorType": "v5litepod-8", "runtimeVersion": "v2-alpha-tpuv5-lite"}


def build(server: RunningServer, version: str) -> Any:
    return discovery.build(
        "tpu",
        version,
        static_discovery=True,
        http=httplib2.Http(timeout=10),
        client_options={"api_endpoint": server.url + "/"},
    )


@pytest.fixture
def api(emulator_server: RunningServer) -> Any:
    return build(emulator_server, "v1")


def finish(ops: Any, op: dict[str, Any], clock: FakeClock) -> dict[str, Any]:
    clock.advance(11)
    done = ops.get(name=op["name"]).execute()
    check(done, "Operation")
    assert done["done"]
    return dict(done)


def test_every_v1_method_conforms(
    api: Any, emulator_server: RunningServer, clock: FakeClock
) -> None:
    locations = api.projects().locations()
    nodes, ops = locations.nodes(), locations.operations()
    check(locations.list(name="projects/ml-prod").execute(), "ListLocationsResponse")
    check(locations.get(name=PARENT).execute(), "Location")
    types = locations.acceleratorTypes().list(parent=PARENT).execute()
    check(types, "ListAcceleratorTypesResponse")
    name = types["acceleratorTypes"][0]["name"]
    check(locations.acceleratorTypes().get(name=name).execute(), "AcceleratorType")
    versions = locations.tensorflowVersions().list(parent=PARENT).execute()
    check(versions, "ListTensorFlowVersionsResponse")
    name = versions["tensorflowVersions"][0]["name"]
    check(locations.tensorflowVersions().get(name=name).execute(), "TensorFlowVersion")
    listing = nodes.list(parent="projects/ml-prod/locations/-", pageSize=5).execute()
    check(listing, "ListNodesResponse")
    check(nodes.get(name=listing["nodes"][0]["name"]).execute(), "Node")

    body = {"acceleratorType": "v3-8", "tensorflowVersion": "2.12.0"}
    created = nodes.create(parent=PARENT, nodeId="v1-node", body=body).execute()
    check(created, "Operation")
    node = finish(ops, created, clock)["response"]
    assert node["state"] == "READY" and node["apiVersion"] == "V1"
    name = f"{PARENT}/nodes/v1-node"
    for verb, call in [
        ("stop", lambda: nodes.stop(name=name, body={}).execute()),
        ("start", lambda: nodes.start(name=name, body={}).execute()),
        (
            "reimage",
            lambda: nodes.reimage(name=name, body={"tensorflowVersion": "2.11.0"}).execute(),
        ),
    ]:
        op = call()
        assert op["metadata"]["verb"] == verb and op["metadata"]["apiVersion"] == "v1"
        finish(ops, op, clock)
    check(ops.list(name="projects/ml-prod/locations/-").execute(), "ListOperationsResponse")
    deleting = nodes.delete(name=name).execute()
    check(ops.cancel(name=deleting["name"]).execute(), "Empty")
    check(ops.delete(name=deleting["name"]).execute(), "Empty")
    served = {k for k in admin(emulator_server, "stats")["requests"] if k.startswith("v1.")}
    assert served == V1.served_keys("v1.")


def test_v1_takes_no_request_id(emulator_server: RunningServer) -> None:
    http = httplib2.Http(timeout=10)
    response, content = http.request(
        f"{emulator_server.url}/v1/{PARENT}/nodes?nodeId=x&requestId=r", "POST", body="{}"
    )
    assert response.status == 400 and "requestId" in json.loads(content)["error"]["message"]


def test_filters_and_order_are_applied(api: Any, clock: FakeClock) -> None:
    locations = api.projects().locations()
    only = locations.list(name="projects/ml-prod", filter='locationId = "us-central1-*"').execute()
    assert {loc["locationId"] for loc in only["locations"]} == {
        "us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"
    }  # fmt: skip
    types = locations.acceleratorTypes()
    newest_first = types.list(parent=PARENT, orderBy="type desc").execute()["acceleratorTypes"]
    ordered = [t["type"] for t in newest_first]
    assert ordered == sorted(ordered, reverse=True) and len(ordered) > 2
    v3 = types.list(parent=PARENT, filter="type:v3-*").execute()["acceleratorTypes"]
    assert v3 and all(t["type"].startswith("v3-") for t in v3)
    assert types.list(parent=PARENT, filter='type = "v9-8"').execute() == {}  # empty: left out
    paged = types.list(parent=PARENT, orderBy="type desc", pageSize=2).execute()
    following = types.list(
        parent=PARENT, orderBy="type desc", pageSize=2, pageToken=paged["nextPageToken"]
    ).execute()
    assert [t["type"] for t in paged["acceleratorTypes"] + following["acceleratorTypes"]] == (
        ordered[:4]
    )

    nodes, ops = locations.nodes(), locations.operations()
    body = {"acceleratorType": "v3-8", "tensorflowVersion": "2.12.0"}
    first = nodes.create(parent=PARENT, nodeId="filtered", body=body).execute()
    clock.advance(11)
    stop = nodes.stop(name=f"{PARENT}/nodes/filtered", body={}).execute()
    running = ops.list(name=PARENT, filter="done != true").execute()["operations"]
    assert [o["name"] for o in running] == [stop["name"]]
    creates = ops.list(name=PARENT, filter='metadata.verb = "create" AND done = true').execute()
    assert [o["name"] for o in creates["operations"]] == [first["name"]]


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda loc: loc.list(name="projects/ml-prod", filter="NOT locationId = x"), "filter"),
        (lambda loc: loc.list(name="projects/ml-prod", filter="(locationId = x)"), "filter"),
        (lambda loc: loc.list(name="projects/ml-prod", filter="colour = red"), "filter"),
        (lambda loc: loc.acceleratorTypes().list(parent=PARENT, orderBy="size"), "orderBy"),
        (lambda loc: loc.acceleratorTypes().list(parent=PARENT, filter="type > v2"), "filter"),
        (lambda loc: loc.operations().list(name=PARENT, filter="verb = stop"), "filter"),
    ],
)
def test_filters_the_emulator_cannot_apply_are_refused(api: Any, call: Any, param: str) -> None:
    with pytest.raises(HttpError) as caught:
        call(api.projects().locations()).execute(num_retries=0)
    error = json.loads(caught.value.content)["error"]
    assert caught.value.resp.status == 400 and error["status"] == "INVALID_ARGUMENT"
    bad = next(d for d in error["details"] if d["@type"].endswith("google.rpc.BadRequest"))
    assert bad["fieldViolations"][0]["field"] == param


@pytest.fixture
def queued_emulator(clock: FakeClock) -> Emulator:
    return Emulator(clock=clock, op_seconds=0, fleet=60, projects=5, transition_seconds=5)


@pytest.fixture
def queued_server(queued_emulator: Emulator) -> Iterator[RunningServer]:
    server = serve(queued_emulator)
    yield server
    server.close()


def google_client(server: RunningServer) -> tpu_v2.TpuClient:
    return tpu_v2.TpuClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": server.url},
    )


def test_google_cloud_tpu_parses_the_details(
    queued_server: RunningServer, queued_emulator: Emulator
) -> None:
    client = google_client(queued_server)
    with pytest.raises(exceptions.NotFound) as missing:
        client.get_node(name=f"{VM_PARENT}/nodes/nope")
    assert missing.value.reason == "RESOURCE_NOT_FOUND"
    assert missing.value.domain == "tpu.googleapis.com"
    with pytest.raises(exceptions.BadRequest) as bad:
        client.create_node(
            parent=VM_PARENT, node_id="Bad_Id", node=tpu_v2.Node(accelerator_type="v5litepod-8")
        )
    # Over HTTP, api_core keeps the details as the JSON dicts they came as.
    kinds = [d["@type"].rsplit(".", 1)[1] for d in bad.value.details]
    assert kinds == ["ErrorInfo", "BadRequest"] and bad.value.reason == "INVALID_ARGUMENT"
    assert bad.value.details[1]["fieldViolations"][0]["field"] == "nodeId"

    queued_emulator.set_faults({"quota": ["us-west4-a"]})
    spec = tpu_v2.Node(accelerator_type="v5litepod-8", runtime_version="v2-alpha-tpuv5-lite")
    op = client.create_node(parent=VM_PARENT, node_id="over-quota", node=spec)
    with pytest.raises(exceptions.GoogleAPICallError) as failed:
        op.result(timeout=10)
    assert failed.value.code == 429 and "Quota limit" in failed.value.message
    details = op.operation.error.details
    assert [d.type_url.rsplit(".", 1)[1] for d in details] == ["ErrorInfo", "QuotaFailure"]
    quota = error_details_pb2.QuotaFailure()
    assert details[1].Unpack(quota) and quota.violations[0].subject == "project:ml-vision"


def test_queued_resources_pass_through_creating_and_suspending(
    queued_server: RunningServer, clock: FakeClock
) -> None:
    client = google_client(queued_server)
    state = tpu_v2.QueuedResourceState.State
    name = f"{VM_PARENT}/queuedResources/qr"
    spec = tpu_v2.QueuedResource.Tpu.NodeSpec(
        parent=VM_PARENT,
        node_id="qr-vm",
        node=tpu_v2.Node(accelerator_type="v5litepod-8", runtime_version="v2-alpha-tpuv5-lite"),
    )
    request = tpu_v2.QueuedResource(tpu=tpu_v2.QueuedResource.Tpu(node_spec=[spec]))
    client.create_queued_resource(
        parent=VM_PARENT, queued_resource_id="qr", queued_resource=request
    )
    assert client.get_queued_resource(name=name).state.state == state.CREATING
    clock.advance(5)
    assert client.get_queued_resource(name=name).state.state == state.ACTIVE  # op time 0
    admin(queued_server, f"{VM_PARENT}/nodes/qr-vm:inject", {"state": "PREEMPTED"})
    suspending = client.get_queued_resource(name=name).state
    assert suspending.state == state.SUSPENDING
    assert suspending.state_initiator == tpu_v2.QueuedResourceState.StateInitiator.SERVICE
    clock.advance(5)
    assert client.get_queued_resource(name=name).state.state == state.SUSPENDED


def test_empty_lists_are_left_out(emulator_server: RunningServer) -> None:
    v2 = build(emulator_server, "v2").projects().locations()
    empty = v2.queuedResources().list(parent="projects/nobody/locations/-").execute()
    assert empty == {}
    assert v2.nodes().list(parent="projects/nobody/locations/us-central1-b").execute() == {}
    location = v2.get(name=PARENT).execute()
    assert "labels" not in location and "metadata" not in location
    node = v2.nodes().list(parent="projects/ml-prod/locations/-").execute()["nodes"][0]
    messages = ("schedulingConfig", "shieldedInstanceConfig")  # empty messages, not lists
    assert all(value not in ([], {}, "") for key, value in node.items() if key not in messages)

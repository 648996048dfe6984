"""Every method of the v2 discovery document, through google-api-python-client, each response
checked against the document's schemas (no unknown fields, no unknown enum values)."""

from __future__ import annotations

import json
from typing import Any

import httplib2
import pytest
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from devstack.admin import admin
from devstack.clock import FakeClock
from tests.conformance.schema import SchemaChecker
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer

ZONE = "us-east5-b"
PARENT = f"projects/ml-prod/locations/{ZONE}"
V2 = SchemaChecker("v2")
check = V2.check
NODE = {"acceleratorType": "v6e-8", "runtimeVersion": "v2-alpha-tpuv6e"}


def build(server: RunningServer) -> Any:
    return discovery.build(
        "tpu",
        "v2",
        static_discovery=True,
        http=httplib2.Http(timeout=10),
        client_options={"api_endpoint": server.url + "/"},
    )


@pytest.fixture
def api(emulator_server: RunningServer) -> Any:
    return build(emulator_server)


def finished(ops: Any, op: dict[str, Any], clock: FakeClock) -> dict[str, Any]:
    """Move the clock past the operation time; the operation as the API then tells it."""
    check(op, "Operation")
    assert "done" not in op  # the first response omits done, as Google's does
    clock.advance(11)
    done = ops.get(name=op["name"]).execute()
    check(done, "Operation")
    assert done["done"]
    return dict(done)


def test_every_catalog_method_conforms(api: Any) -> None:
    locations = api.projects().locations()
    check(locations.list(name="projects/ml-prod").execute(), "ListLocationsResponse")
    check(locations.get(name=PARENT).execute(), "Location")
    check(
        locations.generateServiceIdentity(parent=PARENT, body={}).execute(),
        "GenerateServiceIdentityResponse",
    )
    for kind, schema in (("acceleratorTypes", "AcceleratorType"), ("runtimeVersions", None)):
        collection = getattr(locations, kind)()
        listing = collection.list(parent=PARENT, pageSize=2).execute()
        check(listing, f"List{schema or 'RuntimeVersion'}s" + "Response")
        assert "nextPageToken" in listing
        check(collection.get(name=listing[kind][0]["name"]).execute(), schema or "RuntimeVersion")


def test_every_node_method_conforms(api: Any, clock: FakeClock) -> None:
    locations = api.projects().locations()
    nodes, ops = locations.nodes(), locations.operations()
    listing = nodes.list(parent="projects/ml-prod/locations/-", pageSize=5).execute()
    check(listing, "ListNodesResponse")
    check(nodes.get(name=listing["nodes"][0]["name"]).execute(), "Node")

    body = {
        **NODE,
        "networkConfig": {"enableExternalIps": True},
        "dataDisks": [{"sourceDisk": "projects/ml-prod/zones/us-east5-b/disks/d1"}],
        "metadata": {"startup-script": "echo hi"},
        "tags": ["ssh"],
        "shieldedInstanceConfig": {"enableSecureBoot": True},
    }
    created = finished(
        ops, nodes.create(parent=PARENT, nodeId="conf-1", body=body).execute(), clock
    )
    node = created["response"]
    assert node["state"] == "READY" and node["apiVersion"] == "V2"
    assert node["networkEndpoints"][0]["accessConfig"]["externalIp"]
    assert created["metadata"]["apiVersion"] == "v2"
    name = node["name"]
    for verb, call in [
        ("stop", lambda: nodes.stop(name=name, body={}).execute()),
        ("start", lambda: nodes.start(name=name, body={}).execute()),
        (
            "update",
            lambda: nodes.patch(
                name=name,
                updateMask="labels,networkConfig.enableExternalIps",
                body={"labels": {"a": "b"}},
            ).execute(),
        ),
    ]:
        op = call()
        assert op["metadata"]["verb"] == verb and op["metadata"]["target"] == name
        finished(ops, op, clock)
    patched = nodes.get(name=name).execute()
    check(patched, "Node")
    assert patched["labels"] == {"a": "b"} and "accessConfig" not in patched["networkEndpoints"][0]
    check(nodes.getGuestAttributes(name=name, body={}).execute(), "GetGuestAttributesResponse")

    check(ops.list(name=PARENT, pageSize=2).execute(), "ListOperationsResponse")
    deleting = nodes.delete(name=name).execute()
    check(deleting, "Operation")
    check(ops.cancel(name=deleting["name"]).execute(), "Empty")
    cancelled = ops.get(name=deleting["name"]).execute()
    check(cancelled, "Operation")
    assert cancelled["error"]["code"] == 1 and nodes.get(name=name).execute()["state"] == "READY"
    check(ops.delete(name=deleting["name"]).execute(), "Empty")
    finished(ops, nodes.delete(name=name).execute(), clock)


def test_every_queued_resource_method_conforms(
    api: Any, emulator_server: RunningServer, clock: FakeClock
) -> None:
    locations = api.projects().locations()
    queued, ops = locations.queuedResources(), locations.operations()
    spec = {"parent": PARENT, "nodeId": "conf-qr-node", "node": NODE}
    request = {
        "tpu": {"nodeSpec": [spec]},
        "guaranteed": {"minDuration": "3600s"},
        "queueingPolicy": {"validUntilDuration": "7200s"},
    }
    op = queued.create(
        parent=PARENT, queuedResourceId="conf-qr", requestId="r-1", body=request
    ).execute()
    again = queued.create(
        parent=PARENT, queuedResourceId="conf-qr", requestId="r-1", body=request
    ).execute()
    assert again["name"] == op["name"]  # the same requestId is the same request
    name = f"{PARENT}/queuedResources/conf-qr"
    assert queued.get(name=name).execute()["state"]["state"] == "ACCEPTED"
    done = finished(ops, op, clock)
    assert done["response"]["name"] == name
    provisioning = queued.get(name=name).execute()
    check(provisioning, "QueuedResource")
    assert provisioning["state"]["state"] == "PROVISIONING"
    clock.advance(10)
    active = queued.get(name=name).execute()
    assert active["state"] == {"state": "ACTIVE", "activeData": {}}
    listing = queued.list(parent="projects/ml-prod/locations/-").execute()
    check(listing, "ListQueuedResourcesResponse")
    assert name in [q["name"] for q in listing["queuedResources"]]

    with pytest.raises(HttpError) as refused:
        queued.delete(name=name).execute(num_retries=0)
    assert (
        refused.value.resp.status == 400 and "FAILED_PRECONDITION" in refused.value.content.decode()
    )
    admin(emulator_server, f"{name}:inject", {"state": "FAILED"})
    reset = queued.reset(name=name, body={}).execute()
    assert reset["metadata"]["verb"] == "reset"
    finished(ops, reset, clock)
    clock.advance(10)
    assert queued.get(name=name).execute()["state"]["state"] == "ACTIVE"

    deleting = queued.delete(name=name, force=True, requestId="d-1").execute()
    assert queued.get(name=name).execute()["state"]["state"] == "DELETING"
    gone = finished(ops, deleting, clock)
    assert gone["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}

    served = set(admin(emulator_server, "stats")["requests"])
    assert {k for k in served if k.startswith("v2.")} <= V2.served_keys("v2.")


def test_every_v2_method_is_served(
    api: Any, emulator_server: RunningServer, clock: FakeClock
) -> None:
    # The same scenarios as above, on one server: together they call every method once.
    test_every_catalog_method_conforms(api)
    test_every_node_method_conforms(api, clock)
    test_every_queued_resource_method_conforms(api, emulator_server, clock)
    served = set(admin(emulator_server, "stats")["requests"])
    assert served == V2.served_keys("v2.")


@pytest.fixture
def mixed_api(mixed_server: RunningServer) -> Any:
    return build(mixed_server)


def test_the_seeded_mixed_fleet_conforms(mixed_api: Any, mixed_server: RunningServer) -> None:
    locations = mixed_api.projects().locations()
    for project in admin(mixed_server, "stats")["projects"]:
        request = locations.nodes().list(parent=f"projects/{project}/locations/-", pageSize=7)
        while request is not None:
            response = request.execute()
            check(response, "ListNodesResponse")
            request = locations.nodes().list_next(request, response)
        queued = locations.queuedResources().list(parent=f"projects/{project}/locations/-")
        check(queued.execute(), "ListQueuedResourcesResponse")


def test_wildcard_lists_name_the_unreachable_zones(
    mixed_api: Any, mixed_server: RunningServer
) -> None:
    locations = mixed_api.projects().locations()
    before = locations.queuedResources().list(parent="projects/ml-infra/locations/-").execute()
    admin(mixed_server, "faults", {"unreachable": ["us-west4-a"]})
    for collection, key in (
        (locations.nodes(), "nodes"),
        (locations.queuedResources(), "queuedResources"),
    ):
        partial = collection.list(parent="projects/ml-infra/locations/-").execute()
        check(partial, f"List{key[0].upper() + key[1:]}Response")
        assert partial["unreachable"] == ["projects/ml-infra/locations/us-west4-a"]
        assert all("/us-west4-a/" not in item["name"] for item in partial.get(key, []))
    assert any("/us-west4-a/" in q["name"] for q in before["queuedResources"])
    with pytest.raises(HttpError) as unavailable:
        locations.nodes().list(parent="projects/ml-infra/locations/us-west4-a").execute()
    assert unavailable.value.resp.status == 503
    ops = locations.operations()
    admin(mixed_server, "faults", {"unreachable": []})
    for zone in ("us-west4-a", "us-east5-b"):
        body = {"acceleratorType": "v5litepod-8" if zone == "us-west4-a" else "v6e-8"}
        body["runtimeVersion"] = "tpu-ubuntu2204-base"
        locations.nodes().create(
            parent=f"projects/ml-infra/locations/{zone}", nodeId="partial", body=body
        ).execute()
    admin(mixed_server, "faults", {"unreachable": ["us-west4-a"]})
    partial = ops.list(name="projects/ml-infra/locations/-", returnPartialSuccess=True).execute()
    check(partial, "ListOperationsResponse")
    assert [o["metadata"]["target"].split("/")[3] for o in partial["operations"]] == ["us-east5-b"]
    assert partial["unreachable"] == ["projects/ml-infra/locations/us-west4-a"]


@pytest.mark.parametrize(
    ("call", "http", "status"),
    [
        (lambda loc: loc.nodes().get(name=f"{PARENT}/nodes/nope"), 404, "NOT_FOUND"),
        (
            lambda loc: loc.nodes().create(parent=PARENT, nodeId="Bad_Id", body=NODE),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            lambda loc: loc.nodes().create(
                parent=PARENT, nodeId="x", body={**NODE, "tensorflowVersion": "2.12.0"}
            ),
            400,
            "INVALID_ARGUMENT",
        ),
        (lambda loc: loc.nodes().patch(name=f"{PARENT}/nodes/x", body={}), 400, "INVALID_ARGUMENT"),
        (
            lambda loc: loc.queuedResources().create(parent=PARENT, queuedResourceId="q", body={}),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            lambda loc: loc.queuedResources().get(name=f"{PARENT}/queuedResources/q"),
            404,
            "NOT_FOUND",
        ),
        (
            lambda loc: loc.runtimeVersions().get(name=f"{PARENT}/runtimeVersions/2.12.0"),
            404,
            "NOT_FOUND",
        ),
    ],
)
def test_errors_use_googles_json_format(api: Any, call: Any, http: int, status: str) -> None:
    with pytest.raises(HttpError) as caught:
        call(api.projects().locations()).execute(num_retries=0)
    body = json.loads(caught.value.content)
    assert caught.value.resp.status == http
    assert set(body["error"]) == {"code", "message", "status", "details"}
    assert body["error"]["status"] == status and body["error"]["code"] == http
    assert body["error"]["message"]
    kinds = [d["@type"].rsplit("/", 1)[1] for d in body["error"]["details"]]
    assert kinds[0] == "google.rpc.ErrorInfo"
    assert body["error"]["details"][0]["domain"] == "tpu.googleapis.com"
    assert ("google.rpc.BadRequest" in kinds) == (status == "INVALID_ARGUMENT")


def test_v2_has_no_reimage_and_refuses_v1alpha1_parameters(emulator_server: RunningServer) -> None:
    http = httplib2.Http(timeout=10)
    base = f"{emulator_server.url}/v2/{PARENT}/nodes"
    response, _ = http.request(f"{base}/x:reimage", "POST", body="{}")
    assert response.status == 404
    response, content = http.request(f"{base}?nodeId=x&requestId=r", "POST", body=json.dumps(NODE))
    assert response.status == 400 and "requestId" in json.loads(content)["error"]["message"]


def test_both_versions_see_one_fleet(emulator: Emulator, emulator_server: RunningServer) -> None:
    v1 = discovery.build(
        "tpu",
        "v1alpha1",
        static_discovery=True,
        http=httplib2.Http(timeout=10),
        client_options={"api_endpoint": emulator_server.url + "/"},
    )
    v2 = build(emulator_server)
    v2.projects().locations().nodes().create(
        parent="projects/ml-prod/locations/europe-west4-a", nodeId="vm-seen", body=NODE
    ).execute()
    name = "projects/ml-prod/locations/europe-west4-a/nodes/vm-seen"
    old = v1.projects().locations().nodes().get(name=name).execute()
    SchemaChecker("v1alpha1").check(old, "Node")
    # v1alpha1's ApiVersion enum has no V2: a TPU VM shows as V2_ALPHA1 there.
    assert old["tensorflowVersion"] == "v2-alpha-tpuv6e" and old["apiVersion"] == "V2_ALPHA1"
    seeded = emulator.node_names("ml-prod")[0]
    new = v2.projects().locations().nodes().get(name=seeded).execute()
    check(new, "Node")
    assert new["apiVersion"] == "V1_ALPHA1" and new["runtimeVersion"]
    assert new["acceleratorConfig"]["type"] in ("V2", "V3")

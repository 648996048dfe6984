"""Every method of the v1alpha1 discovery document, through google-api-python-client, validated."""

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

PARENT = "projects/ml-prod/locations/us-central1-b"
V1 = SchemaChecker("v1alpha1")
check = V1.check


@pytest.fixture
def api(emulator_server: RunningServer) -> Any:
    return discovery.build(
        "tpu",
        "v1alpha1",
        static_discovery=True,
        http=httplib2.Http(timeout=10),
        client_options={"api_endpoint": emulator_server.url + "/"},
    )


def test_every_discovery_method_conforms(
    api: Any, emulator_server: RunningServer, emulator: Emulator, clock: FakeClock
) -> None:
    locations = api.projects().locations()
    nodes = locations.nodes()
    ops = locations.operations()
    parent = "projects/ml-prod/locations/us-central1-b"

    check(locations.list(name="projects/ml-prod").execute(), "ListLocationsResponse")
    check(locations.get(name=parent).execute(), "Location")
    types = locations.acceleratorTypes().list(parent=parent).execute()
    check(types, "ListAcceleratorTypesResponse")
    check(
        locations.acceleratorTypes().get(name=types["acceleratorTypes"][0]["name"]).execute(),
        "AcceleratorType",
    )
    versions = locations.tensorflowVersions().list(parent=parent, orderBy="version").execute()
    check(versions, "ListTensorFlowVersionsResponse")
    check(
        locations.tensorflowVersions()
        .get(name=versions["tensorflowVersions"][0]["name"])
        .execute(),
        "TensorFlowVersion",
    )

    listing = nodes.list(parent="projects/ml-prod/locations/-", pageSize=5).execute()
    check(listing, "ListNodesResponse")
    check(nodes.get(name=listing["nodes"][0]["name"]).execute(), "Node")

    created = nodes.create(
        parent=parent,
        nodeId="conformance-1",
        requestId="req-1",
        body={"acceleratorType": "v3-8", "tensorflowVersion": "2.12.0", "cidrBlock": "10.9.0.0/29"},
    ).execute()
    check(created, "Operation")
    assert "done" not in created  # the first response omits done, as Google's does
    name = f"{parent}/nodes/conformance-1"
    clock.advance(11)
    finished = ops.get(name=created["name"]).execute()
    check(finished, "Operation")
    assert finished["done"] and finished["response"]["state"] == "READY"

    for verb, call in [
        ("stop", lambda: nodes.stop(name=name, body={}).execute()),
        ("start", lambda: nodes.start(name=name, body={}).execute()),
        (
            "reimage",
            lambda: nodes.reimage(name=name, body={"tensorflowVersion": "2.11.0"}).execute(),
        ),
    ]:
        op = call()
        check(op, "Operation")
        assert op["metadata"]["verb"] == verb and op["metadata"]["target"] == name
        clock.advance(11)
        check(ops.get(name=op["name"]).execute(), "Operation")

    check(ops.list(name=parent, pageSize=2).execute(), "ListOperationsResponse")
    check(ops.list(name="projects/ml-prod/locations/-").execute(), "ListOperationsResponse")

    deleting = nodes.delete(name=name, requestId="req-2").execute()
    check(deleting, "Operation")
    check(ops.cancel(name=deleting["name"]).execute(), "Empty")
    cancelled = ops.get(name=deleting["name"]).execute()
    check(cancelled, "Operation")
    assert cancelled["error"]["code"] == 1 and nodes.get(name=name).execute()["state"] == "READY"
    check(ops.delete(name=deleting["name"]).execute(), "Empty")
    with pytest.raises(HttpError) as gone:
        ops.get(name=deleting["name"]).execute()
    assert gone.value.resp.status == 404

    served = set(admin(emulator_server, "stats")["requests"])
    assert served == V1.served_keys()


@pytest.mark.parametrize(
    ("call", "http", "status"),
    [
        (lambda n: n.get(name=f"{PARENT}/nodes/nope"), 404, "NOT_FOUND"),
        (
            lambda n: n.get(name="projects/ml-prod/locations/mars-north1-a/nodes/x"),
            404,
            "NOT_FOUND",
        ),
        (
            lambda n: n.create(
                parent="projects/ml-prod/locations/us-central1-b",
                nodeId="Bad_Id",
                body={"acceleratorType": "v2-8", "tensorflowVersion": "2.12.0"},
            ),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            lambda n: n.list(parent="projects/ml-prod/locations/-", pageToken="forged"),
            400,
            "INVALID_ARGUMENT",
        ),
    ],
)
def test_errors_use_googles_json_format(api: Any, call: Any, http: int, status: str) -> None:
    with pytest.raises(HttpError) as caught:
        call(api.projects().locations().nodes()).execute(num_retries=0)
    body = json.loads(caught.value.content)
    assert caught.value.resp.status == http
    assert set(body["error"]) == {"code", "message", "status", "details"}
    assert body["error"]["status"] == status and body["error"]["code"] == http
    assert body["error"]["message"]
    kinds = [d["@type"].rsplit("/", 1)[1] for d in body["error"]["details"]]
    info = body["error"]["details"][0]
    assert kinds[0] == "google.rpc.ErrorInfo" and info["domain"] == "tpu.googleapis.com"
    assert info["reason"].isupper()
    assert ("google.rpc.BadRequest" in kinds) == (status == "INVALID_ARGUMENT")


def test_unknown_query_parameter_is_refused(emulator_server: RunningServer) -> None:
    http = httplib2.Http(timeout=10)
    response, content = http.request(
        f"{emulator_server.url}/v1alpha1/projects/ml-prod/locations/-/nodes?filter=x"
    )
    assert response.status == 400
    assert "filter" in json.loads(content)["error"]["message"]

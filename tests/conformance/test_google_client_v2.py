"""Google's own generated client (google-cloud-tpu, tpu_v2, REST) against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import tpu_v2
from google.protobuf import field_mask_pb2

from devstack.admin import admin
from devstack.clock import FakeClock
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer
from tpu_emulator.server import serve

ZONE = "us-west4-a"
PARENT = f"projects/ml-prod/locations/{ZONE}"
QR_STATE = tpu_v2.QueuedResourceState.State


def client_for(server: RunningServer) -> tpu_v2.TpuClient:
    return tpu_v2.TpuClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": server.url},
    )


@pytest.fixture
def client(mixed_server: RunningServer) -> tpu_v2.TpuClient:
    return client_for(mixed_server)


def v5e(**extra: Any) -> tpu_v2.Node:
    return tpu_v2.Node(
        accelerator_type="v5litepod-8", runtime_version="v2-alpha-tpuv5-lite", **extra
    )


def qr_request(node_id: str, spot: bool = False, **extra: Any) -> tpu_v2.QueuedResource:
    spec = tpu_v2.QueuedResource.Tpu.NodeSpec(parent=PARENT, node_id=node_id, node=v5e())
    tier = {"spot": tpu_v2.QueuedResource.Spot()} if spot else {}
    return tpu_v2.QueuedResource(tpu=tpu_v2.QueuedResource.Tpu(node_spec=[spec]), **tier, **extra)


def test_node_lifecycle(client: tpu_v2.TpuClient) -> None:
    op = client.create_node(
        parent=PARENT, node_id="vm-1", node=v5e(labels={"team": "nlp"}, tags=["ssh"])
    )
    assert op.metadata.verb == "create" and op.metadata.target == f"{PARENT}/nodes/vm-1"
    node = op.result(timeout=10)
    assert node.state == tpu_v2.Node.State.READY and node.health == tpu_v2.Node.Health.HEALTHY
    assert node.api_version == tpu_v2.Node.ApiVersion.V2
    assert node.accelerator_config.type_ == tpu_v2.AcceleratorConfig.Type.V5LITE_POD
    assert node.accelerator_config.topology == "2x4" and node.network_endpoints[0].port == 8470
    assert client.get_node(name=node.name).labels == {"team": "nlp"}

    stopped = client.stop_node(request=tpu_v2.StopNodeRequest(name=node.name)).result(timeout=10)
    assert stopped.state == tpu_v2.Node.State.STOPPED
    started = client.start_node(request=tpu_v2.StartNodeRequest(name=node.name)).result(timeout=10)
    assert started.state == tpu_v2.Node.State.READY

    update = client.update_node(
        node=tpu_v2.Node(name=node.name, description="sweep", labels={"team": "rl"}),
        update_mask=field_mask_pb2.FieldMask(paths=["description", "labels"]),
    )
    assert update.metadata.verb == "update"
    updated = update.result(timeout=10)
    assert (updated.description, updated.labels) == ("sweep", {"team": "rl"})
    assert updated.tags == ["ssh"]  # not in the mask: unchanged

    attributes = client.get_guest_attributes(
        request=tpu_v2.GetGuestAttributesRequest(name=node.name, query_path="tpu/worker-id")
    )
    assert [i.value for a in attributes.guest_attributes for i in a.query_value.items] == ["0"]

    client.delete_node(name=node.name).result(timeout=10)
    with pytest.raises(exceptions.NotFound):
        client.get_node(name=node.name)


def test_create_errors_map_to_the_clients_exceptions(client: tpu_v2.TpuClient) -> None:
    client.create_node(parent=PARENT, node_id="vm-2", node=v5e()).result(timeout=10)
    with pytest.raises(exceptions.Conflict):  # REST maps by HTTP code: 409, not AlreadyExists
        client.create_node(parent=PARENT, node_id="vm-2", node=v5e())
    with pytest.raises(exceptions.BadRequest) as bad:
        client.create_node(
            parent=PARENT,
            node_id="vm-3",
            node=tpu_v2.Node(accelerator_type="v5p-8", runtime_version="v2-alpha-tpuv5"),
        )
    assert "not available in zone" in bad.value.message
    pod = client.create_node(
        parent=PARENT,
        node_id="pod-1",
        node=tpu_v2.Node(
            accelerator_config=tpu_v2.AcceleratorConfig(
                type_=tpu_v2.AcceleratorConfig.Type.V5LITE_POD, topology="4x4"
            ),
            runtime_version="v2-alpha-tpuv5-lite",
        ),
    ).result(timeout=10)
    assert pod.accelerator_type == "v5litepod-16" and len(pod.network_endpoints) == 2
    with pytest.raises(exceptions.BadRequest) as refused:  # FAILED_PRECONDITION is HTTP 400
        client.stop_node(request=tpu_v2.StopNodeRequest(name=pod.name))
    assert "TPU Pod" in refused.value.message


def test_stockout_fails_the_create_operation(
    client: tpu_v2.TpuClient, mixed_server: RunningServer
) -> None:
    admin(mixed_server, "faults", {"stockout": [ZONE]})
    op = client.create_node(parent=PARENT, node_id="vm-4", node=v5e())
    with pytest.raises(exceptions.GoogleAPICallError) as failed:
        op.result(timeout=10)
    assert failed.value.code == 429 and "no more capacity" in failed.value.message


def test_queued_resource_lifecycle(client: tpu_v2.TpuClient) -> None:
    name = f"{PARENT}/queuedResources/qr-1"
    op = client.create_queued_resource(
        parent=PARENT, queued_resource_id="qr-1", queued_resource=qr_request("qr-vm", spot=True)
    )
    accepted = op.result(timeout=10)
    assert accepted.name == name and accepted.state.state == QR_STATE.ACCEPTED
    active = client.get_queued_resource(name=name)
    assert active.state.state == QR_STATE.ACTIVE and "spot" in active
    node = client.get_node(name=f"{PARENT}/nodes/qr-vm")
    assert node.queued_resource == name and node.scheduling_config.spot
    assert name in [q.name for q in client.list_queued_resources(parent=PARENT)]

    with pytest.raises(exceptions.BadRequest) as refused:
        client.delete_queued_resource(name=name)
    assert "force" in refused.value.message
    with pytest.raises(exceptions.BadRequest):
        client.reset_queued_resource(name=name)  # ACTIVE: nothing to reset

    client.delete_queued_resource(
        request=tpu_v2.DeleteQueuedResourceRequest(name=name, force=True)
    ).result(timeout=10)
    with pytest.raises(exceptions.NotFound):
        client.get_queued_resource(name=name)
    with pytest.raises(exceptions.NotFound):
        client.get_node(name=node.name)


def test_reset_puts_a_suspended_request_back_in_the_queue(
    client: tpu_v2.TpuClient, mixed_server: RunningServer
) -> None:
    name = f"{PARENT}/queuedResources/qr-2"
    client.create_queued_resource(
        parent=PARENT, queued_resource_id="qr-2", queued_resource=qr_request("qr-vm-2", True)
    ).result(timeout=10)
    admin(mixed_server, f"{PARENT}/nodes/qr-vm-2:inject", {"state": "PREEMPTED"})
    suspended = client.get_queued_resource(name=name)
    assert suspended.state.state == QR_STATE.SUSPENDED
    assert suspended.state.state_initiator == tpu_v2.QueuedResourceState.StateInitiator.SERVICE
    preempted = client.get_node(name=f"{PARENT}/nodes/qr-vm-2")
    assert preempted.state == tpu_v2.Node.State.PREEMPTED  # stays until someone deletes it

    reset = client.reset_queued_resource(name=name)
    assert reset.metadata.verb == "reset"
    assert reset.result(timeout=10).state.state == QR_STATE.ACCEPTED
    assert client.get_queued_resource(name=name).state.state == QR_STATE.ACTIVE
    assert client.get_node(name=f"{PARENT}/nodes/qr-vm-2").state == tpu_v2.Node.State.READY


def test_catalog_and_service_identity(client: tpu_v2.TpuClient) -> None:
    versions = {v.version for v in client.list_runtime_versions(parent=PARENT)}
    assert {"tpu-ubuntu2204-base", "v2-alpha-tpuv5-lite"} <= versions
    got = client.get_runtime_version(name=f"{PARENT}/runtimeVersions/v2-alpha-tpuv5-lite")
    assert got.version == "v2-alpha-tpuv5-lite"
    types = {t.type_: t for t in client.list_accelerator_types(parent=PARENT)}
    assert types["v5litepod-16"].accelerator_configs[0].topology == "4x4"
    v6e = client.get_accelerator_type(
        name="projects/ml-prod/locations/us-east5-b/acceleratorTypes/v6e-8"
    )
    assert v6e.accelerator_configs[0].type_ == tpu_v2.AcceleratorConfig.Type.V6E
    locations = client.list_locations(request={"name": "projects/ml-prod"}).locations
    zones = {loc.location_id for loc in locations}
    assert {"us-east5-a", "us-central2-b", "us-central1-b"} <= zones
    identity = client.generate_service_identity(
        request=tpu_v2.GenerateServiceIdentityRequest(parent=PARENT)
    )
    assert identity.identity.email.endswith("@gcp-sa-tpu.iam.gserviceaccount.com")


def test_operations_through_the_client(client: tpu_v2.TpuClient) -> None:
    op = client.create_node(parent=PARENT, node_id="vm-5", node=v5e())
    op.result(timeout=10)
    name = op.operation.name
    listed = [o.name for o in client.list_operations(request={"name": PARENT}).operations]
    assert name in listed
    assert client.get_operation(request={"name": name}).done
    client.delete_operation(request={"name": name})
    with pytest.raises(exceptions.NotFound):
        client.get_operation(request={"name": name})


def test_result_waits_for_the_injected_clock(clock: FakeClock) -> None:
    emulator = Emulator(clock=clock, op_seconds=10)
    server = serve(emulator)
    try:
        client = client_for(server)
        op = client.create_node(parent=PARENT, node_id="slow", node=v5e())
        assert not op.done()
        assert client.get_node(name=f"{PARENT}/nodes/slow").state == tpu_v2.Node.State.CREATING
        client.cancel_operation(request={"name": op.operation.name})
        assert op.done() and op.cancelled()
        second = client.create_node(parent=PARENT, node_id="slow", node=v5e())
        clock.advance(10)
        assert second.done() and second.result().state == tpu_v2.Node.State.READY
    finally:
        server.close()


def test_seeded_v2_fleet_as_the_client_sees_it(client: tpu_v2.TpuClient) -> None:
    nodes = list(client.list_nodes(parent="projects/ml-infra/locations/-"))
    assert nodes and {n.api_version for n in nodes} == {tpu_v2.Node.ApiVersion.V2}
    generations = {n.accelerator_config.type_.name for n in nodes}
    assert len(generations) >= 3
    assert any(n.queued_resource for n in nodes)
    v1 = list(client.list_nodes(parent="projects/ml-prod/locations/-"))
    assert {n.api_version for n in v1} == {tpu_v2.Node.ApiVersion.V1_ALPHA1}
    assert all(n.runtime_version for n in v1)  # the tensorflow version, under v2's name
    waiting = client.get_queued_resource(
        name="projects/ml-prod/locations/us-east5-a/queuedResources/pretrain-v5p-128"
    )
    assert waiting.state.state == QR_STATE.WAITING_FOR_RESOURCES


def test_operations_of_both_versions_in_each_schema(
    client: tpu_v2.TpuClient, mixed_emulator: Emulator
) -> None:
    """The bot's v1alpha1 operations and v2 ones share a project: each reader gets its own
    schema, so Google's client can unpack every one of them."""
    old = mixed_emulator.create_node(
        "projects/ml-prod/locations/us-central1-b",
        "tf-node",
        None,
        {"acceleratorType": "v3-8", "tensorflowVersion": "2.12.0"},
    )
    client.create_node(parent=PARENT, node_id="vm-6", node=v5e()).result(timeout=10)
    listing = client.list_operations(request={"name": "projects/ml-prod/locations/-"})
    by_name = {o.name: o for o in listing.operations}
    assert by_name[old["name"]].done
    seen = client.get_operation(request={"name": old["name"]})
    node = tpu_v2.Node.deserialize(seen.response.value)
    assert node.runtime_version == "2.12.0"
    assert node.api_version == tpu_v2.Node.ApiVersion.V1_ALPHA1
    metadata = tpu_v2.OperationMetadata.deserialize(seen.metadata.value)
    assert metadata.api_version == "v1alpha1" and metadata.verb == "create"
    v1_view = mixed_emulator.get_operation(old["name"])
    assert v1_view["response"]["tensorflowVersion"] == "2.12.0"

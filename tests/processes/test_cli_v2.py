"""`tpu-bot emulator` as a user runs it, driven by a plain google-cloud-tpu (tpu_v2) program."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import tpu_v2
from google.protobuf import field_mask_pb2

from devstack.replicas import emulator_process

ZONE = "us-east5-a"
PARENT = f"projects/ml-vision/locations/{ZONE}"


@pytest.fixture
def emulator_url() -> Iterator[str]:
    args = ("--fleet", "200", "--projects", "6", "--op-seconds", "0")
    with emulator_process(*args) as url:
        yield url


def test_google_cloud_tpu_program_runs_the_v2_lifecycle(emulator_url: str) -> None:
    client = tpu_v2.TpuClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulator_url},
    )
    seeded = list(client.list_nodes(parent="projects/ml-vision/locations/-"))
    assert seeded and all(n.api_version == tpu_v2.Node.ApiVersion.V2 for n in seeded)

    spec = tpu_v2.Node(accelerator_type="v5p-8", runtime_version="v2-alpha-tpuv5")
    node = client.create_node(parent=PARENT, node_id="cli-vm", node=spec).result(timeout=30)
    assert node.state == tpu_v2.Node.State.READY
    stopped = client.stop_node(request={"name": node.name}).result(timeout=30)
    assert stopped.state == tpu_v2.Node.State.STOPPED
    client.start_node(request={"name": node.name}).result(timeout=30)
    updated = client.update_node(
        node=tpu_v2.Node(name=node.name, labels={"owner": "cli"}),
        update_mask=field_mask_pb2.FieldMask(paths=["labels"]),
    ).result(timeout=30)
    assert updated.labels == {"owner": "cli"}
    client.delete_node(name=node.name).result(timeout=30)

    qr_name = f"{PARENT}/queuedResources/cli-qr"
    request = tpu_v2.QueuedResource(
        tpu=tpu_v2.QueuedResource.Tpu(
            node_spec=[
                tpu_v2.QueuedResource.Tpu.NodeSpec(
                    parent=PARENT,
                    node=spec,
                    multislice_params=tpu_v2.QueuedResource.Tpu.NodeSpec.MultisliceParams(
                        node_count=2, node_id_prefix="slice"
                    ),
                )
            ]
        ),
        guaranteed=tpu_v2.QueuedResource.Guaranteed(),
    )
    client.create_queued_resource(
        parent=PARENT, queued_resource_id="cli-qr", queued_resource=request
    ).result(timeout=30)
    active = client.get_queued_resource(name=qr_name)
    assert active.state.state == tpu_v2.QueuedResourceState.State.ACTIVE
    slices = [client.get_node(name=f"{PARENT}/nodes/slice-{i}") for i in range(2)]
    assert all(s.multislice_node and s.queued_resource == qr_name for s in slices)
    with pytest.raises(exceptions.BadRequest):
        client.delete_queued_resource(name=qr_name)
    client.delete_queued_resource(request={"name": qr_name, "force": True}).result(timeout=30)
    with pytest.raises(exceptions.NotFound):
        client.get_node(name=slices[0].name)

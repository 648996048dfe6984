"""TpuClient speaking v2 to the emulator over HTTP: the seeded TPU VMs of its later projects
(`ml-infra`, `ml-vision`), queued resources, operations, typed errors, and per-project routing."""

from __future__ import annotations

import pytest

from bot.core.capacity import CapacityProblem, capacity_problem
from bot.core.models import AcceleratorConfig, NodeSpec, NodeState
from bot.core.queued import QueuedNodeSpec, QueuedResourceRequest, QueuedState, StateInitiator
from bot.tpu.client import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    NotSupported,
    ResourceExhausted,
    TpuClient,
)
from devstack.admin import admin
from devstack.clock import FakeClock
from tpu_emulator import Emulator, catalog
from tpu_emulator.http import RunningServer

V2_PROJECTS = ("ml-infra", "ml-vision")
ZONE = "us-west4-a"  # v5litepod only
VM = NodeSpec(accelerator_type="v5litepod-4", software_version="v2-alpha-tpuv5-lite")


@pytest.fixture
def emulator(clock: FakeClock) -> Emulator:
    """Five projects: the last two hold v2 TPU VMs and queued resources; operations take 10 s."""
    return Emulator(clock=clock, op_seconds=10, fleet=60, projects=5)


@pytest.fixture
def tpu(emulator_server: RunningServer) -> TpuClient:
    return TpuClient(emulator_server.url, retries=2, backoff_seconds=0.001, timeout=10)


def calls(server: RunningServer, method: str) -> int:
    return int(admin(server, "stats")["requests"].get(method, 0))


def slice_request(parent: str, **kwargs: object) -> QueuedResourceRequest:
    spec = QueuedNodeSpec(
        parent=parent,
        accelerator_type="v5litepod-4",
        software_version="v2-alpha-tpuv5-lite",
        **kwargs,  # type: ignore[arg-type]
    )
    return QueuedResourceRequest(node_specs=(spec,))


def test_lists_vms_across_zones_in_pages(
    emulator_server: RunningServer, emulator: Emulator
) -> None:
    client = TpuClient(emulator_server.url, page_size=3, retries=0)
    listing = client.list_nodes("ml-infra")
    expected = emulator.node_names("ml-infra")
    assert [n.name for n in listing.nodes] == expected and listing.complete
    assert len({n.zone for n in listing.nodes}) > 3
    for node in listing.nodes:
        generation = catalog.generation(node.accelerator_type)
        assert node.software_version in catalog.GENERATIONS[generation][2]
        assert node.tensorflow_version == node.software_version
        assert node.accelerator_config is not None
        assert node.accelerator_config.type == catalog.GENERATIONS[generation][0]
    assert calls(emulator_server, "v2.nodes.list") == -(-len(expected) // 3)
    assert calls(emulator_server, "nodes.list") == 0


def test_v2_fields_spot_queued_maintenance(tpu: TpuClient, emulator: Emulator) -> None:
    nodes = [n for p in V2_PROJECTS for n in tpu.list_nodes(p).nodes]
    assert any(n.spot for n in nodes) and not any(n.spot and n.preemptible for n in nodes)
    behind = [n for n in nodes if n.queued_resource]
    assert behind
    for node in behind:
        queued = tpu.get_queued_resource(node.queued_resource)
        assert node.name in queued.node_names and queued.project == node.project
    announced = [n for n in nodes if n.maintenance is not None]
    assert len(announced) == 1
    maintenance = announced[0].maintenance
    assert maintenance is not None and maintenance.type == "SCHEDULED"
    assert maintenance.status == "PENDING" and maintenance.can_reschedule
    assert maintenance.window_start is not None and maintenance.window_end is not None
    assert maintenance.window_start < maintenance.window_end
    assert maintenance.latest_window_start is not None
    assert tpu.get_node(announced[0].name) == announced[0]


def test_spot_preempted_vm(tpu: TpuClient, emulator_server: RunningServer) -> None:
    victim = next(
        n for n in tpu.list_nodes("ml-vision").nodes if n.state is NodeState.READY and n.spot
    )
    admin(emulator_server, f"{victim.name}:inject", {"state": "PREEMPTED"})
    node = tpu.get_node(victim.name)
    assert node.state is NodeState.PREEMPTED and node.spot
    with pytest.raises(FailedPrecondition):
        tpu.start_node(node.name)


def test_stop_start_delete_through_operations(tpu: TpuClient, clock: FakeClock) -> None:
    node = next(
        n
        for n in tpu.list_nodes("ml-infra").nodes
        if n.state is NodeState.READY and not n.is_multi_host and not n.queued_resource
    )
    op = tpu.stop_node(node.name)
    assert not op.done and op.verb == "stop" and op.target == node.name
    clock.advance(11)
    done = tpu.get_operation(op.name)
    assert done.succeeded and done.node is not None and done.node.state is NodeState.STOPPED
    assert done.node.software_version == node.software_version
    started = tpu.start_node(node.name)
    clock.advance(11)
    assert tpu.get_operation(started.name).succeeded
    assert tpu.get_node(node.name).state is NodeState.READY
    deleting = tpu.delete_node(node.name)
    assert deleting.verb == "delete"
    clock.advance(11)
    assert tpu.get_operation(deleting.name).succeeded
    with pytest.raises(NotFound):
        tpu.get_node(node.name)


def test_labels_patch(tpu: TpuClient, emulator_server: RunningServer, clock: FakeClock) -> None:
    node = tpu.list_nodes("ml-infra").nodes[0]
    op = tpu.label_node(node.name, {"team": "vision", "owner": "ada"})
    clock.advance(11)
    assert tpu.get_operation(op.name).succeeded
    assert dict(tpu.get_node(node.name).labels) == {"team": "vision", "owner": "ada"}
    assert calls(emulator_server, "v2.nodes.patch") == 1


def test_create_by_accelerator_config_and_spot(tpu: TpuClient, clock: FakeClock) -> None:
    spec = NodeSpec(
        accelerator_type="",
        software_version="v2-alpha-tpuv5-lite",
        accelerator_config=AcceleratorConfig("V5LITE_POD", "2x2"),
        spot=True,
        labels={"made-by": "test"},
    )
    op = tpu.create_node("ml-infra", ZONE, "shaped", spec)
    clock.advance(11)
    node = tpu.get_node(op.target)
    assert node.accelerator_type == "v5litepod-4" and node.spot and not node.preemptible
    assert node.accelerator_config == AcceleratorConfig("V5LITE_POD", "2x2")
    assert node.state is NodeState.READY and node.labels == {"made-by": "test"}
    assert tpu.get_node(op.target).spec.spot


def test_retried_create_adopts_its_own_node(
    tpu: TpuClient, emulator_server: RunningServer, clock: FakeClock
) -> None:
    # The first create is applied but its answer lost; the library's retry meets ALREADY_EXISTS.
    admin(
        emulator_server,
        "faults",
        {"failNext": 1, "errorCode": 503, "afterApply": True, "methods": ["v2.nodes.create"]},
    )
    op = tpu.create_node("ml-infra", ZONE, "once", VM, request_id="r-1")
    assert calls(emulator_server, "v2.nodes.create") == 2 and op.verb == "create"
    creates = [o for o in tpu.list_operations("ml-infra", ZONE) if o.target == op.target]
    assert [o.name for o in creates] == [op.name]
    # The caller retries with the same request id: the same operation again.
    assert tpu.create_node("ml-infra", ZONE, "once", VM, request_id="r-1").name == op.name
    # Anyone else asking for that node id is refused.
    with pytest.raises(AlreadyExists):
        tpu.create_node("ml-infra", ZONE, "once", VM, request_id="r-2")


def test_retried_delete_adopts_its_own_operation(
    tpu: TpuClient, emulator_server: RunningServer, clock: FakeClock
) -> None:
    name = tpu.list_nodes("ml-infra").nodes[1].name
    admin(
        emulator_server,
        "faults",
        {"failNext": 1, "errorCode": 503, "afterApply": True, "methods": ["v2.nodes.delete"]},
    )
    op = tpu.delete_node(name, request_id="d-1")
    assert calls(emulator_server, "v2.nodes.delete") == 2 and op.verb == "delete"
    assert op.target == name and not op.done
    clock.advance(11)
    # Retried by the caller after the node went: still its own, finished, operation.
    again = tpu.delete_node(name, request_id="d-1")
    assert again.name == op.name and again.succeeded
    with pytest.raises(NotFound):
        tpu.delete_node(name, request_id="d-2")


def test_guest_attributes(tpu: TpuClient) -> None:
    node = tpu.list_nodes("ml-infra").nodes[1]
    items = tpu.guest_attributes(node.name)[0]["queryValue"]["items"]
    assert {"namespace": "tpu", "key": "runtime-version", "value": node.software_version} in items


def test_queued_resource_lifecycle(tpu: TpuClient, clock: FakeClock) -> None:
    parent = f"projects/ml-infra/locations/{ZONE}"
    request = slice_request(parent, node_id="trainer")
    op = tpu.create_queued_resource("ml-infra", ZONE, "train-qr", request, request_id="q-1")
    name = f"{parent}/queuedResources/train-qr"
    again = tpu.create_queued_resource("ml-infra", ZONE, "train-qr", request, request_id="q-1")
    assert again.name == op.name
    queued = tpu.get_queued_resource(name)
    assert queued.state is QueuedState.ACCEPTED and queued.id == "train-qr"
    assert queued.node_names == (f"{parent}/nodes/trainer",) and queued.is_waiting
    spec = queued.node_specs[0]
    assert spec.accelerator_type == "v5litepod-4" and spec.software_version == "v2-alpha-tpuv5-lite"
    clock.advance(11)
    assert tpu.get_queued_resource(name).state is QueuedState.PROVISIONING
    clock.advance(11)
    assert tpu.get_queued_resource(name).state is QueuedState.ACTIVE
    node = tpu.get_node(f"{parent}/nodes/trainer")
    assert node.queued_resource == name and node.state is NodeState.READY
    listed = tpu.list_queued_resources("ml-infra").queued_resources
    assert name in [q.name for q in listed]
    with pytest.raises(FailedPrecondition):
        tpu.delete_queued_resource(name)
    deleting = tpu.delete_queued_resource(name, force=True)
    clock.advance(11)
    assert tpu.get_operation(deleting.name).succeeded
    with pytest.raises(NotFound):
        tpu.get_queued_resource(name)
    with pytest.raises(NotFound):
        tpu.get_node(node.name)


def test_multislice_queued_resource(tpu: TpuClient, clock: FakeClock) -> None:
    parent = f"projects/ml-vision/locations/{ZONE}"
    request = slice_request(parent, multislice_count=2, multislice_prefix="ms")
    tpu.create_queued_resource("ml-vision", ZONE, "multi", request)
    clock.advance(22)
    queued = tpu.get_queued_resource(f"{parent}/queuedResources/multi")
    assert queued.state is QueuedState.ACTIVE and queued.is_multislice
    assert queued.node_names == (f"{parent}/nodes/ms-0", f"{parent}/nodes/ms-1")
    nodes = [tpu.get_node(n) for n in queued.node_names]
    assert all(n.multislice_node and n.queued_resource == queued.name for n in nodes)


def test_failed_queued_resource_reset_and_stockout(tpu: TpuClient, clock: FakeClock) -> None:
    failed = next(
        q for q in tpu.list_queued_resources("ml-infra").queued_resources if q.failure is not None
    )
    assert failed.state is QueuedState.FAILED and failed.state_initiator is StateInitiator.SERVICE
    assert failed.failure is not None and failed.failure.code_name == "RESOURCE_EXHAUSTED"
    assert capacity_problem(failed.failure.message) is CapacityProblem.STOCKOUT
    op = tpu.reset_queued_resource(failed.name)
    assert op.target == failed.name
    clock.advance(11)
    assert tpu.get_operation(op.name).succeeded
    assert tpu.get_queued_resource(failed.name).state is not QueuedState.FAILED


def test_quota_and_stockout_are_told_apart(
    tpu: TpuClient, emulator_server: RunningServer, clock: FakeClock
) -> None:
    admin(emulator_server, "faults", {"stockout": [ZONE], "quota": ["us-east5-b"]})
    op = tpu.create_node("ml-infra", ZONE, "no-room", VM)
    clock.advance(11)
    failed = tpu.get_operation(op.name)
    assert failed.error is not None and failed.error.code_name == "RESOURCE_EXHAUSTED"
    assert capacity_problem(failed.error.message) is CapacityProblem.STOCKOUT
    parent = "projects/ml-infra/locations/us-east5-b"
    request = QueuedResourceRequest(
        (QueuedNodeSpec(parent, "big", "v6e-8", software_version="v2-alpha-tpuv6e"),)
    )
    tpu.create_queued_resource("ml-infra", "us-east5-b", "over-quota", request)
    clock.advance(22)
    queued = tpu.get_queued_resource(f"{parent}/queuedResources/over-quota")
    assert queued.state is QueuedState.FAILED and queued.failure is not None
    assert capacity_problem(queued.failure.message) is CapacityProblem.QUOTA


def test_typed_errors(tpu: TpuClient, emulator_server: RunningServer, clock: FakeClock) -> None:
    with pytest.raises(NotFound):
        tpu.get_node("projects/ml-infra/locations/us-west4-a/nodes/missing")
    with pytest.raises(NotFound):
        tpu.get_queued_resource("projects/ml-infra/locations/us-west4-a/queuedResources/none")
    tpu.create_node("ml-infra", ZONE, "dup", VM)
    with pytest.raises(AlreadyExists):
        tpu.create_node("ml-infra", ZONE, "dup", VM)
    pod = next(n for n in tpu.list_nodes("ml-infra").nodes if n.is_multi_host)
    with pytest.raises(FailedPrecondition):
        tpu.stop_node(pod.name)
    admin(emulator_server, "faults", {"failNext": 9, "errorCode": 429})
    client = TpuClient(tpu.endpoint, retries=0)
    with pytest.raises(ResourceExhausted) as limited:
        client.list_queued_resources("ml-infra")
    assert limited.value.retryable


def test_reimage_is_refused_on_v2(tpu: TpuClient, emulator_server: RunningServer) -> None:
    node = tpu.list_nodes("ml-infra").nodes[0]
    with pytest.raises(NotSupported) as refused:
        tpu.reimage_node(node.name, "tpu-vm-pt-2.4")
    assert "delete" in refused.value.message and "tpu-vm-pt-2.4" in refused.value.message
    assert not refused.value.retryable
    stats = admin(emulator_server, "stats")["requests"]
    assert not any("reimage" in key for key in stats)


def test_unreachable_zones_make_partial_listings(
    tpu: TpuClient, emulator_server: RunningServer
) -> None:
    there = next(n for n in tpu.list_nodes("ml-infra").nodes if n.zone == ZONE)
    tpu.label_node(there.name, {"seen": "yes"})
    assert any(op.zone == ZONE for op in tpu.list_operations("ml-infra"))
    admin(emulator_server, "faults", {"unreachable": [ZONE]})
    nodes = tpu.list_nodes("ml-infra")
    assert nodes.unreachable == (f"projects/ml-infra/locations/{ZONE}",)
    assert nodes.nodes and all(n.zone != ZONE for n in nodes.nodes)
    queued = tpu.list_queued_resources("ml-infra")
    assert not queued.complete and all(q.zone != ZONE for q in queued.queued_resources)
    zonal = tpu.list_queued_resources("ml-infra", (ZONE, "us-east5-a"))
    assert zonal.unreachable == (f"projects/ml-infra/locations/{ZONE}",)
    assert all(op.zone != ZONE for op in tpu.list_operations("ml-infra"))


def test_catalog_speaks_runtime_versions(tpu: TpuClient, emulator_server: RunningServer) -> None:
    versions = {v.version for v in tpu.list_runtime_versions("ml-infra", "us-east5-a")}
    assert versions == set(catalog.v2_runtime_versions("us-east5-a"))
    assert tpu.list_tensorflow_versions("ml-infra", "us-east5-a") == tpu.list_runtime_versions(
        "ml-infra", "us-east5-a"
    )
    types = {t.type for t in tpu.list_accelerator_types("ml-infra", ZONE)}
    assert types == set(catalog.v2_types(ZONE))
    assert calls(emulator_server, "v2.runtimeVersions.list") == 3
    assert calls(emulator_server, "tensorflowVersions.list") == 0


def test_mixed_config_routes_each_project_to_its_version(
    emulator_server: RunningServer, emulator: Emulator, clock: FakeClock
) -> None:
    client = TpuClient(emulator_server.url, apis={"ml-prod": "v1alpha1"}, retries=0)
    assert client.api_of("ml-prod") == "v1alpha1" and client.api_of("ml-infra") == "v2"
    old = client.list_nodes("ml-prod")
    new = client.list_nodes("ml-infra")
    assert [n.name for n in old.nodes] == emulator.node_names("ml-prod")
    assert [n.name for n in new.nodes] == emulator.node_names("ml-infra")
    assert calls(emulator_server, "nodes.list") == 1
    assert calls(emulator_server, "v2.nodes.list") == 1
    client.get_node(old.nodes[0].name)
    client.get_node(new.nodes[0].name)
    assert calls(emulator_server, "nodes.get") == 1 and calls(emulator_server, "v2.nodes.get") == 1
    assert client.list_queued_resources("ml-prod").queued_resources == ()
    assert calls(emulator_server, "v2.queuedResources.list") == 0
    for refused in (
        lambda: client.label_node(old.nodes[0].name, {"a": "b"}),
        lambda: client.reset_queued_resource(
            "projects/ml-prod/locations/us-east5-b/queuedResources/sweep-v6e-8-spot"
        ),
    ):
        with pytest.raises(NotSupported):
            refused()
    tensorflow = client.list_tensorflow_versions("ml-prod", "us-central1-b")
    assert "2.12.0" in {v.version for v in tensorflow}
    assert calls(emulator_server, "tensorflowVersions.list") == 1
    # The same TPU Node read through v2 (the default): its TensorFlow version is its runtime.
    through_v2 = TpuClient(emulator_server.url, retries=0).get_node(old.nodes[0].name)
    assert through_v2.software_version == old.nodes[0].software_version


def test_unknown_api_version_is_refused() -> None:
    with pytest.raises(ValueError, match="v1beta"):
        TpuClient("http://127.0.0.1:9", apis={"ml-prod": "v1beta"})

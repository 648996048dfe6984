"""Google's generated client (google-cloud-compute, REST) against the emulator's Compute Engine:
when the client and the emulator disagree, the emulator is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import compute_v1

from devstack.admin import admin
from devstack.clock import FakeClock
from tests.conformance.compute_support import (
    BLOCK,
    BLOCK_PARENT,
    FLEX,
    FLEX_ZONE,
    GKE,
    OP_SECONDS,
    PROJECT,
    RESERVATION,
    SLICE,
    SLICE_ZONE,
    SPARE_SUB_BLOCK,
    gapic,
    seeded,
    serving,
)
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer

DONE = compute_v1.Operation.Status.DONE


@pytest.fixture
def emulator(clock: FakeClock) -> Emulator:
    return seeded(clock)


@pytest.fixture
def server(emulator: Emulator) -> Iterator[RunningServer]:
    with serving(emulator) as running:
        yield running


@pytest.fixture
def instances(server: RunningServer) -> compute_v1.InstancesClient:
    return gapic(compute_v1.InstancesClient, server)


def v6e(name: str, **extra: Any) -> compute_v1.Instance:
    return compute_v1.Instance(
        name=name, machine_type=f"zones/{FLEX_ZONE}/machineTypes/ct6e-standard-4t", **extra
    )


@pytest.fixture
def ops(server: RunningServer) -> compute_v1.ZoneOperationsClient:
    return gapic(compute_v1.ZoneOperationsClient, server)


def settle(op: Any, clock: FakeClock, ops: compute_v1.ZoneOperationsClient) -> None:
    """The operation's time passes on the emulator clock and ZoneOperations.wait sees it DONE.
    (`op.result()` would poll through a ZoneOperationsClient the generated client builds
    without our client_options, i.e. compute.googleapis.com: see the op_seconds=0 test.)"""
    clock.advance(OP_SECONDS + 1)
    zone = op.zone.rsplit("/", 1)[1]
    done = ops.wait(project=PROJECT, zone=zone, operation=op.name)
    assert done.status == DONE and not done.http_error_status_code, done


def test_instance_lifecycle(
    instances: compute_v1.InstancesClient, clock: FakeClock, ops: compute_v1.ZoneOperationsClient
) -> None:
    where = {"project": PROJECT, "zone": FLEX_ZONE}
    spot = compute_v1.Scheduling(provisioning_model="SPOT")
    op = instances.insert(
        **where, instance_resource=v6e("client-1", labels={"team": "nlp"}, scheduling=spot)
    )
    assert op.status != DONE and op.operation_type == "insert"
    assert instances.get(**where, instance="client-1").status == "PROVISIONING"
    settle(op, clock, ops)
    vm = instances.get(**where, instance="client-1")
    assert vm.status == "RUNNING" and vm.scheduling.provisioning_model == "SPOT"
    assert vm.scheduling.instance_termination_action == "STOP" and vm.scheduling.preemptible
    assert vm.machine_type.endswith("/machineTypes/ct6e-standard-4t")

    settle(instances.stop(**where, instance="client-1"), clock, ops)
    assert instances.get(**where, instance="client-1").status == "TERMINATED"
    settle(instances.start(**where, instance="client-1"), clock, ops)
    assert instances.get(**where, instance="client-1").status == "RUNNING"

    fingerprint = instances.get(**where, instance="client-1").label_fingerprint
    relabel = compute_v1.InstancesSetLabelsRequest(
        labels={"team": "rl"}, label_fingerprint=fingerprint
    )
    settle(
        instances.set_labels(
            **where, instance="client-1", instances_set_labels_request_resource=relabel
        ),
        clock,
        ops,
    )
    updated = instances.get(**where, instance="client-1")
    assert updated.labels == {"team": "rl"} and updated.label_fingerprint != fingerprint
    with pytest.raises(exceptions.PreconditionFailed) as stale:  # the old fingerprint: 412
        instances.set_labels(
            **where, instance="client-1", instances_set_labels_request_resource=relabel
        )
    assert "fingerprint" in stale.value.message

    settle(instances.delete(**where, instance="client-1"), clock, ops)
    with pytest.raises(exceptions.NotFound):
        instances.get(**where, instance="client-1")


def test_lists_filter_and_page(instances: compute_v1.InstancesClient, emulator: Emulator) -> None:
    request = compute_v1.AggregatedListInstancesRequest(project=PROJECT, max_results=5)
    everything = [
        vm for _, scoped in instances.aggregated_list(request=request) for vm in scoped.instances
    ]
    names = [vm.name for vm in everything]
    assert len(names) == len(set(names)) == len(emulator.compute.instance_keys(PROJECT))
    running = compute_v1.AggregatedListInstancesRequest(
        project=PROJECT, filter='(status = "RUNNING") AND (labels.team = "llm")', max_results=4
    )
    found = {
        vm.name
        for _, scoped in instances.aggregated_list(request=running)
        for vm in scoped.instances
    }
    expected = {
        vm.name for vm in everything if vm.status == "RUNNING" and vm.labels.get("team") == "llm"
    }
    assert found == expected and len(found) >= 16  # the slice's hosts are the llm team's
    regex = compute_v1.AggregatedListInstancesRequest(
        project=PROJECT, filter="machineType eq .*tpu7x.*"
    )
    ironwood = [vm for _, s in instances.aggregated_list(request=regex) for vm in s.instances]
    assert {vm.zone.rsplit("/", 1)[1] for vm in ironwood} == {SLICE_ZONE} and len(ironwood) >= 16
    zonal = instances.list(
        request={"project": PROJECT, "zone": FLEX_ZONE, "filter": 'name = "flex-v6e-*"'}
    )
    assert sorted(vm.name for vm in zonal) and all(vm.name.startswith("flex-v6e-") for vm in zonal)
    with pytest.raises(exceptions.BadRequest):
        list(
            instances.list(
                request={"project": PROJECT, "zone": FLEX_ZONE, "filter": "status ~ RUN"}
            )
        )


def test_operations_wait(
    instances: compute_v1.InstancesClient,
    ops: compute_v1.ZoneOperationsClient,
    clock: FakeClock,
    emulator: Emulator,
) -> None:
    where = {"project": PROJECT, "zone": FLEX_ZONE}
    first = instances.insert(**where, instance_resource=v6e("client-2"))
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(ops.wait, operation=first.name, **where)
        clock.advance(OP_SECONDS + 1)  # wait answers once the operation is DONE
        assert waiting.result(timeout=30).status == DONE
    emulator.compute.wait_seconds = 0.1  # Google's wait may also answer before DONE
    stopping = instances.stop(**where, instance="client-2")
    assert ops.wait(operation=stopping.name, **where).status != DONE
    assert ops.get(operation=stopping.name, **where).progress == 0
    listed = list(ops.list(request={**where, "order_by": "creationTimestamp desc"}))
    assert [o.operation_type for o in listed[:2]] == ["stop", "insert"]


def test_extended_operations_with_operations_done_at_once(clock: FakeClock) -> None:
    """With op_seconds=0 every operation comes back DONE, so the generated client's `.result()`
    needs no polling (its poller ignores client_options and would ask Google)."""
    with serving(seeded(clock, op_seconds=0)) as server:
        instances = gapic(compute_v1.InstancesClient, server)
        where = {"project": PROJECT, "zone": FLEX_ZONE}
        op = instances.insert(**where, instance_resource=v6e("client-3"))
        assert op.status == DONE and op.result(timeout=5) is None
        assert instances.get(**where, instance="client-3").status == "RUNNING"
        admin(server, "faults", {"stockout": [FLEX_ZONE]})
        failing = instances.insert(**where, instance_resource=v6e("client-4"))
        with pytest.raises(exceptions.ServiceUnavailable) as stockout:
            failing.result(timeout=5)
        assert stockout.value.code == 503 and stockout.value.message == "SERVICE UNAVAILABLE"
        assert "ZONE_RESOURCE_POOL_EXHAUSTED" in str(stockout.value.errors)
        with pytest.raises(exceptions.NotFound):  # the instance that could not be made is gone
            instances.get(**where, instance="client-4")
        restart = instances.stop(**where, instance="client-3")
        assert restart.result(timeout=5) is None
        with pytest.raises(exceptions.ServiceUnavailable):  # no capacity to start it again
            instances.start(**where, instance="client-3").result(timeout=5)
        assert instances.get(**where, instance="client-3").status == "TERMINATED"


def test_report_host_as_faulty_repairs_the_vm(
    instances: compute_v1.InstancesClient,
    clock: FakeClock,
    emulator: Emulator,
    ops: compute_v1.ZoneOperationsClient,
) -> None:
    where = {"project": PROJECT, "zone": SLICE_ZONE}
    host = next(iter(instances.list(request={**where, "filter": 'name = "ironwood-slice-a-*"'})))
    before = host.resource_status.physical_host_topology.host
    report = compute_v1.InstancesReportHostAsFaultyRequest(
        disruption_schedule="IMMEDIATE",
        fault_reasons=[
            compute_v1.InstancesReportHostAsFaultyRequestFaultReason(behavior="CHIP_ERROR")
        ],
    )
    op = instances.report_host_as_faulty(
        **where, instance=host.name, instances_report_host_as_faulty_request_resource=report
    )
    assert instances.get(**where, instance=host.name).status == "REPAIRING"
    clock.advance(emulator.compute.repair_seconds + OP_SECONDS)
    assert ops.wait(project=PROJECT, zone=SLICE_ZONE, operation=op.name).status == DONE
    repaired = instances.get(**where, instance=host.name)
    assert repaired.status == "RUNNING"
    assert repaired.resource_status.physical_host_topology.host != before


def test_groups_and_managed_instances(server: RunningServer) -> None:
    groups = gapic(compute_v1.InstanceGroupManagersClient, server)
    group = groups.get(project=PROJECT, zone=SLICE_ZONE, instance_group_manager=SLICE)
    assert group.target_size == 16 and group.status.is_stable
    assert group.status.applied_accelerator_topologies[0].accelerator_topology == "4x4x4"
    assert group.status.applied_accelerator_topologies[0].state == "ACTIVE"
    managed = list(
        groups.list_managed_instances(
            project=PROJECT, zone=SLICE_ZONE, instance_group_manager=SLICE
        )
    )
    assert len(managed) == 16 and {m.current_action for m in managed} == {"NONE"}
    assert {m.instance_status for m in managed} == {"RUNNING"}

    admin(
        server,
        f"projects/{PROJECT}/zones/{SLICE_ZONE}/instanceGroupManagers/{SLICE}:inject",
        {"brokenHosts": 2},
    )
    degraded = groups.get(project=PROJECT, zone=SLICE_ZONE, instance_group_manager=SLICE)
    assert not degraded.status.is_stable
    assert degraded.status.applied_accelerator_topologies[0].state == "ACTIVE_DEGRADED"
    statuses = [
        m.instance_status
        for m in groups.list_managed_instances(
            project=PROJECT, zone=SLICE_ZONE, instance_group_manager=SLICE
        )
    ]
    assert statuses.count("REPAIRING") == 2
    gke = groups.get(project=PROJECT, zone=FLEX_ZONE, instance_group_manager=GKE)
    assert gke.target_size == 4 and gke.base_instance_name.startswith("gke-research-")
    aggregated = groups.aggregated_list(project=PROJECT)
    assert {g.name for _, s in aggregated for g in s.instance_group_managers} == {SLICE, FLEX, GKE}


def test_resize_requests(
    server: RunningServer,
    clock: FakeClock,
    instances: compute_v1.InstancesClient,
    ops: compute_v1.ZoneOperationsClient,
) -> None:
    client = gapic(compute_v1.InstanceGroupManagerResizeRequestsClient, server)
    groups = gapic(compute_v1.InstanceGroupManagersClient, server)
    where = {"project": PROJECT, "zone": FLEX_ZONE, "instance_group_manager": FLEX}
    request = compute_v1.InstanceGroupManagerResizeRequest(
        name="client-rr", resize_by=3, requested_run_duration=compute_v1.Duration(seconds=3600)
    )
    op = client.insert(**where, instance_group_manager_resize_request_resource=request)
    assert client.get(**where, resize_request="client-rr").state == "ACCEPTED"
    settle(op, clock, ops)
    assert client.get(**where, resize_request="client-rr").state == "CREATING"
    clock.advance(OP_SECONDS + 1)
    assert client.get(**where, resize_request="client-rr").state == "SUCCEEDED"
    managed = list(groups.list_managed_instances(**where))
    flex_vms = [m for m in managed if m.scheduling.termination_timestamp]
    assert len(flex_vms) == 5  # 2 seeded, 3 asked for
    vm = instances.get(project=PROJECT, zone=FLEX_ZONE, instance=flex_vms[-1].name)
    assert vm.scheduling.provisioning_model == "FLEX_START"

    with pytest.raises(exceptions.BadRequest):  # only a queued request can be cancelled
        client.cancel(**where, resize_request="client-rr")
    settle(client.cancel(**where, resize_request="flex-v6e-queued"), clock, ops)
    assert client.get(**where, resize_request="flex-v6e-queued").state == "CANCELLED"
    settle(client.delete(**where, resize_request="flex-v6e-queued"), clock, ops)
    assert {r.name for r in client.list(**where)} == {"flex-v6e-granted", "client-rr"}
    with pytest.raises(exceptions.Conflict):
        client.insert(**where, instance_group_manager_resize_request_resource=request)


def test_reservations_blocks_and_sub_blocks(
    server: RunningServer, clock: FakeClock, ops: compute_v1.ZoneOperationsClient
) -> None:
    reservations = gapic(compute_v1.ReservationsClient, server)
    res = reservations.get(project=PROJECT, zone=SLICE_ZONE, reservation=RESERVATION)
    assert res.specific_reservation.count == 32 and res.specific_reservation.in_use_count == 16
    assert res.resource_status.health_info.health_status == "DEGRADED"
    blocks = gapic(compute_v1.ReservationBlocksClient, server)
    block = blocks.get(
        project=PROJECT, zone=SLICE_ZONE, reservation=RESERVATION, reservation_block=BLOCK
    ).resource
    assert (
        block.reservation_sub_block_count == 2 and block.health_info.degraded_sub_block_count == 1
    )
    subs = gapic(compute_v1.ReservationSubBlocksClient, server)
    at = {"project": PROJECT, "zone": SLICE_ZONE, "parent_name": BLOCK_PARENT}
    spare = subs.get(**at, reservation_sub_block=SPARE_SUB_BLOCK).resource
    assert spare.health_info.degraded_host_count == 1
    pending = spare.reservation_sub_block_maintenance.upcoming_group_maintenance
    assert pending.maintenance_status == "PENDING" and pending.window_start_time
    report = compute_v1.ReservationSubBlocksReportFaultyRequest(
        disruption_schedule="IMMEDIATE",
        fault_reasons=[
            compute_v1.ReservationSubBlocksReportFaultyRequestFaultReason(behavior="PERFORMANCE")
        ],
    )
    settle(
        subs.report_faulty(
            **at,
            reservation_sub_block=SPARE_SUB_BLOCK,
            reservation_sub_blocks_report_faulty_request_resource=report,
        ),
        clock,
        ops,
    )
    assert (
        subs.get(
            **at, reservation_sub_block=SPARE_SUB_BLOCK
        ).resource.health_info.degraded_host_count
        == 2
    )
    settle(subs.perform_maintenance(**at, reservation_sub_block=SPARE_SUB_BLOCK), clock, ops)
    after = subs.get(**at, reservation_sub_block=SPARE_SUB_BLOCK).resource
    assert not after.reservation_sub_block_maintenance.upcoming_group_maintenance.window_start_time
    names = [s.name for s in subs.list(**at)]
    assert names == [f"{BLOCK}-subblock-0001", SPARE_SUB_BLOCK]
    policies = gapic(compute_v1.ResourcePoliciesClient, server)
    policy = policies.get(project=PROJECT, region="us-central1", resource_policy="ironwood-4x4x4")
    assert policy.workload_policy.accelerator_topology == "4x4x4"
    futures = gapic(compute_v1.FutureReservationsClient, server)
    future = next(iter(futures.list(project=PROJECT, zone=SLICE_ZONE)))
    assert future.specific_sku_properties.total_count == 64

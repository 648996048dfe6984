"""Pure pieces of the third kind of TPU: names under `zones/` (nested too), references, the
commands, and the watcher's decisions about instances, slices, flex-start requests and
sub-blocks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core import commands as cmd
from bot.core.commands.compute import MaintenanceStart, QueueCancel, ReportFaulty, Slices
from bot.core.instances import (
    FlexRequest,
    FlexState,
    Host,
    Instance,
    InstanceGroup,
    InstanceStatus,
    ProvisioningModel,
    Reservation,
    ReservationBlock,
    SubBlock,
)
from bot.core.models import Maintenance
from bot.core.names import Kind, ResourceName, short_name
from bot.core.noderef import parse_ref
from bot.core.watching import instances as watched
from bot.core.watching.capacity_events import Listed, capacity_events
from bot.core.watching.diff import EventKind, Snapshot
from devstack.clock import T0

Z = "projects/ml-prod/zones/us-central1-c"
GROUP = f"{Z}/instanceGroupManagers/slice-a"
FLEX = "projects/ml-prod/zones/us-east5-b/instanceGroupManagers/flex/resizeRequests/more"
SUB = f"{Z}/reservations/r/reservationBlocks/b/reservationSubBlocks/s1"


def test_names_under_zones_and_within_a_parent_parse_once() -> None:
    name = ResourceName.parse(FLEX)
    assert (name.project, name.zone, name.kind, name.id) == (
        "ml-prod",
        "us-east5-b",
        "resizeRequests",
        "more",
    )
    assert name.in_zones and not name.is_instance and name.full == FLEX
    assert name.owner is not None and name.owner.full == FLEX.rsplit("/resizeRequests/", 1)[0]
    assert short_name(FLEX) == "ml-prod/us-east5-b/flex/more"
    sub = ResourceName.parse(SUB)
    assert sub.kind == Kind.SUB_BLOCK and sub.within == (
        ("reservations", "r"),
        ("reservationBlocks", "b"),
    )
    vm = ResourceName.of("p1", "us-east5-a", Kind.INSTANCE, "vm-1")
    assert vm.full == "projects/p1/zones/us-east5-a/instances/vm-1" and vm.is_instance
    assert ResourceName.parse("projects/p/locations/z/nodes/n").placement == "locations"


def test_a_full_instance_name_is_a_reference_like_a_nodes() -> None:
    ref = parse_ref("projects/ml-prod/zones/us-east5-a/instances/vm-1")
    assert (ref.project, ref.zone, ref.node_id) == ("ml-prod", "us-east5-a", "vm-1")


def test_the_new_subcommands_parse_and_are_declared_once() -> None:
    assert cmd.parse("slices zone=us-central1-c") == Slices(None, "us-central1-c")
    faulty = cmd.parse("report-faulty vm-1 chips fail")
    assert isinstance(faulty, ReportFaulty) and faulty.reason == "chips fail"
    with pytest.raises(cmd.UsageError, match="Say why"):
        cmd.parse("report-faulty vm-1")
    started = cmd.parse(f"maintenance start {SUB}")
    assert isinstance(started, MaintenanceStart) and started.full == SUB
    assert cmd.parse("maintenance start vm-1") == MaintenanceStart(parse_ref("vm-1"))
    cancel = cmd.parse(f"queue cancel {FLEX}")
    assert isinstance(cancel, QueueCancel) and cancel.full == FLEX and cancel.name.node_id == "more"
    requeue = cmd.parse(f"requeue {FLEX}")
    assert isinstance(requeue, cmd.Requeue) and requeue.flex == FLEX
    assert cmd.spec_of(faulty).verb == cmd.Verb.REPORT_FAULTY


def snap(name: str, state: str = "RUNNING", health: str = "", maintenance: str = "") -> Snapshot:
    return Snapshot(name, state, health, "ct6e-standard-4t", maintenance=maintenance)


def vm(i: int) -> str:
    return f"{Z}/instances/vm-{i}"


def seen(name: str, state: str, spot: bool = True) -> watched.Seen:
    return watched.Seen(snap(name, state), spot, T0)


def test_a_terminated_spot_vm_is_preempted_only_when_the_service_says_so() -> None:
    before = {vm(1): snap(vm(1)), vm(2): snap(vm(2))}
    changes = [seen(vm(1), "TERMINATED"), seen(vm(2), "TERMINATED")]
    assert all(watched.needs_events(s, before[s.name]) for s in changes)
    current = [watched.confirmed(s, before[s.name], {vm(1): "PREEMPTED"}) for s in changes]
    events = watched.diff(before, current, listed_projects=["ml-prod"])
    assert [(e.name, e.kind) for e in events] == [(vm(1), EventKind.PREEMPTED)]
    # Still down next time it changes (labels): still preempted, no new event.
    kept = watched.confirmed(seen(vm(1), "TERMINATED"), current[0], {})
    assert kept.health == "PREEMPTED" and watched.diff({vm(1): current[0]}, [kept]) == []
    # Running again: the incident resolves.
    back = watched.confirmed(seen(vm(1), "RUNNING"), current[0], {})
    recovered = watched.diff({vm(1): current[0]}, [back], open_incidents={vm(1)})
    assert [e.kind for e in recovered] == [EventKind.RECOVERED]


@pytest.mark.parametrize(
    ("model", "action", "group", "labels", "deleted"),
    [
        (ProvisioningModel.SPOT, "DELETE", "", {}, True),
        (ProvisioningModel.SPOT, "STOP", "", {}, False),  # stays, TERMINATED: seen as such
        (ProvisioningModel.STANDARD, "DELETE", "", {}, False),  # a timed run ends, not preempted
        (ProvisioningModel.SPOT, "DELETE", f"{Z}/instanceGroupManagers/g", {}, False),
        (ProvisioningModel.SPOT, "DELETE", "", {"goog-k8s-cluster-name": "c"}, False),
    ],
)
def test_which_spot_vms_compute_deletes_on_preemption(
    model: ProvisioningModel, action: str, group: str, labels: dict[str, str], deleted: bool
) -> None:
    instance = Instance(
        vm(1), "ct6e-standard-4t", InstanceStatus.RUNNING, provisioning=model,
        termination_action=action, group=group, labels=labels,
    )  # fmt: skip
    assert watched.seen_of(instance).deleted_on_preemption is deleted


def test_a_spot_vm_deleted_on_preemption_is_one_preemption_then_gone() -> None:
    running = snap(vm(1))
    assert watched.vanished_spot(running)
    last = watched.preempted_and_deleted(running)
    assert (last.state, last.health) == ("TERMINATED", "PREEMPTED")
    assert not watched.vanished_spot(last)  # told once: not asked about again
    events = watched.diff({vm(1): running}, [last], listed_projects=["ml-prod"])
    assert [(e.name, e.kind) for e in events] == [(vm(1), EventKind.PREEMPTED)]
    assert "termination action is DELETE" in events[0].detail
    assert "start it again" not in events[0].detail
    # Next tick it is not listed: its incident resolves as gone.
    gone = watched.diff({vm(1): last}, [], open_incidents={vm(1)}, listed_projects=["ml-prod"])
    assert [e.kind for e in gone] == [EventKind.DISAPPEARED]


def test_an_instance_gone_from_an_unreachable_zone_concludes_nothing() -> None:
    before = {vm(1): snap(vm(1), "TERMINATED", "PREEMPTED")}
    args = {"open_incidents": {vm(1)}, "listed_projects": ["ml-prod"]}
    assert watched.diff(before, [], unreachable_zones=[("ml-prod", "us-central1-c")], **args) == []
    assert [e.kind for e in watched.diff(before, [], **args)] == [EventKind.DISAPPEARED]


def slice_of(hosts: int = 4, wanted: int = 4) -> InstanceGroup:
    members = tuple(Host(vm(i), InstanceStatus.RUNNING) for i in range(hosts))
    return InstanceGroup(GROUP, wanted, members, topology="2x2x1", topology_state="ACTIVE")


def test_a_slice_losing_a_host_is_one_event_for_the_slice_and_its_hosts_are_covered() -> None:
    hosts = {vm(i): snap(vm(i)) for i in range(4)}
    hosts[vm(2)] = snap(vm(2), "REPAIRING", "HOST_ERROR")
    listed = Listed([slice_of()], hosts_listed=["ml-prod"])
    tick = capacity_events(listed, hosts, {}, now=T0, wait=timedelta(hours=1))
    assert tick.covered == {vm(i) for i in range(4)}
    [event] = tick.events
    assert event.name == GROUP and event.kind is EventKind.HOSTS_DOWN
    assert event.detail.startswith("host 3 of 4 down: vm-2 is REPAIRING (host error)")
    again = capacity_events(listed, hosts, {GROUP: "hosts-down"}, now=T0, wait=timedelta(hours=1))
    assert again.events == []  # told once
    healed = {**hosts, vm(2): snap(vm(2))}
    done = capacity_events(listed, healed, {GROUP: "hosts-down"}, now=T0, wait=timedelta(hours=1))
    assert [e.kind for e in done.events] == [EventKind.RECOVERED]
    short = Listed([slice_of(hosts=3)], hosts_listed=["ml-prod"])
    missing = capacity_events(short, healed, {}, now=T0, wait=timedelta(hours=1)).events[0]
    assert "host 4 of 4 down: a host is missing from the group" in missing.detail


def test_a_slice_whose_instances_were_not_listed_is_not_judged() -> None:
    listed = Listed([slice_of()], hosts_listed=[])
    tick = capacity_events(listed, {}, {GROUP: "hosts-down"}, now=T0, wait=timedelta(hours=1))
    assert tick.events == []


def test_flex_start_waiting_past_the_threshold_then_failed() -> None:
    flex = FlexRequest(FLEX, FlexState.ACCEPTED, 4, create_time=T0)
    wait = timedelta(hours=1)
    listed = Listed([], [flex], fresh=["ml-prod"])
    assert capacity_events(listed, {}, {}, now=T0 + timedelta(minutes=59), wait=wait).events == []
    [late] = capacity_events(listed, {}, {}, now=T0 + timedelta(minutes=61), wait=wait).events
    assert late.kind is EventKind.FLEX_WAITING and "61 min (threshold 60)" in late.detail
    failed = Listed([], [FlexRequest(FLEX, FlexState.FAILED, 4, error="quota")], fresh=["ml-prod"])
    [event] = capacity_events(failed, {}, {FLEX: "flex-waiting"}, now=T0, wait=wait).events
    assert event.kind is EventKind.FLEX_FAILED and "quota" in event.detail
    gone = Listed([], [], fresh=["ml-prod"])
    [deleted] = capacity_events(gone, {}, {FLEX: "flex-failed"}, now=T0, wait=wait).events
    assert deleted.kind is EventKind.DISAPPEARED
    unlisted = Listed([], [], fresh=[])
    assert capacity_events(unlisted, {}, {FLEX: "flex-failed"}, now=T0, wait=wait).events == []


def test_a_sub_block_degraded_then_maintained_then_healthy() -> None:
    def listed(sub: SubBlock) -> Listed:
        block = ReservationBlock(f"{Z}/reservations/r/reservationBlocks/b", 16, 0, (sub,))
        return Listed(
            [], [], [Reservation(f"{Z}/reservations/r", "tpu7x", 16, 0, (block,))], ["ml-prod"]
        )

    wait = timedelta(hours=1)
    [bad] = capacity_events(listed(SubBlock(SUB, 16, 8, 2)), {}, {}, now=T0, wait=wait).events
    assert bad.kind is EventKind.SUB_BLOCK_DEGRADED and "2 of 16 hosts degraded" in bad.detail
    window = Maintenance("SCHEDULED", "PENDING", T0 + timedelta(days=1))
    upkeep = SubBlock(SUB, 16, 8, 0, window)
    [soon] = capacity_events(
        listed(upkeep), {}, {SUB: "sub-block-degraded"}, now=T0, wait=wait
    ).events
    assert soon.kind is EventKind.MAINTENANCE
    healthy = capacity_events(
        listed(SubBlock(SUB, 16)), {}, {SUB: "maintenance"}, now=T0, wait=wait
    )
    assert [e.kind for e in healthy.events] == [EventKind.RECOVERED]


def test_an_instance_knows_its_chips_generation_and_gke_pool() -> None:
    instance = Instance(
        vm(1),
        "ct6e-standard-4t",
        InstanceStatus.RUNNING,
        provisioning=ProvisioningModel.SPOT,
        labels={"goog-k8s-cluster-name": "research", "goog-k8s-node-pool-name": "pool"},
    )
    assert instance.chips == 4 and instance.generation is not None and instance.spot
    assert instance.gke is not None and (instance.gke.cluster, instance.gke.node_pool) == (
        "research",
        "pool",
    )

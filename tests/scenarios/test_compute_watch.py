"""The watcher on Compute Engine's TPU VMs, over real HTTP: a preempted spot VM, a slice losing a
host, a flex-start request stuck, a degraded sub-block and a maintenance window each alert once
in the right channel and resolve in the same thread; partial answers conclude nothing; a steady
tick costs one instance listing per project."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from devstack.clock import FakeClock
from devstack.stack import ALERTS, Stack
from tests.scenarios.compute_world import (
    FLEX_GROUP,
    LLM,
    PROJECT,
    SLICE,
    SUB_BLOCK_USED,
    calls,
    compute_stack,
    google,
    google_status,
    instances,
    later,
    name_of,
    roots,
    standalone,
    thread,
)


@pytest.fixture
def world(tmp_path: Path, clock: FakeClock) -> Iterator[Stack]:
    with compute_stack(tmp_path, clock) as stack:
        stack.tick()  # the seeded fleet's own trouble is behind us
        yield stack


def new_roots(stack: Stack, before: int, channel: str = ALERTS) -> list:
    return roots(stack, channel)[before:]


def test_a_preempted_spot_vm_alerts_once_and_resolves_in_its_thread(world: Stack) -> None:
    vm = standalone(world, spot=True)
    name = name_of(vm)
    before = len(roots(world))
    world.emulator.inject(name, {"preempted": True})
    later(world)
    new = new_roots(world, before)
    assert len(new) == 1 and f"Preempted: {vm['name']}" in new[0].text, [m.text for m in new]
    assert "preempted by Compute Engine" in str(new[0].blocks)
    assert f"start {name}" in str(new[0].blocks)  # Start again, carrying the full name
    later(world)
    assert len(roots(world)) == before + 1  # told once
    world.emulator.inject(name, {"status": "RUNNING"})
    later(world)
    assert "Resolved" in new[0].text and len(thread(world, new[0])) == 1
    assert "recovered" in thread(world, new[0])[0].text


def test_a_spot_vm_stopped_by_its_owner_is_no_preemption(world: Stack) -> None:
    vm = standalone(world, spot=True)
    before = len(roots(world))
    system_reads = calls(world, "compute.zoneOperations.list")
    world.emulator.inject(name_of(vm), {"status": "TERMINATED"})  # no preemption recorded
    later(world)
    assert len(roots(world)) == before
    # The zone's operations were read once to tell, and said no preemption.
    assert calls(world, "compute.zoneOperations.list") == system_reads + 1


def spot_that_deletes(stack: Stack, name: str) -> str:
    """A new spot TPU VM whose termination action is DELETE, running and listed once."""
    like = standalone(stack, spot=True)
    zone = like["zone"].rsplit("/", 1)[1]
    body = {
        "name": name,
        "machineType": f"zones/{zone}/machineTypes/{like['machineType'].rsplit('/', 1)[1]}",
        "scheduling": {"provisioningModel": "SPOT", "instanceTerminationAction": "DELETE"},
    }
    google(stack).instances().insert(project=PROJECT, zone=zone, body=body).execute()
    full = f"projects/{PROJECT}/zones/{zone}/instances/{name}"
    later(stack)
    assert google_status(stack, full) == "RUNNING"
    later(stack)  # listed as running by the watcher
    return full


def test_a_spot_vm_deleted_on_preemption_alerts_once_and_resolves_as_gone(world: Stack) -> None:
    name = spot_that_deletes(world, "spot-deletes")
    before = len(roots(world))
    world.emulator.inject(name, {"preempted": True})
    assert name not in {name_of(i) for i in instances(world)}  # Compute deleted it at once
    later(world)
    new = new_roots(world, before)
    assert len(new) == 1 and "Preempted: spot-deletes" in new[0].text, [m.text for m in new]
    assert "termination action is DELETE" in str(new[0].blocks)
    assert f"start {name}" not in str(new[0].blocks)  # nothing left to start or delete
    assert f"delete {name}" not in str(new[0].blocks)
    later(world)
    assert len(roots(world)) == before + 1  # told once
    assert "Resolved" in new[0].text and len(thread(world, new[0])) == 1
    assert "deleted" in thread(world, new[0])[0].text
    later(world)
    assert len(thread(world, new[0])) == 1


OPERATIONS_FAIL = {"errorRate": 1, "errorCode": 503, "methods": ["compute.zoneOperations.list"]}


def test_a_spot_vm_deleted_on_preemption_is_told_once_its_zone_answers_again(
    world: Stack,
) -> None:
    name = spot_that_deletes(world, "spot-unasked")
    before = len(roots(world))
    world.emulator.set_faults(OPERATIONS_FAIL)
    world.emulator.inject(name, {"preempted": True})
    later(world)
    later(world)  # two ticks that could not ask: kept, nothing said
    assert len(roots(world)) == before
    world.emulator.set_faults({"errorRate": 0, "methods": []})
    later(world)
    new = new_roots(world, before)
    assert len(new) == 1 and "Preempted: spot-unasked" in new[0].text, [m.text for m in new]


def test_a_lasting_refusal_to_read_operations_gives_a_vanished_vm_up(world: Stack) -> None:
    name = spot_that_deletes(world, "spot-forbidden")
    before = len(roots(world))
    world.emulator.set_faults({**OPERATIONS_FAIL, "errorCode": 403})
    world.emulator.inject(name, {"preempted": True})
    later(world, minutes=10)
    later(world, minutes=10)  # past the hold: given up (removed, nothing concluded)
    asked = calls(world, "compute.zoneOperations.list")
    later(world)
    assert calls(world, "compute.zoneOperations.list") == asked  # no longer asked about
    world.emulator.set_faults({"errorRate": 0, "methods": []})
    later(world)
    assert len(roots(world)) == before


def test_a_spot_vm_deleted_by_a_person_is_no_preemption(world: Stack) -> None:
    name = spot_that_deletes(world, "spot-removed")
    before = len(roots(world))
    system_reads = calls(world, "compute.zoneOperations.list")
    _, project, _, zone, _, vm = name.split("/")
    google(world).instances().delete(project=project, zone=zone, instance=vm).execute()
    later(world)
    later(world)
    assert len(roots(world)) == before
    # The zone's operations were read once to tell, and said no preemption.
    assert calls(world, "compute.zoneOperations.list") == system_reads + 1


def test_a_slice_losing_a_host_is_one_incident_for_the_slice(world: Stack) -> None:
    before = len(roots(world, LLM))
    world.emulator.inject(SLICE, {"brokenHosts": 1})
    later(world, 0.5)  # a host is repaired in a minute: look before
    new = new_roots(world, before, LLM)
    assert len(new) == 1, [m.text for m in new]
    assert "Slice degraded: ironwood-slice-a" in new[0].text
    text = str(new[0].blocks)
    assert "of 16 down" in text and "REPAIRING (host error)" in text
    # Its hosts raise nothing of their own, in any channel.
    host = next(i["name"] for i in instances(world) if i["status"] == "REPAIRING")
    assert host.startswith("ironwood-slice-a-") and host in text
    assert not any(
        host in m.text for c in (ALERTS, LLM) for m in roots(world, c)[-3:] if m != new[0]
    )
    # The host is repaired on another machine: the slice is whole again, told in its thread.
    later(world)
    assert "Resolved" in new[0].text
    assert "recovered: every host RUNNING" in thread(world, new[0])[-1].text
    assert len(roots(world, LLM)) == before + 1


def test_a_flex_start_request_stuck_past_the_threshold_alerts_then_resolves(world: Stack) -> None:
    project, zone = PROJECT, FLEX_GROUP.split("/")[3]
    body = {"name": "late-hosts", "resizeBy": 2, "requestedRunDuration": {"seconds": "3600"}}
    google(world).instanceGroupManagerResizeRequests().insert(
        project=project, zone=zone, instanceGroupManager="flex-v6e", body=body
    ).execute()
    request = f"{FLEX_GROUP}/resizeRequests/late-hosts"
    world.emulator.inject(request, {"state": "stuck"})
    before = len(roots(world))
    later(world, 30)
    assert len(roots(world)) == before  # waiting, but not long yet
    later(world, 31)
    new = new_roots(world, before)
    assert len(new) == 1 and "Flex-start waiting: late-hosts" in new[0].text
    assert f"queue cancel {request}" in str(new[0].blocks)
    later(world, 5)
    assert len(roots(world)) == before + 1 and thread(world, new[0]) == []  # told once
    world.emulator.inject(request, {"state": "granted"})
    later(world)
    assert "Resolved" in new[0].text and "SUCCEEDED" in thread(world, new[0])[-1].text


def test_a_failed_flex_start_request_alerts_with_delete_and_requeue(world: Stack) -> None:
    request = f"{FLEX_GROUP}/resizeRequests/flex-v6e-granted"
    before = len(roots(world))
    world.emulator.inject(request, {"state": "failed"})
    later(world)
    new = new_roots(world, before)
    assert len(new) == 1 and "Flex-start request failed: flex-v6e-granted" in new[0].text
    assert f"requeue {request}" in str(new[0].blocks)


def test_a_sub_block_turning_degraded_alerts_once_and_resolves(world: Stack) -> None:
    before = len(roots(world))
    world.emulator.inject(SUB_BLOCK_USED, {"degradedHosts": 2})
    later(world)
    new = new_roots(world, before)
    assert len(new) == 1 and "Reservation sub-block degraded" in new[0].text
    assert "2 of 16 hosts degraded" in str(new[0].blocks)
    later(world)
    assert len(roots(world)) == before + 1
    world.emulator.inject(SUB_BLOCK_USED, {"degradedHosts": 0})
    later(world)
    assert "Resolved" in new[0].text and "every host healthy" in thread(world, new[0])[-1].text


def test_a_maintenance_window_alerts_its_start_in_the_thread_and_resolves(world: Stack) -> None:
    vm = standalone(world, spot=False)
    name = name_of(vm)
    start = world.clock() + timedelta(hours=6)
    window = {
        "windowStartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "windowEndTime": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "canReschedule": True,
    }
    before = len(roots(world))
    world.emulator.inject(name, {"upcomingMaintenance": window})
    later(world)
    new = new_roots(world, before)
    assert len(new) == 1 and f"Maintenance: {vm['name']}" in new[0].text
    assert f"maintenance start {name}" in str(new[0].blocks)
    ongoing = {**window, "maintenanceStatus": "ONGOING"}
    world.emulator.inject(name, {"upcomingMaintenance": ongoing})
    later(world)
    assert "under way" in thread(world, new[0])[-1].text
    world.emulator.inject(name, {"upcomingMaintenance": None})
    later(world)
    assert "Resolved" in new[0].text and len(roots(world)) == before + 1


def test_an_unreachable_zone_concludes_nothing(world: Stack) -> None:
    vm = standalone(world, spot=True)
    name, zone = name_of(vm), name_of(vm).split("/")[3]
    world.emulator.inject(name, {"preempted": True})
    later(world)
    root = roots(world)[-1]
    assert f"Preempted: {vm['name']}" in root.text
    world.emulator.inject(name, {"status": "RUNNING"})
    world.emulator.set_faults({"unreachable": [zone]})
    later(world)
    later(world)
    assert "Resolved" not in root.text  # no answer from its zone: nothing concluded
    world.emulator.set_faults({"unreachable": []})
    later(world)
    assert "Resolved" in root.text


def test_a_steady_tick_lists_each_projects_instances_once(world: Stack) -> None:
    later(world)  # the capacity read at the previous tick is not due again for a minute
    keys = ("compute.instances.aggregatedList", "compute.zoneOperations.list")
    before = {k: calls(world, k) for k in keys}
    capacity = calls(world, "compute.instanceGroupManagers.aggregatedList")
    world.clock.advance(30)
    world.tick()
    # Three projects read Compute Engine: one page each (40 VMs + the showcase), nothing else.
    assert calls(world, keys[0]) - before[keys[0]] == 3
    assert calls(world, keys[1]) == before[keys[1]]
    assert calls(world, "compute.instanceGroupManagers.aggregatedList") == capacity


def window(stack: Stack, hours: int = 6) -> dict[str, object]:
    start = stack.clock() + timedelta(hours=hours)
    return {
        "windowStartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "windowEndTime": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def test_maintenance_on_a_slices_hosts_is_one_notice_for_the_slice(world: Stack) -> None:
    hosts = [name_of(i) for i in instances(world) if i["name"].startswith("ironwood-slice-a-")]
    before = {c: len(roots(world, c)) for c in (ALERTS, LLM)}
    for host in hosts[:3]:
        world.emulator.inject(host, {"upcomingMaintenance": window(world)})
    later(world)
    assert len(roots(world)) == before[ALERTS]
    new = new_roots(world, before[LLM], LLM)
    assert len(new) == 1 and "Maintenance: ironwood-slice-a" in new[0].text
    assert "on 3 of 16 hosts" in str(new[0].blocks)


def test_many_vms_in_maintenance_in_one_zone_are_one_digest(world: Stack) -> None:
    by_zone: dict[str, list[str]] = {}
    for project in (PROJECT, "ml-infra", "ml-research"):
        for item in instances(world, project):
            if (
                item["status"] == "RUNNING"
                and not item["name"].startswith("ironwood-slice-a-")  # the slice tells theirs
                and (item.get("labels") or {}).get("team") != "llm"  # routed elsewhere
                and not (item.get("resourceStatus") or {}).get("upcomingMaintenance")
            ):
                by_zone.setdefault(name_of(item).split("/")[3], []).append(name_of(item))
    zone, vms = max(by_zone.items(), key=lambda kv: len(kv[1]))
    assert len(vms) >= 5, by_zone
    before = len(roots(world))
    for vm in vms:
        world.emulator.inject(vm, {"upcomingMaintenance": window(world)})
    later(world)
    new = new_roots(world, before)
    assert len(new) == 1 and f"nodes in trouble in {zone}" in new[0].text, [m.text for m in new]


def test_a_host_error_is_told_as_such_and_resolves_when_repaired(world: Stack) -> None:
    vm = standalone(world, spot=False)
    before = len(roots(world))
    world.emulator.inject(name_of(vm), {"hostError": True})
    later(world, 0.5)  # the host is repaired within a minute: look before
    new = new_roots(world, before)
    assert len(new) == 1 and f"Repairing: {vm['name']}" in new[0].text
    assert "host error" in str(new[0].blocks)
    later(world)
    assert "Resolved" in new[0].text and "recovered" in thread(world, new[0])[-1].text

"""The watcher on a v2 fleet: queued resources, spot VMs, lost slices and maintenance windows,
each told once in the right channel and resolved in the same thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.usecases.watch import Watcher
from devstack.clock import FakeClock
from devstack.stack import ALERTS, APPROVALS, Stack, start_stack
from localslack import Message
from tpu_emulator import Emulator
from tpu_emulator.server import serve

PROJECT = "ml-infra"  # the emulator's first v2 TPU VM project
CONFIG: dict[str, Any] = {
    "projects": [{"id": PROJECT, "api": "v2"}, {"id": "ml-vision", "api": "v2"}],
    "channels": {"alerts": ALERTS, "approvals": APPROVALS},
    "routes": [{"match": {"project": "ml-vision"}, "channel": "C0VISION"}],
    "roles": {"operator": ["S0PLATFORM"]},
    "watch": {"poll_seconds": 60, "queue_wait_minutes": 60, "storm_threshold": 5},
}


@pytest.fixture
def fleet(tmp_path: Path, clock: FakeClock) -> Iterator[Stack]:
    emulator = Emulator(clock=clock, op_seconds=10, fleet=120, projects=5)
    server = serve(emulator)
    stack = start_stack(tmp_path, emulator, server, clock, config=CONFIG)
    try:
        stack.tick()  # the seeded fleet's own trouble is behind us
        yield stack
    finally:
        stack.close()


def roots(stack: Stack, channel: str = ALERTS) -> list[Message]:
    return [m for m in stack.bot_messages(channel) if not m.thread_ts and not m.ephemeral_for]


def thread(stack: Stack, root: Message) -> list[Message]:
    return [m for m in stack.bot_messages(root.channel) if m.thread_ts == root.ts]


def later(stack: Stack, minutes: float = 1) -> None:
    stack.clock.advance(minutes * 60)
    stack.tick()


def vm(stack: Stack, *, queued: bool, spot: bool | None = None) -> dict[str, Any]:
    """A READY, healthy v2 VM of PROJECT, behind a queued resource or not."""
    for name in stack.emulator.node_names(PROJECT):
        node = stack.emulator.v2_get_node(name)
        scheduling = node.get("schedulingConfig") or {}
        if (
            node["state"] == "READY"
            and node.get("health", "HEALTHY") == "HEALTHY"
            and not node.get("upcomingMaintenance")
            and bool(node.get("queuedResource")) == queued
            and (spot is None or bool(scheduling.get("spot")) == spot)
        ):
            return node
    raise AssertionError("no such VM in the seeded fleet")


def test_a_preempted_spot_vm_alerts_once_and_resolves_in_its_thread(fleet: Stack) -> None:
    node = vm(fleet, queued=False, spot=True)
    before = len(roots(fleet))
    fleet.emulator.inject(node["name"], {"state": "PREEMPTED", "health": ""})
    later(fleet)
    new = roots(fleet)[before:]
    assert len(new) == 1 and "Preempted" in new[0].text
    fleet.emulator.inject(node["name"], {"state": "READY", "health": "HEALTHY"})
    later(fleet)
    assert "Resolved" in new[0].text and len(thread(fleet, new[0])) == 1
    assert len(roots(fleet)) == before + 1


def test_a_queued_vm_preempted_is_one_incident_on_its_request(fleet: Stack) -> None:
    node = vm(fleet, queued=True)
    qr = node["queuedResource"]
    before = len(roots(fleet))
    fleet.emulator.inject(node["name"], {"state": "PREEMPTED", "health": ""})
    later(fleet)
    new = roots(fleet)[before:]
    assert len(new) == 1, [m.text for m in new]
    assert qr.rsplit("/", 1)[1] in new[0].text
    assert "lost" in str(new[0].blocks) and node["name"].rsplit("/", 1)[1] in str(new[0].blocks)
    # Back to work: the request is ACTIVE and its node READY again.
    fleet.emulator.inject(node["name"], {"state": "READY", "health": "HEALTHY"})
    fleet.emulator.inject(qr, {"state": "ACTIVE"})
    later(fleet)
    assert "Resolved" in new[0].text
    assert len(roots(fleet)) == before + 1


def test_a_request_waiting_past_the_threshold_alerts_then_resolves(fleet: Stack) -> None:
    zone = "us-east5-a"
    fleet.emulator.set_faults({"stockout": [zone]})
    parent = f"projects/{PROJECT}/locations/{zone}"
    body = {
        "tpu": {
            "nodeSpec": [
                {
                    "parent": parent,
                    "nodeId": "late-1",
                    "node": {"acceleratorType": "v5p-8", "runtimeVersion": "v2-alpha-tpuv5"},
                }
            ]
        }
    }
    fleet.emulator.create_queued_resource(parent, "late-1", None, body)
    before = len(roots(fleet))
    later(fleet, 30)
    assert len(roots(fleet)) == before  # waiting, but not long yet
    later(fleet, 31)
    new = roots(fleet)[before:]
    assert len(new) == 1 and "Waiting for capacity: late-1" in new[0].text
    later(fleet, 5)
    assert len(roots(fleet)) == before + 1 and thread(fleet, new[0]) == []  # told once
    fleet.emulator.set_faults({"stockout": []})
    later(fleet)
    later(fleet)
    assert "Resolved" in new[0].text and "recovered" in thread(fleet, new[0])[-1].text


def test_a_request_suspended_by_the_service_alerts_in_its_route(fleet: Stack) -> None:
    name = next(
        n
        for n in fleet.emulator.queued_resource_names("ml-vision")
        if fleet.emulator.get_queued_resource(n)["state"]["state"] == "ACTIVE"
    )
    before = len(roots(fleet, "C0VISION"))
    fleet.emulator.inject(name, {"state": "SUSPENDED", "stateInitiator": "SERVICE"})
    later(fleet)
    new = roots(fleet, "C0VISION")[before:]
    assert len(new) == 1 and "Suspended" in new[0].text and "holding quota" in str(new[0].blocks)
    # Stuck and holding quota: the alert offers to delete it and queue the same request again.
    assert f"requeue ml-vision/{name.split('/')[3]}/{name.rsplit('/', 1)[1]}" in str(new[0].blocks)
    fleet.emulator.inject(name, {"state": "ACTIVE"})
    later(fleet)
    assert "Resolved" in new[0].text


def test_a_lost_slice_is_one_incident_for_the_multislice_request(fleet: Stack) -> None:
    zone = "us-central2-b"
    parent = f"projects/{PROJECT}/locations/{zone}"
    spec = {"acceleratorType": "v4-8", "runtimeVersion": "tpu-ubuntu2204-base"}
    body = {
        "tpu": {
            "nodeSpec": [
                {
                    "parent": parent,
                    "node": spec,
                    "multisliceParams": {"nodeCount": 4, "nodeIdPrefix": "ms"},
                }
            ]
        }
    }
    fleet.emulator.create_queued_resource(parent, "multi", None, body)
    later(fleet)
    later(fleet)  # ACCEPTED -> PROVISIONING -> ACTIVE, four nodes
    assert (
        fleet.emulator.get_queued_resource(f"{parent}/queuedResources/multi")["state"]["state"]
        == "ACTIVE"
    )
    before = len(roots(fleet))
    fleet.emulator.inject(f"{parent}/nodes/ms-2", {"state": "TERMINATED", "health": ""})
    later(fleet)
    new = roots(fleet)[before:]
    assert len(new) == 1 and "Slice lost: multi" in new[0].text
    assert "slice 3 of 4 lost" in str(new[0].blocks)
    fleet.emulator.inject(f"{parent}/nodes/ms-2", {"state": "READY", "health": "HEALTHY"})
    later(fleet)
    assert "Resolved" in new[0].text and len(roots(fleet)) == before + 1


def test_maintenance_is_announced_started_and_ended_in_one_thread(fleet: Stack) -> None:
    node = vm(fleet, queued=False)
    window = {
        "type": "SCHEDULED",
        "maintenanceStatus": "PENDING",
        "windowStartTime": "2026-11-25T02:00:00Z",
        "windowEndTime": "2026-11-25T06:00:00Z",
    }
    before = len(roots(fleet))
    fleet.emulator.inject(node["name"], {"upcomingMaintenance": window})
    later(fleet)
    new = roots(fleet)[before:]
    assert len(new) == 1 and "Maintenance" in new[0].text
    assert "UNHEALTHY_MAINTENANCE" in str(new[0].blocks)  # what it will mean, explained
    fleet.emulator.inject(
        node["name"],
        {
            "upcomingMaintenance": {**window, "maintenanceStatus": "ONGOING"},
            "health": "UNHEALTHY_MAINTENANCE",
        },
    )
    later(fleet)
    assert "under way" in thread(fleet, new[0])[-1].text
    fleet.emulator.inject(node["name"], {"upcomingMaintenance": None, "health": "HEALTHY"})
    later(fleet)
    assert "Resolved" in new[0].text and len(thread(fleet, new[0])) == 2
    assert len(roots(fleet)) == before + 1


def queued_vm(stack: Stack, besides: str = "") -> dict[str, Any]:
    """A READY VM of PROJECT that a queued resource (not `besides`) made."""
    for name in stack.emulator.node_names(PROJECT):
        node = stack.emulator.v2_get_node(name)
        if node.get("queuedResource") not in (None, "", besides) and node["state"] == "READY":
            return node
    raise AssertionError("no such VM in the seeded fleet")


def test_a_quick_poll_leaves_queued_resources_to_their_own_listing(fleet: Stack) -> None:
    """On a budget, early polls list nodes only: a queued VM's trouble waits for its request's
    listing (asked for at once), and nothing is concluded about requests meanwhile. A fresh
    watcher (a new leader) knows which nodes are a request's from the listing itself."""
    deps = fleet.bot.dispatcher.deps
    open_before = set(deps.watch.open_incidents())
    standing = sorted(
        n for n in open_before if n.startswith(f"projects/{PROJECT}/") and "/queuedResources/" in n
    )
    assert standing  # the seeded fleet has a suspended or failed request in every project
    fleet.emulator.inject_queued(standing[0], {"state": "ACTIVE"})
    node = queued_vm(fleet, besides=standing[0])
    fleet.emulator.inject(node["name"], {"state": "PREEMPTED", "health": ""})
    fleet.clock.advance(5)
    watcher = Watcher(deps)
    quick = watcher.poll(fleet.clock(), [PROJECT], quick=[PROJECT])
    assert quick.listed == [PROJECT] and quick.queue_requests[PROJECT] == 0
    assert quick.decisions["open"] == 0 and quick.queues_due == {PROJECT}
    assert set(deps.watch.open_incidents()) == open_before
    assert watcher.memory.snapshots[node["name"]].state == "READY"  # held back, not concluded
    fleet.clock.advance(5)
    full = watcher.poll(fleet.clock(), [PROJECT])
    assert full.queue_requests[PROJECT] >= 1 and not full.queues_due
    after = set(deps.watch.open_incidents())
    assert after - open_before == {node["queuedResource"]}  # one story, told by the request
    assert standing[0] not in after


def test_when_queued_resources_cannot_be_listed_their_nodes_tell_their_own_story(
    fleet: Stack,
) -> None:
    deps = fleet.bot.dispatcher.deps
    watcher = Watcher(deps)
    node = queued_vm(fleet)
    fleet.emulator.inject(node["name"], {"state": "PREEMPTED", "health": ""})
    fleet.clock.advance(5)
    assert watcher.poll(fleet.clock(), [PROJECT], quick=[PROJECT]).decisions["open"] == 0
    fleet.emulator.set_faults(
        {"errorRate": 1.0, "errorCode": 403, "methods": ["v2.queuedResources.list"]}
    )
    fleet.clock.advance(5)
    full = watcher.poll(fleet.clock(), [PROJECT])
    assert full.queues_failed == [PROJECT]
    assert node["name"] in deps.watch.open_incidents()  # not swallowed by the quick poll


def test_a_node_gone_on_a_quick_poll_is_concluded_by_the_full_one(fleet: Stack) -> None:
    deps = fleet.bot.dispatcher.deps
    watcher = Watcher(deps)
    node = vm(fleet, queued=False)
    fleet.emulator.delete_node(node["name"], None)
    fleet.clock.advance(60)  # the deletion finishes
    quick = watcher.poll(fleet.clock(), [PROJECT], quick=[PROJECT])
    assert node["name"] in watcher.memory.snapshots and quick.queues_due == {PROJECT}
    fleet.clock.advance(5)
    watcher.poll(fleet.clock(), [PROJECT])
    assert node["name"] not in watcher.memory.snapshots

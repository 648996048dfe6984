"""Queued resources -> events: pure, in tables, with a fixed `now`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.models import Health, Node, NodeState
from bot.core.queued import QueuedNodeSpec, QueuedResource, QueuedState, StateInitiator
from bot.core.watching.diff import EventKind
from bot.core.watching.queues import queue_events
from devstack.clock import T0

PARENT = "projects/p-one/locations/us-east5-a"
WAIT = timedelta(minutes=60)


def qr(
    state: QueuedState,
    *,
    age_minutes: float = 5,
    initiator: StateInitiator = StateInitiator.SERVICE,
    slices: int = 0,
) -> QueuedResource:
    spec = QueuedNodeSpec(
        parent=PARENT,
        node_id="" if slices else "q1",
        accelerator_type="v5p-8",
        multislice_count=slices,
        multislice_prefix="s" if slices else "",
    )
    return QueuedResource(
        name=f"{PARENT}/queuedResources/q1",
        state=state,
        state_initiator=initiator,
        create_time=T0 - timedelta(minutes=age_minutes),
        node_specs=(spec,),
    )


def node(node_id: str, state: NodeState = NodeState.READY) -> Node:
    health = Health.HEALTHY if state is NodeState.READY else Health.HEALTH_UNSPECIFIED
    return Node(
        name=f"{PARENT}/nodes/{node_id}",
        accelerator_type="v5p-8",
        software_version="v2-alpha-tpuv5",
        state=state,
        health=health,
    )


def kinds(resource: QueuedResource, nodes: list[Node], open_kind: str | None = None) -> list[str]:
    incidents = {resource.name: open_kind} if open_kind else {}
    tick = queue_events(
        [resource],
        {n.name: n for n in nodes},
        incidents,
        now=T0,
        wait=WAIT,
        listed_projects=["p-one"],
    )
    return [f"{e.kind.value}:{e.detail}" for e in tick.events]


@pytest.mark.parametrize(
    ("resource", "nodes", "open_kind", "expected"),
    [
        (qr(QueuedState.WAITING_FOR_RESOURCES, age_minutes=30), [], None, []),
        (qr(QueuedState.WAITING_FOR_RESOURCES, age_minutes=61), [], None, ["queue-waiting"]),
        (qr(QueuedState.ACCEPTED, age_minutes=90), [], "queue-waiting", []),  # told once
        (qr(QueuedState.PROVISIONING), [], "queue-waiting", []),  # on its way: wait for ACTIVE
        (qr(QueuedState.ACTIVE), [node("q1")], "queue-waiting", ["recovered"]),
        (qr(QueuedState.SUSPENDED), [], None, ["queue-suspended"]),
        (qr(QueuedState.SUSPENDED, initiator=StateInitiator.USER), [], None, []),
        (qr(QueuedState.FAILED), [], None, ["queue-failed"]),
        (qr(QueuedState.ACTIVE), [node("q1", NodeState.PREEMPTED)], None, ["slice-lost"]),
        (qr(QueuedState.ACTIVE), [node("q1")], None, []),
    ],
)
def test_queue_events(
    resource: QueuedResource, nodes: list[Node], open_kind: str | None, expected: list[str]
) -> None:
    assert [k.split(":")[0] for k in kinds(resource, nodes, open_kind)] == expected


def test_a_lost_slice_names_which_of_how_many() -> None:
    multi = qr(QueuedState.ACTIVE, slices=4)
    nodes = [node("s-0"), node("s-1"), node("s-3")]  # s-2 is gone
    assert kinds(multi, nodes) == ["slice-lost:slice 3 of 4 lost: s-2 is gone"]


def test_nodes_of_a_listed_request_are_covered_and_partial_data_resolves_nothing() -> None:
    multi = qr(QueuedState.ACTIVE, slices=2)
    tick = queue_events([multi], {}, {}, now=T0, wait=WAIT, listed_projects=["p-one"])
    assert tick.covered == {f"{PARENT}/nodes/s-0", f"{PARENT}/nodes/s-1"}
    gone = {f"{PARENT}/queuedResources/old": EventKind.QUEUE_FAILED.value}
    unreachable = queue_events(
        [],
        {},
        gone,
        now=T0,
        wait=WAIT,
        listed_projects=["p-one"],
        unreachable_zones=[("p-one", "us-east5-a")],
    )
    assert unreachable.events == []
    listed = queue_events([], {}, gone, now=T0, wait=WAIT, listed_projects=["p-one"])
    assert [e.kind for e in listed.events] == [EventKind.DISAPPEARED]

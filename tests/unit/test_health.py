"""The diff and the notify decision as tables with a fixed `now`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import Route, RouteMatch
from bot.core.models import Health, Node, NodeState, Symptom, SymptomType
from bot.core.policy import Act, OpenIncident, decide, route
from bot.core.watching.diff import EventKind, Snapshot, diff, snapshot_of
from devstack.clock import T0

NAME = "projects/p/locations/us-central1-b/nodes/n"


def node(
    state: NodeState = NodeState.READY,
    health: Health = Health.HEALTHY,
    symptoms: tuple[tuple[str, str], ...] = (),
    name: str = NAME,
) -> Node:
    return Node(
        name,
        "v3-8",
        "2.12.0",
        state,
        health,
        symptoms=tuple(Symptom(SymptomType(k), w) for k, w in symptoms),
    )


def snap(**kwargs: object) -> Snapshot:
    return snapshot_of(node(**kwargs))  # type: ignore[arg-type]


OK = snap()


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (OK, node(), []),
        (OK, node(NodeState.PREEMPTED, Health.HEALTH_UNSPECIFIED), [EventKind.PREEMPTED]),
        (OK, node(NodeState.TERMINATED, Health.HEALTH_UNSPECIFIED), [EventKind.TERMINATED]),
        (OK, node(health=Health.TIMEOUT), [EventKind.UNHEALTHY]),
        (OK, node(health=Health.UNHEALTHY_TENSORFLOW), [EventKind.UNHEALTHY]),
        (OK, node(health=Health.UNHEALTHY_MAINTENANCE), [EventKind.UNHEALTHY]),
        (OK, node(health=Health.DEPRECATED_UNHEALTHY), [EventKind.UNHEALTHY]),
        (OK, node(NodeState.REPAIRING), [EventKind.REPAIRING]),
        (OK, node(NodeState.UNKNOWN), [EventKind.UNKNOWN]),
        (OK, node(symptoms=(("OUT_OF_MEMORY", "1"),)), [EventKind.SYMPTOM]),
        (snap(symptoms=(("OUT_OF_MEMORY", "1"),)), node(symptoms=(("OUT_OF_MEMORY", "1"),)), []),
        (snap(health=Health.TIMEOUT), node(), [EventKind.RECOVERED]),
        (
            snap(state=NodeState.PREEMPTED),
            node(NodeState.STOPPED, Health.HEALTH_UNSPECIFIED),
            [EventKind.RESOLVED],
        ),
        (snap(health=Health.TIMEOUT), node(health=Health.TIMEOUT), []),
        (snap(health=Health.TIMEOUT), node(NodeState.PREEMPTED), [EventKind.PREEMPTED]),
        (OK, node(NodeState.STOPPING, Health.HEALTH_UNSPECIFIED), []),
        (None, node(), [EventKind.APPEARED]),
        (None, node(NodeState.PREEMPTED), [EventKind.APPEARED, EventKind.PREEMPTED]),
    ],
)
def test_diff(before: Snapshot | None, after: Node, expected: list[EventKind]) -> None:
    previous = {NAME: before} if before else {}
    events = diff(previous, [after], listed_projects=["p"])
    assert [e.kind for e in events] == expected


def test_disappeared_only_with_complete_data() -> None:
    previous = {NAME: OK}
    assert [e.kind for e in diff(previous, [], listed_projects=["p"])] == [EventKind.DISAPPEARED]
    assert (
        diff(previous, [], listed_projects=["p"], unreachable_zones=[("p", "us-central1-b")]) == []
    )
    assert diff(previous, [], listed_projects=["p"], unreachable_zones=[("p", "-")]) == []
    assert diff(previous, [], listed_projects=[]) == []  # the project was not listed at all


def test_the_bots_own_operations_are_not_events() -> None:
    stopping = node(NodeState.STOPPING, Health.HEALTH_UNSPECIFIED)
    assert (
        diff({NAME: snap(health=Health.TIMEOUT)}, [stopping], listed_projects=["p"], own={NAME})
        == []
    )
    assert diff({NAME: OK}, [], listed_projects=["p"], own={NAME}) == []


NOW = T0 + timedelta(hours=1)
OPEN = OpenIncident("preempted", T0)


@pytest.mark.parametrize(
    ("kind", "incident", "kwargs", "act", "reason"),
    [
        ("preempted", None, {}, Act.OPEN, "new preempted incident"),
        ("unhealthy", None, {"storm": True}, Act.DIGEST, "storm"),
        ("unhealthy", None, {"recent_opens": 3}, Act.FLAPPING, "flapping"),
        ("preempted", OPEN, {}, Act.REPLY, "update of the open preempted incident"),
        ("symptom", OPEN, {}, Act.REPLY, "update"),
        ("symptom", None, {}, Act.SUPPRESS, "no incident"),
        ("recovered", OPEN, {}, Act.RESOLVE, "recovered after preempted"),
        ("recovered", None, {}, Act.SUPPRESS, "nothing open"),
        ("disappeared", OPEN, {}, Act.RESOLVE, "gone"),
        ("disappeared", None, {}, Act.NOTICE, "disappeared"),
        ("appeared", None, {}, Act.SUPPRESS, "not an incident"),
        (
            "unhealthy",
            OpenIncident("preempted", T0, muted_until=NOW + timedelta(minutes=1)),
            {},
            Act.SUPPRESS,
            "muted",
        ),
        ("unhealthy", OpenIncident("preempted", T0, muted_until=NOW), {}, Act.REPLY, "update"),
        ("unhealthy", OpenIncident("preempted", T0, flapping=True), {}, Act.SUPPRESS, "flapping"),
    ],
)
def test_decide(
    kind: str, incident: OpenIncident | None, kwargs: dict, act: Act, reason: str
) -> None:
    decision = decide(kind, incident, now=NOW, **kwargs)
    assert decision.act is act and reason in decision.reason


def test_muted_recovery_closes_quietly() -> None:
    muted = OpenIncident("preempted", T0, muted_until=NOW + timedelta(hours=1))
    decision = decide("recovered", muted, now=NOW)
    assert decision.act is Act.RESOLVE and decision.quiet


def test_routes_first_match_wins() -> None:
    routes = [
        Route(match=RouteMatch(project="p", labels={"team": "vision"}), channel="C0VISION"),
        Route(match=RouteMatch(zone="us-east1-d"), channel="C0EAST"),
    ]
    assert route("p", "us-east1-d", {"team": "vision"}, routes, "C0DEF") == "C0VISION"
    assert route("q", "us-east1-d", {"team": "vision"}, routes, "C0DEF") == "C0EAST"
    assert route("q", "us-central1-b", {}, routes, "C0DEF") == "C0DEF"


def test_an_open_incident_of_a_healthy_node_recovers_even_when_the_bot_fixed_it() -> None:
    previous = {NAME: snap(state=NodeState.CREATING, health=Health.HEALTH_UNSPECIFIED)}
    events = diff(previous, [node()], listed_projects=["p"], own={NAME}, open_incidents={NAME})
    assert [e.kind for e in events] == [EventKind.RECOVERED]
    assert diff(previous, [node()], listed_projects=["p"], own={NAME}) == []

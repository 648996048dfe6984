"""Pure: diff(previous snapshot, current listing) -> the events that happened to nodes.

Partial data never produces "disappeared" or "recovered": a node in a zone that did not answer
keeps its last snapshot. Nodes the bot itself is operating on produce no events: their story
belongs in the operation's thread.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from bot.core.models import UNHEALTHY, Health, Node, NodeName, NodeState


class EventKind(enum.StrEnum):
    UNHEALTHY = "unhealthy"
    PREEMPTED = "preempted"
    TERMINATED = "terminated"
    REPAIRING = "repairing"
    UNKNOWN = "unknown"
    SYMPTOM = "symptom"
    RECOVERED = "recovered"  # READY and HEALTHY again
    RESOLVED = "resolved"  # out of trouble, but not READY (e.g. stopped by someone)
    DISAPPEARED = "disappeared"
    APPEARED = "appeared"


# Kinds that open (or continue) an incident.
TROUBLE = frozenset(
    {
        EventKind.UNHEALTHY,
        EventKind.PREEMPTED,
        EventKind.TERMINATED,
        EventKind.REPAIRING,
        EventKind.UNKNOWN,
        EventKind.SYMPTOM,
    }
)


@dataclass(frozen=True)
class Snapshot:
    """What the watcher remembers of a node between ticks."""

    name: str
    state: str
    health: str
    accelerator_type: str = ""
    symptoms: frozenset[tuple[str, str]] = frozenset()
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def zone(self) -> str:
        return NodeName.parse(self.name).zone

    @property
    def project(self) -> str:
        return NodeName.parse(self.name).project


def snapshot_of(node: Node) -> Snapshot:
    return Snapshot(
        name=node.name,
        state=node.state.value,
        health=node.health.value,
        accelerator_type=node.accelerator_type,
        symptoms=frozenset(s.key for s in node.symptoms),
        labels=tuple(sorted(node.labels.items())),
    )


@dataclass(frozen=True)
class NodeEvent:
    kind: EventKind
    node: Snapshot
    detail: str = ""

    @property
    def name(self) -> str:
        return self.node.name


def trouble_of(snapshot: Snapshot) -> EventKind | None:
    """The trouble a node is in, if any (state first: a preempted node's health is moot)."""
    state = NodeState(snapshot.state)
    if state is NodeState.PREEMPTED:
        return EventKind.PREEMPTED
    if state is NodeState.TERMINATED:
        return EventKind.TERMINATED
    if state is NodeState.REPAIRING:
        return EventKind.REPAIRING
    if state is NodeState.UNKNOWN:
        return EventKind.UNKNOWN
    if Health(snapshot.health) in UNHEALTHY:
        return EventKind.UNHEALTHY
    return None


def _describe(snapshot: Snapshot, kind: EventKind) -> str:
    if kind is EventKind.UNHEALTHY:
        return f"health {snapshot.health}"
    return f"state {snapshot.state}"


def diff(
    previous: Mapping[str, Snapshot],
    current: Iterable[Node],
    *,
    unreachable_zones: Collection[tuple[str, str]] = (),
    listed_projects: Collection[str] = (),
    own: Collection[str] = (),
    open_incidents: Collection[str] = (),
) -> list[NodeEvent]:
    """Events from one tick.

    `unreachable_zones`: (project, zone) pairs that did not answer (zone `-`: the whole project).
    `listed_projects`: the projects this tick's listing covers. `own`: nodes with an operation of
    the bot's in flight. `open_incidents`: nodes with an open incident; one that is READY and
    HEALTHY again is recovered, whoever fixed it (the bot's own recreate included).
    """
    events: list[NodeEvent] = []
    seen: set[str] = set()
    for node in current:
        seen.add(node.name)
        if node.name in own:
            if node.name in open_incidents and node.is_healthy:
                events.append(
                    NodeEvent(EventKind.RECOVERED, snapshot_of(node), "READY and HEALTHY")
                )
            continue
        now = snapshot_of(node)
        before = previous.get(node.name)
        now_trouble = trouble_of(now)
        if before is None:
            events.append(NodeEvent(EventKind.APPEARED, now))
            if now_trouble is not None:
                events.append(NodeEvent(now_trouble, now, _describe(now, now_trouble)))
            continue
        before_trouble = trouble_of(before)
        if now_trouble is not None and now_trouble is not before_trouble:
            events.append(NodeEvent(now_trouble, now, _describe(now, now_trouble)))
        elif now_trouble is None and (before_trouble is not None or node.name in open_incidents):
            if node.is_healthy:
                events.append(NodeEvent(EventKind.RECOVERED, now, "READY and HEALTHY"))
            else:
                events.append(NodeEvent(EventKind.RESOLVED, now, f"now {now.state}"))
        for kind, worker in sorted(now.symptoms - before.symptoms):
            events.append(NodeEvent(EventKind.SYMPTOM, now, f"{kind} on worker {worker}"))
    gone = set(previous) - seen
    for name in sorted(gone):
        before = previous[name]
        if name in own or before.project not in listed_projects:
            continue
        if (before.project, before.zone) in unreachable_zones or (
            before.project,
            "-",
        ) in unreachable_zones:
            continue  # no answer from its zone: not evidence that it is gone
        events.append(NodeEvent(EventKind.DISAPPEARED, before, "no longer listed"))
    return events


def reachable(snapshot: Snapshot, unreachable_zones: Collection[tuple[str, str]]) -> bool:
    return (snapshot.project, snapshot.zone) not in unreachable_zones and (
        snapshot.project,
        "-",
    ) not in unreachable_zones

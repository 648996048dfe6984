"""Pure: diff(previous snapshot, current listing) -> the events that happened to nodes.

Partial data never produces "disappeared" or "recovered": a node in a zone that did not answer
keeps its last snapshot. Nodes the bot itself is operating on produce no events: their story
belongs in the operation's thread.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from bot.core.models import UNHEALTHY, Health, Maintenance, Node, NodeState
from bot.core.names import ResourceName


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
    MAINTENANCE = "maintenance"  # a maintenance window announced, started or moved
    QUEUE_WAITING = "queue-waiting"  # a queued resource waiting longer than the threshold
    QUEUE_SUSPENDED = "queue-suspended"  # suspended by the service (it keeps holding quota)
    QUEUE_FAILED = "queue-failed"  # failed (it stays, holding quota, until deleted)
    SLICE_LOST = "slice-lost"  # a queued resource's node (a slice of a multislice) is lost
    HOSTS_DOWN = "hosts-down"  # a multi-host slice of TPU VMs lost a host
    FLEX_WAITING = "flex-waiting"  # a flex-start request waiting longer than the threshold
    FLEX_FAILED = "flex-failed"  # a flex-start request failed
    SUB_BLOCK_DEGRADED = "sub-block-degraded"  # a reservation sub-block reports degraded hosts


# Kinds that open (or continue) an incident.
TROUBLE = frozenset(
    {
        EventKind.UNHEALTHY,
        EventKind.PREEMPTED,
        EventKind.TERMINATED,
        EventKind.REPAIRING,
        EventKind.UNKNOWN,
        EventKind.SYMPTOM,
        EventKind.MAINTENANCE,
        EventKind.QUEUE_WAITING,
        EventKind.QUEUE_SUSPENDED,
        EventKind.QUEUE_FAILED,
        EventKind.SLICE_LOST,
        EventKind.HOSTS_DOWN,
        EventKind.FLEX_WAITING,
        EventKind.FLEX_FAILED,
        EventKind.SUB_BLOCK_DEGRADED,
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
    maintenance: str = ""  # the announced window, in words ("" when none)

    @property
    def zone(self) -> str:
        return ResourceName.parse(self.name).zone

    @property
    def project(self) -> str:
        return ResourceName.parse(self.name).project


_NO_SYMPTOMS: frozenset[tuple[str, str]] = frozenset()
# What a snapshot holds besides the name: what the watcher reads of a node, and so what an
# adapter's fingerprint of a raw node must cover (each wire module maps these to API fields).
WATCHED = tuple(f.name for f in fields(Snapshot) if f.name != "name")


def fingerprint(raw: Mapping[str, Any], wire_fields: Mapping[str, str | None]) -> int:
    """A raw API node reduced to the fields the watcher reads (`wire_fields`: each WATCHED field
    -> the API field it comes from, None when the API has none), hashed; in memory only."""
    return hash(tuple(_raw(raw, wire_fields[f]) for f in WATCHED))


def _raw(data: Mapping[str, Any], field: str | None) -> str:
    return str(data.get(field)) if field else ""


_LABEL_SETS: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}
_MAX_LABEL_SETS = 50_000


def labels_of(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A TPU's labels as the snapshot keeps them: sorted pairs, each distinct set kept once (a
    fleet has few of them; sharing them keeps the snapshots small and apart from each tick's
    transient pages)."""
    pairs = tuple(sorted((sys.intern(k), sys.intern(v)) for k, v in labels.items()))
    found = _LABEL_SETS.get(pairs)
    if found is not None:
        return found
    if len(_LABEL_SETS) < _MAX_LABEL_SETS:
        _LABEL_SETS[pairs] = pairs
    return pairs


def snapshot_of(node: Node | Snapshot) -> Snapshot:
    """What the watcher keeps of a node; strings many nodes share are kept once."""
    if isinstance(node, Snapshot):
        return node
    return Snapshot(
        name=node.name,
        state=node.state.value,
        health=node.health.value,
        accelerator_type=sys.intern(node.accelerator_type),
        symptoms=frozenset(s.key for s in node.symptoms) if node.symptoms else _NO_SYMPTOMS,
        labels=labels_of(node.labels),
        maintenance=maintenance_text(node.maintenance),
    )


def healthy(node: Node | Snapshot) -> bool:
    if isinstance(node, Node):
        return node.is_healthy
    return node.state == NodeState.READY.value and Health(node.health) not in UNHEALTHY


def _at(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else "a time not announced"


def maintenance_text(maintenance: Maintenance | None) -> str:
    """The window in words, for the alert and for telling a change of it apart."""
    if maintenance is None:
        return ""
    status = "under way" if maintenance.status == "ONGOING" else "scheduled"
    kind = (maintenance.type or "").lower().replace("_", " ")
    text = f"{kind + ' ' if kind else ''}maintenance {status}: {_at(maintenance.window_start)}"
    if maintenance.window_end is not None:
        text += f" to {_at(maintenance.window_end)}"
    if maintenance.can_reschedule and maintenance.latest_window_start is not None:
        text += f" (can be moved, until {_at(maintenance.latest_window_start)})"
    return text


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
    if snapshot.maintenance:
        # Announced maintenance explains UNHEALTHY_MAINTENANCE: one story, not two.
        return EventKind.MAINTENANCE
    if Health(snapshot.health) in UNHEALTHY:
        return EventKind.UNHEALTHY
    return None


MAINTENANCE_MEANS = (
    "During the window Google maintains the host: the node reports UNHEALTHY_MAINTENANCE and "
    "what runs on it stops. Checkpoint and drain before it starts."
)


def _describe(snapshot: Snapshot, kind: EventKind) -> str:
    if kind is EventKind.MAINTENANCE:
        return f"{snapshot.maintenance}. {MAINTENANCE_MEANS}"
    if kind is EventKind.UNHEALTHY:
        if snapshot.health == Health.UNHEALTHY_MAINTENANCE:
            return f"health {snapshot.health}: the host is under maintenance"
        return f"health {snapshot.health}"
    return f"state {snapshot.state}"


def diff(
    previous: Mapping[str, Snapshot],
    current: Iterable[Node | Snapshot],
    *,
    unreachable_zones: Collection[tuple[str, str]] = (),
    listed_projects: Collection[str] = (),
    own: Collection[str] = (),
    open_incidents: Collection[str] = (),
    covered: Collection[str] = (),
    unchanged: Collection[str] = (),
) -> list[NodeEvent]:
    """Events from one tick.

    `unreachable_zones`: (project, zone) pairs that did not answer (zone `-`: the whole project).
    `listed_projects`: the projects this tick's listing covers. `own`: nodes with an operation of
    the bot's in flight. `open_incidents`: nodes with an open incident; one that is READY and
    HEALTHY again is recovered, whoever fixed it (the bot's own recreate included). `covered`:
    nodes whose story a queued resource's incident tells (they raise none of their own).
    `unchanged`: listed exactly as in `previous`, so not in `current` (no event to raise).
    """
    events: list[NodeEvent] = []
    seen: set[str] = set(unchanged)
    for node in current:
        seen.add(node.name)
        if node.name in covered and node.name not in open_incidents:
            continue
        if node.name in own:
            if node.name in open_incidents and healthy(node):
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
        elif now_trouble is EventKind.MAINTENANCE and now.maintenance != before.maintenance:
            events.append(NodeEvent(EventKind.MAINTENANCE, now, now.maintenance))
        elif now_trouble is None and (before_trouble is not None or node.name in open_incidents):
            if healthy(node):
                events.append(NodeEvent(EventKind.RECOVERED, now, "READY and HEALTHY"))
            else:
                events.append(NodeEvent(EventKind.RESOLVED, now, f"now {now.state}"))
        for kind, worker in sorted(now.symptoms - before.symptoms):
            events.append(NodeEvent(EventKind.SYMPTOM, now, f"{kind} on worker {worker}"))
    gone = set(previous) - seen
    for name in sorted(gone):
        before = previous[name]
        if name in own or name in covered or before.project not in listed_projects:
            continue
        if not reachable(before, unreachable_zones):
            continue  # no answer from its zone: not evidence that it is gone
        events.append(NodeEvent(EventKind.DISAPPEARED, before, "no longer listed"))
    return events


def reachable(snapshot: Snapshot, unreachable_zones: Collection[tuple[str, str]]) -> bool:
    return (snapshot.project, snapshot.zone) not in unreachable_zones and (
        snapshot.project,
        "-",
    ) not in unreachable_zones

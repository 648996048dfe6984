"""Pure: queued resources -> the events that open, update or resolve their incidents.

A queued resource is in trouble when it waits for capacity longer than the threshold (from its
createTime), when the service suspends it, when it fails, or when one of the nodes it made (a
slice of a multislice) is lost. Its incident tells its nodes' story too: the nodes a queued
resource made raise no incidents of their own while it is listed ("slice 2 of 4 lost", one
incident, not four). The diff is against the open incidents, since waiting becomes trouble by the
clock alone. Partial data never resolves anything.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.models import Node
from bot.core.queued import STUCK, WAITING, QueuedResource, QueuedState, StateInitiator
from bot.core.watching.diff import EventKind, NodeEvent, Snapshot, snapshot_of, trouble_of

# A lost slice: the node is gone or in one of these.
_LOST = frozenset(
    {EventKind.PREEMPTED, EventKind.TERMINATED, EventKind.UNKNOWN, EventKind.UNHEALTHY}
)


# A node as the queue side reads it: a model, or the snapshot of a node unchanged since.
NodeView = Node | Snapshot

# Granted or still queued: an open incident stays open until the request is ACTIVE (or ends
# some other way), so "waiting" resolves when the nodes are there, not when provisioning starts.
_ON_ITS_WAY = frozenset({QueuedState.PROVISIONING} | WAITING)


@dataclass
class QueueTick:
    """What the queued-resource side of one tick found."""

    events: list[NodeEvent] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)  # nodes whose story a queued resource tells


def queue_snapshot(qr: QueuedResource) -> Snapshot:
    """A queued resource as the incident machinery sees it (name, state, routing labels)."""
    spec = qr.node_specs[0] if qr.node_specs else None
    return Snapshot(
        name=qr.name,
        state=qr.state.value,
        health="",
        accelerator_type=spec.accelerator_type if spec else "",
        labels=tuple(sorted((spec.labels if spec else {}).items())),
    )


def _snap(node: Node | Snapshot) -> Snapshot:
    return node if isinstance(node, Snapshot) else snapshot_of(node)


def _lost_nodes(qr: QueuedResource, nodes: Mapping[str, NodeView]) -> list[tuple[int, str]]:
    """(1-based position, what became of it) of each node of the request that is lost."""
    lost = []
    for position, name in enumerate(qr.node_names, start=1):
        node = nodes.get(name)
        if node is None:
            lost.append((position, f"{name.rsplit('/', 1)[1]} is gone"))
            continue
        snap = _snap(node)
        if trouble_of(snap) in _LOST:
            what = snap.state if snap.state != "READY" else snap.health
            lost.append((position, f"{name.rsplit('/', 1)[1]} is {what}"))
    return lost


def _losing(qr: QueuedResource, nodes: Mapping[str, NodeView]) -> str:
    lost = _lost_nodes(qr, nodes)
    if not lost:
        return ""
    total = len(qr.node_names)
    position, what = lost[0]
    more = f"; {len(lost) - 1} more lost" if len(lost) > 1 else ""
    unit = "slice" if qr.is_multislice else "node"
    return f"{unit} {position} of {total} lost: {what}{more}"


def queue_trouble(
    qr: QueuedResource, nodes: Mapping[str, NodeView], now: datetime, wait: timedelta
) -> tuple[EventKind | None, str]:
    """The trouble a queued resource is in, if any, and its story in words."""
    if qr.state is QueuedState.FAILED:
        error = qr.failure.message if qr.failure is not None else "no reason given"
        return EventKind.QUEUE_FAILED, f"FAILED: {error}. It keeps holding quota until deleted."
    if qr.state in (QueuedState.SUSPENDED, QueuedState.SUSPENDING):
        if qr.state_initiator is not StateInitiator.USER:
            why = _losing(qr, nodes)
            tail = f" ({why})" if why else ""
            return (
                EventKind.QUEUE_SUSPENDED,
                f"{qr.state.value} by the service{tail}. It keeps holding quota until deleted.",
            )
        return None, ""
    if qr.state is QueuedState.ACTIVE:
        losing = _losing(qr, nodes)
        return (EventKind.SLICE_LOST, losing) if losing else (None, "")
    if qr.state in WAITING and qr.create_time is not None and now - qr.create_time > wait:
        minutes = int((now - qr.create_time).total_seconds() // 60)
        return (
            EventKind.QUEUE_WAITING,
            f"{qr.state.value} for {minutes} min (threshold {int(wait.total_seconds() // 60)})",
        )
    return None, ""


def queue_events(
    queued: Iterable[QueuedResource],
    nodes: Mapping[str, NodeView],
    open_incidents: Mapping[str, str],
    *,
    now: datetime,
    wait: timedelta,
    listed_projects: Collection[str],
    unreachable_zones: Collection[tuple[str, str]] = (),
) -> QueueTick:
    """`open_incidents`: queued resource name -> the kind of its open incident."""
    tick = QueueTick()
    seen: set[str] = set()
    for qr in queued:
        seen.add(qr.name)
        tick.covered.update(qr.node_names)
        snap = queue_snapshot(qr)
        kind, detail = queue_trouble(qr, nodes, now, wait)
        open_kind = open_incidents.get(qr.name)
        if kind is not None and open_kind != kind.value:
            tick.events.append(NodeEvent(kind, snap, detail))
        elif kind is None and open_kind is not None and qr.state not in _ON_ITS_WAY:
            if qr.state is QueuedState.ACTIVE:
                tick.events.append(NodeEvent(EventKind.RECOVERED, snap, "ACTIVE, every node up"))
            else:
                tick.events.append(NodeEvent(EventKind.RESOLVED, snap, f"now {qr.state.value}"))
    for name in sorted(set(open_incidents) - seen):
        if "/queuedResources/" not in name:
            continue
        project, zone = name.split("/")[1], name.split("/")[3]
        if project not in listed_projects or {(project, zone), (project, "-")} & set(
            unreachable_zones
        ):
            continue  # no answer from there: not evidence that it is gone
        gone = Snapshot(name=name, state="DELETED", health="")
        tick.events.append(NodeEvent(EventKind.DISAPPEARED, gone, "deleted"))
    return tick


def stuck(qr: QueuedResource) -> bool:
    """FAILED or SUSPENDED: stays until someone deletes it, holding quota meanwhile."""
    return qr.state in STUCK

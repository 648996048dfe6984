"""Pure: TPU instances between ticks -> the events that open, update or resolve their incidents.

An instance's snapshot is the node snapshot's shape: `state` its status, `health` what the
service confirmed it did to it (PREEMPTED, HOST_ERROR) or "", `maintenance` the announced
window in words. A TERMINATED instance is trouble only when the service preempted it (a
`compute.instances.preempted` operation says so): a stopped one is someone's choice. The hosts of
a slice raise nothing of their own: the slice's incident tells their story. An instance that is
no longer listed raises no notice (groups and flex-start runs end them by design), unless it
was a spot instance the service preempted and deleted (its termination action is DELETE: the
preemption operation says so): that is told once, as a preemption, and resolves as gone. An open
incident on an instance no longer listed resolves. Partial data concludes nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.core.instances import (
    DOWN,
    HOST_ERROR,
    PREEMPTED,
    Instance,
    InstanceStatus,
    ProvisioningModel,
)
from bot.core.watching.diff import (
    EventKind,
    NodeEvent,
    Snapshot,
    labels_of,
    maintenance_text,
    reachable,
)


@dataclass(frozen=True)
class Seen:
    """A listed instance that changed since the last tick: its snapshot, and what deciding
    about it needs beyond (whether the service may preempt it, when it last started)."""

    snapshot: Snapshot
    preemptible: bool = False
    last_start: datetime | None = None
    # Compute deletes it when it preempts it (termination action DELETE; a group or GKE would
    # recreate it, and their own incidents tell that story).
    deleted_on_preemption: bool = False

    @property
    def name(self) -> str:
        return self.snapshot.name


@dataclass(frozen=True)
class InstanceChanges:
    """The watcher's instance listing: instances that changed (`seen`), the names of those
    listed exactly as last tick (`unchanged`), every listed one's fingerprint (opaque, in
    memory only), the zones that did not answer, and the requests it took."""

    seen: tuple[Seen, ...] = ()
    unchanged: tuple[str, ...] = ()
    fingerprints: dict[str, int] = field(default_factory=dict)
    unreachable: tuple[str, ...] = ()
    pages: int = 0

    @property
    def listed(self) -> int:
        return len(self.seen) + len(self.unchanged)


def instance_snapshot(instance: Instance, confirmed: str = "") -> Snapshot:
    return Snapshot(
        name=instance.name,
        state=instance.status.value,
        health=confirmed,
        accelerator_type=sys.intern(instance.machine_type),
        labels=labels_of(instance.labels),
        maintenance=maintenance_text(instance.maintenance),
    )


def seen_of(instance: Instance) -> Seen:
    preemptible = instance.provisioning is ProvisioningModel.SPOT
    deleted = (
        preemptible
        and instance.termination_action == "DELETE"
        and not instance.group
        and instance.gke is None
    )
    return Seen(instance_snapshot(instance), preemptible, instance.last_start, deleted)


def needs_events(seen: Seen, before: Snapshot | None) -> bool:
    """Whether the service's own record must be read for this change: a spot instance newly
    down (preempted, or stopped by someone?), or a host newly repairing (a host error?)."""
    state = InstanceStatus(seen.snapshot.state)
    was = InstanceStatus(before.state) if before is not None else None
    if state in DOWN and seen.preemptible and was not in DOWN:
        return True
    return state is InstanceStatus.REPAIRING and was is not InstanceStatus.REPAIRING


def confirmed(seen: Seen, before: Snapshot | None, events: Mapping[str, str]) -> Snapshot:
    """The snapshot with what the service did to it: a preemption confirmed now (or before,
    while it stays down), a host error while it repairs."""
    snap, state = seen.snapshot, InstanceStatus(seen.snapshot.state)
    event = events.get(snap.name, "")
    if state in DOWN:
        kept = before.health if before is not None and before.health == PREEMPTED else ""
        health = PREEMPTED if event == PREEMPTED else kept
    elif state is InstanceStatus.REPAIRING:
        kept = before.health if before is not None and before.health == HOST_ERROR else ""
        health = HOST_ERROR if event == HOST_ERROR else kept
    else:
        health = ""
    return Snapshot(
        snap.name, snap.state, health, snap.accelerator_type, snap.symptoms, snap.labels,
        snap.maintenance,
    )  # fmt: skip


# The mark of a spot instance that the service preempted and then deleted (its termination
# action): a symptom, so the alert says it and its snapshot differs from a preempted, stopped one.
DELETED_ON_PREEMPTION = ("DELETED", "deleted on preemption (its termination action is DELETE)")


def vanished_spot(before: Snapshot | None) -> bool:
    """Whether a spot instance no longer listed must be checked against the zone's operations:
    it was not already known as preempted."""
    return before is not None and before.health != PREEMPTED


def preempted_and_deleted(before: Snapshot) -> Snapshot:
    """The last snapshot of a spot instance the service preempted and deleted: TERMINATED by
    preemption, kept one tick so that its incident opens, then resolves as gone."""
    return replace(
        before,
        state=InstanceStatus.TERMINATED.value,
        health=PREEMPTED,
        symptoms=frozenset({DELETED_ON_PREEMPTION}),
        maintenance="",
    )


def trouble(snapshot: Snapshot) -> EventKind | None:
    state = InstanceStatus(snapshot.state)
    if state in DOWN and snapshot.health == PREEMPTED:
        return EventKind.PREEMPTED
    if state is InstanceStatus.REPAIRING:
        return EventKind.REPAIRING
    if snapshot.maintenance:
        return EventKind.MAINTENANCE
    return None


MAINTENANCE_MEANS = (
    "During the window Google maintains the host: what runs on it stops (TPU VMs do not "
    "live-migrate). Checkpoint and drain before it starts."
)


def describe(snapshot: Snapshot, kind: EventKind) -> str:
    if kind is EventKind.PREEMPTED and DELETED_ON_PREEMPTION in snapshot.symptoms:
        return (
            "preempted by Compute Engine and deleted (its termination action is DELETE): what "
            "ran on it is gone; create it again if the work must go on."
        )
    if kind is EventKind.PREEMPTED:
        return (
            f"preempted by Compute Engine, now {snapshot.state}. A preempted spot VM is not "
            "cleaned up for you: start it again, or delete it."
        )
    if kind is EventKind.REPAIRING:
        if snapshot.health == HOST_ERROR:
            return "host error: Compute Engine is moving it to a healthy host (REPAIRING)"
        return "REPAIRING: Compute Engine is repairing its host"
    if kind is EventKind.MAINTENANCE:
        return f"{snapshot.maintenance}. {MAINTENANCE_MEANS}"
    return f"status {snapshot.state}"


def diff(
    previous: Mapping[str, Snapshot],
    current: Iterable[Snapshot],
    *,
    unchanged: Collection[str] = (),
    covered: Collection[str] = (),
    own: Collection[str] = (),
    open_incidents: Collection[str] = (),
    listed_projects: Collection[str] = (),
    unreachable_zones: Collection[tuple[str, str]] = (),
) -> list[NodeEvent]:
    """Events from one tick of instances (`current`: the changed ones' confirmed snapshots)."""
    events: list[NodeEvent] = []
    seen = set(unchanged)
    for now in current:
        seen.add(now.name)
        if now.name in covered and now.name not in open_incidents:
            continue
        before = previous.get(now.name)
        now_trouble = trouble(now)
        if now.name in own:
            if now.name in open_incidents and now_trouble is None:
                events.append(NodeEvent(EventKind.RECOVERED, now, f"now {now.state}"))
            continue
        before_trouble = trouble(before) if before is not None else None
        if now_trouble is not None and now_trouble is not before_trouble:
            events.append(NodeEvent(now_trouble, now, describe(now, now_trouble)))
        elif (
            now_trouble is EventKind.MAINTENANCE
            and before is not None
            and now.maintenance != before.maintenance
        ):
            events.append(NodeEvent(EventKind.MAINTENANCE, now, now.maintenance))
        elif now_trouble is None and (before_trouble is not None or now.name in open_incidents):
            kind = EventKind.RECOVERED if now.state == "RUNNING" else EventKind.RESOLVED
            events.append(NodeEvent(kind, now, f"now {now.state}"))
    for name in sorted(set(open_incidents) - seen):
        before = previous.get(name)
        if before is None or before.project not in listed_projects:
            continue
        if not reachable(before, unreachable_zones):
            continue  # no answer from its zone: not evidence that it is gone
        events.append(NodeEvent(EventKind.DISAPPEARED, before, "deleted"))
    return events

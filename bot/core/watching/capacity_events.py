"""Pure: slices, flex-start requests and reservation sub-blocks -> the events that open, update or
resolve their incidents.

A slice is in trouble when a host is not RUNNING (or missing from its group): one incident for
the slice ("host 3 of 16 down"), and its hosts raise none of their own. Maintenance announced on
its hosts is one notice for the slice. A flex-start request is in trouble when it waits longer
than the threshold or fails; a sub-block when it reports degraded hosts, or maintenance is
pending or under way on it. Like queued resources, the diff is against the open incidents
(waiting becomes trouble by the clock alone). Partial data concludes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.instances import FlexRequest, FlexState, InstanceGroup, Reservation, SubBlock
from bot.core.names import ResourceName
from bot.core.watching.diff import EventKind, NodeEvent, Snapshot, maintenance_text

GONE = "GONE"  # a host its group lists that the instance listing no longer shows


@dataclass
class CapacityTick:
    events: list[NodeEvent] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)  # hosts whose story a slice tells


def _first_host(group: InstanceGroup, hosts: Mapping[str, Snapshot]) -> Snapshot | None:
    return next((hosts[h.name] for h in group.hosts if h.name in hosts), None)


def slice_snapshot(group: InstanceGroup, hosts: Mapping[str, Snapshot]) -> Snapshot:
    """A slice as the incident machinery sees it: its hosts' machine type and routing labels."""
    first = _first_host(group, hosts)
    return Snapshot(
        name=group.name,
        state=group.topology_state or "SLICE",
        health="",
        accelerator_type=first.accelerator_type if first else group.topology,
        labels=first.labels if first else (),
    )


def slice_trouble(
    group: InstanceGroup, hosts: Mapping[str, Snapshot]
) -> tuple[EventKind | None, str]:
    """(`hosts`: the instances' snapshots now; a host missing there is gone.)"""
    down: list[tuple[int, str, str]] = []
    for position, host in enumerate(group.hosts, start=1):
        snap = hosts.get(host.name)
        state = snap.state if snap is not None else GONE
        if state != "RUNNING":
            why = f" ({snap.health.lower().replace('_', ' ')})" if snap and snap.health else ""
            down.append((position, ResourceName.parse(host.name).id, f"{state}{why}"))
    for position in range(len(group.hosts) + 1, group.wanted + 1):
        down.append((position, "a host", "missing from the group"))
    total = max(group.wanted, len(group.hosts))
    if down:
        position, first, state = down[0]
        more = f"; {len(down) - 1} more down" if len(down) > 1 else ""
        return (
            EventKind.HOSTS_DOWN,
            f"host {position} of {total} down: {first} is {state}{more}. A slice runs only "
            "with every host: its job is stopped or stalled until the host is back.",
        )
    windows = [
        (ResourceName.parse(h.name).id, hosts[h.name].maintenance)
        for h in group.hosts
        if h.name in hosts and hosts[h.name].maintenance
    ]
    if windows:
        first, text = windows[0]
        return (
            EventKind.MAINTENANCE,
            f"{text}, on {len(windows)} of {total} hosts (first {first}). The slice stops "
            "while any host is maintained: checkpoint and drain before it starts.",
        )
    return None, ""


def flex_snapshot(flex: FlexRequest, groups: Mapping[str, InstanceGroup]) -> Snapshot:
    group = groups.get(flex.group)
    return Snapshot(
        name=flex.name,
        state=flex.state.value,
        health="",
        accelerator_type=flex.machine_type or (group.machine_type if group else ""),
        labels=tuple(sorted((group.labels if group else {}).items())),
    )


def flex_trouble(flex: FlexRequest, now: datetime, wait: timedelta) -> tuple[EventKind | None, str]:
    if flex.state is FlexState.FAILED:
        why = flex.error or "no reason given"
        return EventKind.FLEX_FAILED, f"FAILED: {why}. Delete it and ask again, or try elsewhere."
    waited = flex.waited_seconds(now)
    if flex.state is FlexState.ACCEPTED and waited > wait.total_seconds():
        minutes, threshold = int(waited // 60), int(wait.total_seconds() // 60)
        last = f" Last attempt: {flex.last_error}." if flex.last_error else ""
        return (
            EventKind.FLEX_WAITING,
            f"waiting for capacity for {minutes} min (threshold {threshold}) for "
            f"{flex.count} hosts.{last}",
        )
    return None, ""


def sub_block_snapshot(sub: SubBlock, reservation: Reservation) -> Snapshot:
    return Snapshot(
        name=sub.name,
        state="DEGRADED" if sub.degraded else "HEALTHY",
        health="",
        accelerator_type=reservation.machine_type,
        maintenance=maintenance_text(sub.maintenance),
    )


def sub_block_trouble(sub: SubBlock) -> tuple[EventKind | None, str]:
    if sub.degraded:
        return (
            EventKind.SUB_BLOCK_DEGRADED,
            f"{sub.degraded} of {sub.count} hosts degraded ({sub.in_use} in use). VMs placed "
            "there may fail or run slow: report a bad host as faulty, or start maintenance.",
        )
    if sub.maintenance is not None:
        return (
            EventKind.MAINTENANCE,
            f"{maintenance_text(sub.maintenance)}, on a reservation sub-block of {sub.count} "
            f"hosts ({sub.in_use} in use). Its VMs stop while it is maintained.",
        )
    return None, ""


@dataclass(frozen=True)
class Listed:
    """What this tick knows: the groups of each project (maybe from an earlier tick), and the
    flex-start requests and reservations of the projects whose capacity was listed now."""

    groups: Iterable[InstanceGroup]
    flex: Iterable[FlexRequest] = ()
    reservations: Iterable[Reservation] = ()
    fresh: Collection[str] = ()  # projects whose capacity was listed this tick
    hosts_listed: Collection[str] = ()  # projects whose instances were listed this tick


def capacity_events(
    listed: Listed,
    hosts: Mapping[str, Snapshot],
    open_incidents: Mapping[str, str],
    *,
    now: datetime,
    wait: timedelta,
    unreachable_zones: Collection[tuple[str, str]] = (),
) -> CapacityTick:
    """`hosts`: every instance's snapshot now; `open_incidents`: name -> its open kind."""
    tick = CapacityTick()
    seen: set[str] = set()

    def judge(snap: Snapshot, kind: EventKind | None, detail: str, recovered: str) -> None:
        seen.add(snap.name)
        open_kind = open_incidents.get(snap.name)
        if kind is not None and open_kind != kind.value:
            tick.events.append(NodeEvent(kind, snap, detail))
        elif kind is None and open_kind is not None:
            tick.events.append(NodeEvent(EventKind.RECOVERED, snap, recovered))

    groups = {g.name: g for g in listed.groups}
    for group in groups.values():
        if not group.is_slice:
            continue
        project = group.ref.project
        tick.covered.update(h.name for h in group.hosts)
        if project not in listed.hosts_listed or _cut(group.name, unreachable_zones):
            seen.add(group.name)  # not judged now, but not gone either
            continue
        kind, detail = slice_trouble(group, hosts)
        judge(slice_snapshot(group, hosts), kind, detail, "every host RUNNING")
    for flex in listed.flex:
        kind, detail = flex_trouble(flex, now, wait)
        seen.add(flex.name)
        open_kind = open_incidents.get(flex.name)
        snap = flex_snapshot(flex, groups)
        if kind is not None and open_kind != kind.value:
            tick.events.append(NodeEvent(kind, snap, detail))
        elif kind is None and open_kind is not None and flex.state is not FlexState.ACCEPTED:
            done = EventKind.RECOVERED if flex.state is FlexState.SUCCEEDED else EventKind.RESOLVED
            tick.events.append(NodeEvent(done, snap, f"now {flex.state.value}"))
    for reservation in listed.reservations:
        for sub in reservation.sub_blocks:
            kind, detail = sub_block_trouble(sub)
            judge(sub_block_snapshot(sub, reservation), kind, detail, "every host healthy")
    for name in sorted(set(open_incidents) - seen):
        parsed = ResourceName.find(name)
        if parsed is None or not parsed.in_zones or parsed.is_instance:
            continue
        if parsed.project not in listed.fresh or _cut(name, unreachable_zones):
            continue  # not listed now, or no answer from there: not evidence that it is gone
        tick.events.append(
            NodeEvent(EventKind.DISAPPEARED, Snapshot(name, "DELETED", ""), "deleted")
        )
    return tick


def _cut(name: str, unreachable_zones: Collection[tuple[str, str]]) -> bool:
    parsed = ResourceName.parse(name)
    return bool({(parsed.project, parsed.zone), (parsed.project, "-")} & set(unreachable_zones))

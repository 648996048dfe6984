"""The watcher's Compute Engine side: each tick, one instance listing per project (a few projects
at once, light: instances unchanged since the last tick are never read further); the groups,
flex-start requests and reservations around them on their own slower cadence
(`watch.capacity_seconds`), kept in memory between listings.

A spot instance newly down, or a host newly repairing, is checked against the zone's operations
(one request per such zone, only then): preempted, or a host error, is what the service
recorded, never a guess from the status. So is a spot instance no longer listed: the service
deletes one on preemption when its termination action is DELETE. A project or zone that does
not answer concludes nothing: its instances keep their snapshots, and an instance whose
operations could not be read is looked at again next tick.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.instances import PREEMPTED, CapacityListing, SystemEvent
from bot.core.models import ProjectScope
from bot.core.records import Incident
from bot.core.watching import instances as watched
from bot.core.watching.capacity_events import Listed, capacity_events
from bot.core.watching.diff import NodeEvent, Snapshot, reachable
from bot.core.watching.instances import InstanceChanges
from bot.usecases.context import Deps, log
from bot.usecases.ports import ComputeApi, TpuError
from bot.usecases.watch_fleet import LIST_WORKERS, TickReport

# How long a vanished spot VM is kept while its zone's operations cannot be read: a refusal
# that lasts (a missing permission) must not keep it, and a request a tick, forever.
HOLD_VANISHED = timedelta(minutes=15)


def is_instance(name: str) -> bool:
    """A snapshot of an instance (the others are nodes)."""
    return "/instances/" in name


@dataclass
class _Listing:
    project: str
    changes: InstanceChanges | None = None
    capacity: CapacityListing | None = None
    error: str = ""

    @property
    def requests(self) -> int:
        pages = self.changes.pages if self.changes is not None else 1
        return pages + (self.capacity.requests if self.capacity is not None else 0)


@dataclass
class ComputeTick:
    """What the Compute side of one tick found and would store."""

    events: list[NodeEvent] = field(default_factory=list)
    changed: list[Snapshot] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    prints: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)
    capacity_listed: list[str] = field(default_factory=list)
    unreachable: set[tuple[str, str]] = field(default_factory=set)
    instances: int = 0
    seen: int = 0  # instances that changed (read further)
    held: list[str] = field(default_factory=list)  # changed, left for the next tick


class ComputeWatch:
    """The leader's memory of the capacity around instances, and one tick of instances."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.capacity: dict[str, CapacityListing] = {}
        self.capacity_at: dict[str, datetime] = {}
        # Spot instances that Compute deletes when it preempts them, with when each was last
        # listed: one gone since may have been preempted after that listing. In memory: a new
        # leader (or this one, leading again) starts afresh, concluding nothing about earlier.
        self.deleting: dict[str, datetime] = {}

    @property
    def api(self) -> ComputeApi:
        assert self.deps.compute is not None
        return self.deps.compute

    def _due(self, project: str, now: datetime) -> bool:
        every = timedelta(seconds=self.deps.config.watch.capacity_seconds)
        listed = self.capacity_at.get(project)
        return listed is None or now - listed >= every

    def _list(
        self, scopes: Sequence[ProjectScope], prints: Mapping[str, int], now: datetime
    ) -> list[_Listing]:
        def one(where: ProjectScope) -> _Listing:
            result = _Listing(where.project)
            try:
                result.changes = self.api.list_instance_changes(
                    where.project, where.locations, prints
                )
                if self._due(where.project, now):
                    result.capacity = self.api.list_capacity(where.project, where.locations)
            except TpuError as exc:
                result.error = exc.message
            return result

        if len(scopes) <= 1:
            return [one(where) for where in scopes]
        with ThreadPoolExecutor(min(LIST_WORKERS, len(scopes)), "watch-compute") as pool:
            return list(pool.map(one, scopes))

    def poll(
        self,
        scopes: Sequence[ProjectScope],
        previous: Mapping[str, Snapshot],
        prints: Mapping[str, int],
        open_incidents: Mapping[str, Incident],
        own: Collection[str],
        now: datetime,
    ) -> ComputeTick:
        """`previous`: the instances' snapshots; `prints`: the fingerprints they were listed
        with. Nothing is stored here: the caller writes `changed` and `removed` in its tick."""
        tick = ComputeTick()
        seen, unchanged = self._gather(scopes, prints, now, tick)
        vanished = self._vanished(seen, unchanged, previous, tick, now)
        current = self._confirm(seen, previous, tick, vanished, now)
        hosts = dict(previous)
        hosts.update((snap.name, snap) for snap in current)
        kinds = {name: incident.kind for name, incident in open_incidents.items()}
        capacity = capacity_events(
            self._listed(tick),
            hosts,
            kinds,
            now=now,
            wait=timedelta(minutes=self.deps.config.watch.queue_wait_minutes),
            unreachable_zones=tick.unreachable,
        )
        tick.events = watched.diff(
            previous,
            current,
            unchanged=unchanged,
            covered=capacity.covered,
            own=own,
            open_incidents=set(open_incidents),
            listed_projects=tick.listed,
            unreachable_zones=tick.unreachable,
        )
        tick.events += capacity.events
        tick.changed = [snap for snap in current if previous.get(snap.name) != snap]
        listed = {s.name for s in current} | set(unchanged) | set(tick.held)
        tick.removed = _gone(previous, listed, tick)
        for name in tick.removed:
            self.deleting.pop(name, None)
        return tick

    def _gather(
        self,
        scopes: Sequence[ProjectScope],
        prints: Mapping[str, int],
        now: datetime,
        tick: ComputeTick,
    ) -> tuple[list[watched.Seen], list[str]]:
        """List every project (and its capacity when due) into `tick`: the instances that
        changed, and the names of those listed as they were."""
        seen: list[watched.Seen] = []
        unchanged: list[str] = []
        for one in self._list(scopes, prints, now):
            tick.requests[one.project] = one.requests
            if one.changes is None:
                log.warning("watch: instances of %s not listed: %s", one.project, one.error)
                tick.failed.append(one.project)
                tick.unreachable.add((one.project, "-"))
                continue
            tick.listed.append(one.project)
            seen.extend(one.changes.seen)
            unchanged.extend(one.changes.unchanged)
            tick.prints.update(one.changes.fingerprints)
            tick.unreachable.update((one.project, z) for z in one.changes.unreachable)
            if one.capacity is not None:
                self.capacity[one.project] = one.capacity
                self.capacity_at[one.project] = now
                tick.capacity_listed.append(one.project)
                tick.unreachable.update((one.project, z) for z in one.capacity.unreachable)
        tick.instances, tick.seen = len(seen) + len(unchanged), len(seen)
        return seen, unchanged

    def tick(
        self,
        remembered: Mapping[str, Snapshot],
        projects: Collection[str] | None,
        quick: Collection[str],
        open_incidents: Mapping[str, Incident],
        own: Collection[str],
        prints: Mapping[str, int],
        now: datetime,
        report: TickReport,
    ) -> ComputeTick:
        """The Compute side of a watcher's tick (`remembered`: every snapshot, nodes' too), on
        full polls only (a quick poll, `quick`, lists nodes only); its figures in `report`."""
        scopes = [
            s
            for s in self.deps.compute_scopes
            if (projects is None or s.project in projects) and s.project not in quick
        ]
        if not scopes:
            return ComputeTick()
        previous = {n: s for n, s in remembered.items() if is_instance(n)}
        machines = self.poll(scopes, previous, prints, open_incidents, own, now)
        report.instances = machines.instances
        report.instances_changed = machines.seen
        report.compute_requests = machines.requests
        report.compute_failed = machines.failed
        return machines

    def _listed(self, tick: ComputeTick) -> Listed:
        """Every project's groups as last listed; flex-start requests and reservations of the
        projects listed now."""
        fresh = [self.capacity[p] for p in tick.capacity_listed]
        return Listed(
            groups=[g for c in self.capacity.values() for g in c.groups],
            flex=[f for c in fresh for f in c.flex],
            reservations=[r for c in fresh for r in c.reservations],
            fresh=tick.capacity_listed,
            hosts_listed=tick.listed,
        )

    def forget(self) -> None:
        """The snapshots were loaded again (another leader wrote since): what this one
        remembers of the instances may be stale."""
        self.deleting.clear()

    def _vanished(
        self,
        seen: list[watched.Seen],
        unchanged: list[str],
        previous: Mapping[str, Snapshot],
        tick: ComputeTick,
        now: datetime,
    ) -> list[tuple[Snapshot, datetime]]:
        """Spot instances deleted on preemption that are gone now (from projects and zones that
        answered), not yet known as preempted, with when each was last listed: the zone's
        operations tell whether the service did it since."""
        gone = _gone(previous, {s.name for s in seen} | set(unchanged), tick)
        vanished = [
            (previous[name], self.deleting[name])
            for name in gone
            if name in self.deleting and watched.vanished_spot(previous[name])
        ]
        for one in seen:
            if one.deleted_on_preemption:
                self.deleting[one.name] = now
            else:
                self.deleting.pop(one.name, None)
        for name in unchanged:
            if name in self.deleting:
                self.deleting[name] = now
        return vanished

    def _events(
        self, zones: Collection[tuple[str, str]], tick: ComputeTick
    ) -> tuple[dict[tuple[str, str], list[SystemEvent]], set[tuple[str, str]]]:
        """The system events of each zone (one request each), and the zones not read."""
        found: dict[tuple[str, str], list[SystemEvent]] = {}
        unread: set[tuple[str, str]] = set()
        for project, zone in sorted(zones):
            try:
                found[(project, zone)] = self.api.system_events(project, zone)
            except TpuError as exc:
                log.warning("watch: operations of %s/%s not read: %s", project, zone, exc.message)
                unread.add((project, zone))
                continue
            tick.requests[project] = tick.requests.get(project, 0) + 1
        return found, unread

    def _confirm(
        self,
        seen: list[watched.Seen],
        previous: Mapping[str, Snapshot],
        tick: ComputeTick,
        vanished: Sequence[tuple[Snapshot, datetime]],
        now: datetime,
    ) -> list[Snapshot]:
        """The changed instances' snapshots, with what the zones' operations confirm, and those
        of the `vanished` spot instances the service preempted (and deleted) since the last
        listing. Those whose zone's operations could not be read are left for the next tick
        (no snapshot, no fingerprint: they look changed, or gone, again)."""
        asking = {s.name: s for s in seen if watched.needs_events(s, previous.get(s.name))}
        zones = {(s.snapshot.project, s.snapshot.zone) for s in asking.values()}
        zones |= {(gone.project, gone.zone) for gone, _ in vanished}
        found, unread = self._events(zones, tick)
        events: dict[str, str] = {}
        starts = {s.name: s.last_start for s in seen}
        for event in (e for listed in found.values() for e in listed):
            started = starts.get(event.instance)
            if started is None or event.at is None or event.at >= started:
                events[event.instance] = event.kind
        current = []
        for one in seen:
            where = (one.snapshot.project, one.snapshot.zone)
            if where in unread and one.name in asking:
                tick.prints.pop(one.name, None)
                tick.held.append(one.name)
                continue
            current.append(watched.confirmed(one, previous.get(one.name), events))
        current += self._deleted(vanished, found, unread, tick, now)
        return current

    def _deleted(
        self,
        vanished: Sequence[tuple[Snapshot, datetime]],
        found: Mapping[tuple[str, str], list[SystemEvent]],
        unread: Collection[tuple[str, str]],
        tick: ComputeTick,
        now: datetime,
    ) -> list[Snapshot]:
        """The last snapshots of the vanished instances the service preempted after they were
        last listed (a minute's leeway for clocks); one whose zone's operations were not read is
        kept and asked about again, for HOLD_VANISHED at most (a lasting refusal, such as a
        missing permission, must not keep it forever)."""
        deleted = []
        for gone, listed_at in vanished:
            if (gone.project, gone.zone) in unread:
                if now - listed_at <= HOLD_VANISHED:
                    tick.held.append(gone.name)
                else:
                    log.warning("watch: %s is gone; whether it was preempted is unknown", gone.name)
            elif _preempted_since(found, gone, listed_at - timedelta(minutes=1)):
                deleted.append(watched.preempted_and_deleted(gone))
        return deleted


def _preempted_since(
    found: Mapping[tuple[str, str], list[SystemEvent]], gone: Snapshot, since: datetime
) -> bool:
    """Whether the zone's operations record a preemption of `gone` after `since` (an older one
    is an earlier life of the same name)."""
    return any(
        e.instance == gone.name and e.kind == PREEMPTED and e.at is not None and e.at >= since
        for e in found.get((gone.project, gone.zone), [])
    )


def _gone(previous: Mapping[str, Snapshot], listed: set[str], tick: ComputeTick) -> list[str]:
    """Snapshots of instances no longer listed by a project that answered, in a zone that did."""
    projects = set(tick.listed)
    return [
        name
        for name, snap in previous.items()
        if name not in listed and snap.project in projects and reachable(snap, tick.unreachable)
    ]

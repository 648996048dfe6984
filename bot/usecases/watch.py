"""The watcher: one poll tick turns the fleet's changes into incidents and outbox messages.

Every decision is made by `policy.decide` (pure, with a reason that is logged); what a tick decides
is written in one transaction with the messages it causes, so a crash loses neither. Roots are
redrawn from their current state whenever it changes, muted or not: an edit notifies nobody.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.core import messages as m
from bot.core import policy
from bot.core.names import ResourceName
from bot.core.records import GONE, Incident, IncidentStatus, WatcherStatus
from bot.core.text import Code, say
from bot.core.watching import diff as health
from bot.core.watching import queues
from bot.core.watching.diff import EventKind, NodeEvent, Snapshot
from bot.core.watching.instances import DELETED_ON_PREEMPTION
from bot.usecases.context import Deps, log
from bot.usecases.incidents import change_incident, redraw_digest
from bot.usecases.watch_compute import ComputeWatch, is_instance
from bot.usecases.watch_fleet import (
    Memory,
    TickReport,
    defer_quick,
    gather,
    list_projects,
    snapshot_changes,
)
from bot.usecases.watch_pace import Pacer

OWN_GRACE = timedelta(minutes=10)  # after the bot's own operation ends, its effects are still ours
Decided = list[tuple[NodeEvent, policy.Decision, policy.StormKey]]


@dataclass
class _Tick:
    """What one tick is writing: open incidents as they change, storms, digest batches."""

    deps: Deps
    conn: Any
    now: datetime
    open: dict[str, Incident]
    report: TickReport
    storm_members: dict[policy.StormKey, list[Incident]] = field(
        default_factory=lambda: defaultdict(list)
    )
    batches: dict[str, list[m.IncidentEvent]] = field(default_factory=lambda: defaultdict(list))
    touched_digests: set[str] = field(default_factory=set)


def poll(deps: Deps, now: datetime) -> TickReport:
    """One tick of a watcher with no memory yet (it loads the snapshots from the database)."""
    return Watcher(deps).poll(now)


class Watcher:
    """The leader's watcher: its snapshots in memory between ticks (see `watch_fleet`)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.memory = Memory()
        self.compute = ComputeWatch(deps)  # TPU VM instances, slices, flex-start, reservations
        cfg = deps.config.watch
        self.pacer: Pacer | None = None
        if cfg.requests_per_minute is not None:
            every = min(cfg.poll_seconds, cfg.plan_seconds)
            self.pacer = Pacer(cfg.requests_per_minute, cfg.poll_seconds, every)

    @property
    def every_seconds(self) -> int:
        """How often the poll job runs: every poll_seconds, or every plan_seconds on a budget."""
        cfg = self.deps.config.watch
        return cfg.poll_seconds if self.pacer is None else min(cfg.poll_seconds, cfg.plan_seconds)

    def tick(self, now: datetime) -> TickReport | None:
        """The poll job: every project, or (on a budget) the ones the plan picks; None when the
        plan picks none."""
        if self.pacer is None:
            return self.poll(now)
        projects = [scope.project for scope in self.deps.scopes]
        chosen = self.pacer.choose(now, projects, self.deps.watch.open_incidents())
        if not chosen.poll:
            return None
        quick = set(chosen.poll) - chosen.full
        report = self.poll(now, chosen.poll, quick=quick)
        self.pacer.polled(now, report, chosen.full)
        return report

    def poll(
        self, now: datetime, projects: Collection[str] | None = None, quick: Collection[str] = ()
    ) -> TickReport:
        """List the watched projects (only `projects`, if given: nothing is concluded about
        the others; those in `quick` list their nodes only), diff against the last snapshot,
        decide, enqueue."""
        deps, watch = self.deps, self.deps.watch
        report = TickReport()
        version = self.memory.version
        remembered = self.memory.load(watch)
        if self.memory.version != version:  # loaded again: what the watcher remembers is stale
            self.compute.forget()
        previous = {n: s for n, s in remembered.items() if not is_instance(n)}
        open_incidents = watch.open_incidents()
        own = deps.store.operation_targets_since(now - OWN_GRACE)
        scopes = [s for s in deps.tpu_scopes if projects is None or s.project in projects]
        wanted = set(open_incidents) | own
        fleet = gather(
            list_projects(deps.tpu, scopes, self.memory.prints, wanted, quick=quick), report
        )
        report.queues_due = defer_quick(fleet, previous, quick, report.unreachable)
        views: dict[str, queues.NodeView] = {n: previous[n] for n in fleet.unchanged}
        views.update((node.name, node) for node in fleet.nodes)
        queue_tick = queues.queue_events(
            fleet.queued,
            views,
            {name: incident.kind for name, incident in open_incidents.items()},
            now=now,
            wait=timedelta(minutes=deps.config.watch.queue_wait_minutes),
            listed_projects=report.listed,
            unreachable_zones=report.unreachable | fleet.queue_unreachable,
        )
        events = health.diff(
            previous,
            fleet.nodes,
            unreachable_zones=report.unreachable,
            listed_projects=report.listed,
            own=own,
            open_incidents=set(open_incidents),
            covered=queue_tick.covered,
            unchanged=fleet.unchanged,
        )
        events += queue_tick.events
        machines = self.compute.tick(
            remembered, projects, quick, open_incidents, own, self.memory.prints, now, report
        )
        events += machines.events
        report.events = len(events)
        decided = _decide(deps, events, open_incidents, now)
        changed, removed = snapshot_changes(previous, fleet, report)
        changed += machines.changed
        removed += machines.removed
        with watch.begin() as conn:
            tick = _Tick(deps, conn, now, open_incidents, report)
            _apply(tick, decided)
            _resolve_settled_flapping(tick)
            version = self.memory.save(watch, conn, changed, removed)
            status = _degraded(deps, conn, bool(report.failed_projects), now)
            watch.set_status(conn, replace(status, last_poll=now))
        self.memory.committed(version, changed, removed, {**fleet.prints, **machines.prints})
        return report


def _decide(
    deps: Deps, events: list[NodeEvent], open_incidents: dict[str, Incident], now: datetime
) -> Decided:
    """Each event's decision; a storm (many opens in one zone and channel) becomes a digest."""
    cfg = deps.config.watch
    recent = deps.watch.recent_opens(now - timedelta(minutes=cfg.flap_window_minutes))

    def decide(event: NodeEvent, storm: bool) -> policy.Decision:
        incident = open_incidents.get(event.name)
        view = None
        if incident is not None:
            view = policy.OpenIncident(
                incident.kind, incident.opened_at, incident.muted_until, incident.flapping
            )
        return policy.decide(
            event.kind.value,
            view,
            now=now,
            storm=storm,
            recent_opens=recent.get(event.name, 0),
            flap_threshold=cfg.flap_threshold,
        )

    # The group key, computed once per event: its zone and the channel its route names.
    keys = {e.name: policy.StormKey(e.node.zone, _channel(deps, e.node)) for e in events}
    decided = [(event, decide(event, False), keys[event.name]) for event in events]
    opening = Counter(key for _, d, key in decided if d.act is policy.Act.OPEN)
    storms = {key for key, count in opening.items() if count >= cfg.storm_threshold}
    if storms:
        decided = [(e, decide(e, True) if k in storms else d, k) for e, d, k in decided]
    return decided


def _channel(deps: Deps, snap: Snapshot) -> str:
    return policy.route(
        snap.project, snap.zone, dict(snap.labels), deps.config.routes, deps.config.channels.alerts
    )


def _apply(tick: _Tick, decided: Decided) -> None:
    for event, decision, key in decided:
        tick.report.decisions[decision.act.value] += 1
        log.info(
            "watch: %s %s -> %s (%s)",
            event.name,
            event.kind.value,
            decision.act.value,
            decision.reason,
        )
        act = decision.act
        if act is policy.Act.SUPPRESS:
            _suppressed(tick, event)
        elif act in (policy.Act.OPEN, policy.Act.FLAPPING, policy.Act.DIGEST):
            _open(tick, event, decision, key)
        elif act is policy.Act.NOTICE:
            _notice(tick, event, decision)
        else:
            _update(tick, event, decision)
    _open_storms(tick)
    _post_batches(tick)
    for digest_id in tick.touched_digests:
        redraw_digest(tick.deps, tick.conn, digest_id, tick.now)


def _suppressed(tick: _Tick, event: NodeEvent) -> None:
    incident = tick.open.get(event.name)
    if incident is None:
        return
    values: dict[str, Any] = {"last_event_at": tick.now}
    latest = _latest(event)
    if latest and latest != incident.latest and event.kind is not EventKind.SYMPTOM:
        # Muted or flapping: nothing is posted, but the root still says how the node is now.
        values["latest"] = latest
        tick.open[event.name] = change_incident(tick.deps, tick.conn, incident, tick.now, **values)
        if incident.digest_id:
            tick.touched_digests.add(incident.digest_id)
        return
    tick.deps.watch.update_incident(tick.conn, incident.id, **values)


def _latest(event: NodeEvent) -> str:
    """How the node is now, in words (not what happened to it)."""
    if event.kind is EventKind.DISAPPEARED or DELETED_ON_PREEMPTION in event.node.symptoms:
        return GONE
    state, health_ = event.node.state, event.node.health
    if health_ and health_ != "HEALTH_UNSPECIFIED":
        return f"{state}, {health_}"
    return state


def _open(tick: _Tick, event: NodeEvent, decision: policy.Decision, key: policy.StormKey) -> None:
    deps, act = tick.deps, decision.act
    detail = event.detail
    if act is policy.Act.FLAPPING:
        detail = (
            f"{event.detail}. Flapping: {decision.reason}; "
            "no more alerts for it until it is stable."
        )
    incident = Incident(
        id=deps.new_id(),
        node=event.name,
        kind=event.kind.value,
        channel=key.channel,
        opened_at=tick.now,
        last_event_at=tick.now,
        detail=detail,
        flapping=act is policy.Act.FLAPPING,
        accelerator_type=event.node.accelerator_type,
        latest=_latest(event),
    )
    tick.open[event.name] = incident
    if act is policy.Act.DIGEST:
        tick.storm_members[key].append(incident)
        return
    deps.watch.add_incident(tick.conn, incident)
    root = deps.outbox.post(
        tick.conn, incident.channel, m.IncidentRoot(incident, tick.now), now=tick.now
    )
    deps.watch.set_root(tick.conn, "incidents", incident.id, root)
    tick.open[event.name] = replace(incident, root_outbox=root)


def _notice(tick: _Tick, event: NodeEvent, decision: policy.Decision) -> None:
    name = ResourceName.parse(event.name)
    text = say(Code(name.display), f" {event.kind.value}: {decision.reason}.")
    channel = _channel(tick.deps, event.node)
    tick.deps.outbox.post(tick.conn, channel, m.WatchNotice(text), now=tick.now)


def _update(tick: _Tick, event: NodeEvent, decision: policy.Decision) -> None:
    """A reply or a resolution of an open incident; its root is redrawn either way."""
    incident = tick.open.get(event.name)
    assert incident is not None, f"{decision.act} without an open incident"
    values: dict[str, Any] = {"last_event_at": tick.now}
    if event.kind is not EventKind.SYMPTOM:
        values["latest"] = _latest(event)
    resolved_after = None
    if decision.act is policy.Act.RESOLVE:
        resolved_after = (tick.now - incident.opened_at).total_seconds()
        values.update(status=IncidentStatus.RESOLVED, resolved_at=tick.now)
        tick.open.pop(event.name, None)
    elif event.kind in health.TROUBLE and event.kind is not EventKind.SYMPTOM:
        values.update(kind=event.kind.value, detail=event.detail)
    updated = change_incident(tick.deps, tick.conn, incident, tick.now, **values)
    if decision.act is not policy.Act.RESOLVE:
        tick.open[event.name] = updated
    if incident.digest_id:
        tick.touched_digests.add(incident.digest_id)
    if decision.quiet:
        return
    note = m.IncidentEvent(event.name, event.kind.value, event.detail, resolved_after)
    if incident.digest_id:
        tick.batches[incident.digest_id].append(note)
        return
    tick.deps.outbox.post(tick.conn, incident.channel, note, now=tick.now, thread=incident.root)


def _open_storms(tick: _Tick) -> None:
    deps, conn, now = tick.deps, tick.conn, tick.now
    for (zone, channel), members in tick.storm_members.items():
        digest_id = deps.new_id()
        projects = sorted({ResourceName.parse(i.node).project for i in members})
        deps.watch.add_digest(
            conn,
            id=digest_id,
            project=",".join(projects)[:128],
            zone=zone,
            channel=channel,
            opened_at=now,
        )
        for incident in members:
            joined = replace(incident, digest_id=digest_id)
            deps.watch.add_incident(conn, joined)
            tick.open[incident.node] = joined
        digest = deps.watch.digest(digest_id, conn=conn)
        assert digest is not None
        root = deps.outbox.post(conn, channel, m.DigestRoot(digest, tuple(members), now), now=now)
        deps.watch.set_root(conn, "digests", digest_id, root)
        for incident in members:
            deps.watch.update_incident(conn, incident.id, root_outbox=root)
            tick.open[incident.node] = replace(tick.open[incident.node], root_outbox=root)


def _post_batches(tick: _Tick) -> None:
    for digest_id, updates in tick.batches.items():
        digest = tick.deps.watch.digest(digest_id, conn=tick.conn)
        if digest is None:
            continue
        batch = m.DigestBatch(tuple(updates))
        tick.deps.outbox.post(tick.conn, digest.channel, batch, now=tick.now, thread=digest.root)


def _resolve_settled_flapping(tick: _Tick) -> None:
    quiet = timedelta(minutes=tick.deps.config.watch.flap_window_minutes)
    for incident in list(tick.open.values()):
        if incident.flapping and tick.now - incident.last_event_at >= quiet:
            change_incident(
                tick.deps,
                tick.conn,
                incident,
                tick.now,
                status=IncidentStatus.RESOLVED,
                resolved_at=tick.now,
            )
            note = m.IncidentEvent(incident.node, "resolved", "stable again; alerts resume")
            root = incident.root
            tick.deps.outbox.post(tick.conn, incident.channel, note, now=tick.now, thread=root)


def _degraded(deps: Deps, conn: Any, failed: bool, now: datetime) -> WatcherStatus:
    """Count the TPU API's failed polls; say once when monitoring degrades and when it is back."""
    status = deps.watch.status()
    alerts = deps.config.channels.alerts
    if failed:
        failures = status.api_failures + 1
        degraded = status.degraded
        if failures >= deps.config.watch.degraded_after_failures and not degraded:
            degraded = True
            text = (
                f"Monitoring degraded: the TPU API has failed for {failures} polls in a row. "
                "Alerts may be late until it answers again."
            )
            deps.outbox.post(conn, alerts, m.WatchNotice(text, m.Tone.WARNING), now=now)
        return replace(status, api_failures=failures, degraded=degraded)
    if status.degraded:
        restored = m.WatchNotice("Monitoring restored: the TPU API answers again.", m.Tone.SUCCESS)
        deps.outbox.post(conn, alerts, restored, now=now)
    return replace(status, api_failures=0, degraded=False)

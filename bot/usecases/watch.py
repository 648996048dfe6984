"""The watcher: one poll tick turns the fleet's changes into incidents and outbox messages.

Every decision is made by `policy.decide` (pure, with a reason that is logged); what a tick decides
is written in one transaction with the messages it causes, so a crash loses neither.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.core import messages as m
from bot.core import policy
from bot.core.messages import Tone
from bot.core.models import Node, NodeName
from bot.core.records import Incident, IncidentStatus
from bot.core.watching import diff as health
from bot.core.watching.diff import EventKind, NodeEvent, Snapshot
from bot.usecases.context import Deps, log
from bot.usecases.ports import TpuError

OWN_GRACE = timedelta(minutes=10)  # after the bot's own operation ends, its effects are still ours


@dataclass
class TickReport:
    nodes: int = 0
    events: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    failed_projects: list[str] = field(default_factory=list)
    unreachable: set[tuple[str, str]] = field(default_factory=set)


def _view(incident: Incident | None) -> policy.OpenIncident | None:
    if incident is None:
        return None
    return policy.OpenIncident(
        incident.kind, incident.opened_at, incident.muted_until, incident.flapping
    )


def poll(deps: Deps, now: datetime) -> TickReport:
    """List every watched project, diff against the last snapshot, decide, enqueue."""
    report = TickReport()
    nodes: list[Node] = []
    listed: list[str] = []
    for scope in deps.scopes:
        try:
            listing = deps.tpu.list_nodes(scope.project, scope.locations)
        except TpuError as exc:
            log.warning("watch: %s not listed: %s", scope.project, exc.message)
            report.failed_projects.append(scope.project)
            report.unreachable.add((scope.project, "-"))
            continue
        listed.append(scope.project)
        nodes.extend(listing.nodes)
        for location in listing.unreachable:
            report.unreachable.add((scope.project, location.rsplit("/", 1)[-1]))
    report.nodes = len(nodes)

    watch = deps.watch
    previous = watch.load_snapshots()
    own = deps.store.operation_targets_since(now - OWN_GRACE)
    open_incidents = watch.open_incidents()
    events = health.diff(
        previous,
        nodes,
        unreachable_zones=report.unreachable,
        listed_projects=listed,
        own=own,
        open_incidents=set(open_incidents),
    )
    report.events = len(events)
    cfg = deps.config.watch
    recent = watch.recent_opens(now - timedelta(minutes=cfg.flap_window_minutes))

    def decide(event: NodeEvent, storm: bool) -> policy.Decision:
        return policy.decide(
            event.kind.value,
            _view(open_incidents.get(event.name)),
            now=now,
            storm=storm,
            recent_opens=recent.get(event.name, 0),
            flap_threshold=cfg.flap_threshold,
        )

    decided = [(event, decide(event, False)) for event in events]

    # A storm is counted per zone and channel: a zone outage across many projects is one digest.
    def storm_key(event: NodeEvent) -> tuple[str, str]:
        return event.node.zone, _channel(deps, event.node)

    opening = Counter(storm_key(e) for e, d in decided if d.act is policy.Act.OPEN)
    storms = {key for key, count in opening.items() if count >= cfg.storm_threshold}
    if storms:
        decided = [(e, decide(e, True)) if storm_key(e) in storms else (e, d) for e, d in decided]
    current = {node.name: health.snapshot_of(node) for node in nodes}
    changed = [s for name, s in current.items() if previous.get(name) != s]
    removed = [
        name
        for name, snap in previous.items()
        if name not in current
        and snap.project in listed
        and health.reachable(snap, report.unreachable)
    ]
    with watch.begin() as conn:
        _apply(deps, conn, decided, open_incidents, now, report)
        _resolve_settled_flapping(deps, conn, open_incidents, now)
        watch.save_snapshots(conn, changed, removed)
        _degraded(deps, conn, bool(report.failed_projects), now)
        watch.put(conn, "last_poll", now.isoformat())
    return report


def _channel(deps: Deps, snap: Snapshot) -> str:
    return policy.route(
        snap.project, snap.zone, dict(snap.labels), deps.config.routes, deps.config.channels.alerts
    )


def _apply(
    deps: Deps,
    conn: Any,
    decided: list[tuple[NodeEvent, policy.Decision]],
    open_incidents: dict[str, Incident],
    now: datetime,
    report: TickReport,
) -> None:
    watch, outbox = deps.watch, deps.outbox
    digest_members: dict[tuple[str, str], list[tuple[NodeEvent, Incident]]] = defaultdict(
        list
    )  # (zone, channel)
    batches: dict[str, list[m.IncidentEvent]] = defaultdict(list)
    for event, decision in decided:
        report.decisions[decision.act.value] += 1
        log.info(
            "watch: %s %s -> %s (%s)",
            event.name,
            event.kind.value,
            decision.act.value,
            decision.reason,
        )
        incident = open_incidents.get(event.name)
        act = decision.act
        if act is policy.Act.SUPPRESS:
            if incident is not None:
                watch.update_incident(conn, incident.id, last_event_at=now)
            continue
        if act in (policy.Act.OPEN, policy.Act.FLAPPING, policy.Act.DIGEST):
            detail = event.detail
            if act is policy.Act.FLAPPING:
                detail = (
                    f"{event.detail}. Flapping: {decision.reason}; no more alerts for it "
                    "until it is stable."
                )
            incident = Incident(
                id=deps.new_id(),
                node=event.name,
                kind=event.kind.value,
                channel=_channel(deps, event.node),
                opened_at=now,
                last_event_at=now,
                detail=detail,
                flapping=act is policy.Act.FLAPPING,
                accelerator_type=event.node.accelerator_type,
            )
            open_incidents[event.name] = incident
            if act is policy.Act.DIGEST:
                digest_members[(event.node.zone, incident.channel)].append((event, incident))
                continue
            watch.add_incident(conn, incident)
            root = outbox.post(conn, incident.channel, m.IncidentRoot(incident, now), now=now)
            watch.set_root(conn, "incidents", incident.id, root)
            open_incidents[event.name] = replace(incident, root_outbox=root)
            continue
        if act is policy.Act.NOTICE:
            text = (
                f"`{event.node.project}/{event.node.zone}/{NodeName.parse(event.name).node_id}` "
                f"{event.kind.value}: {decision.reason}."
            )
            outbox.post(conn, _channel(deps, event.node), m.WatchNotice(text), now=now)
            continue
        assert incident is not None
        resolved_after = None
        values: dict[str, Any] = {"last_event_at": now}
        if act is policy.Act.RESOLVE:
            resolved_after = (now - incident.opened_at).total_seconds()
            values.update(status=IncidentStatus.RESOLVED, resolved_at=now)
            open_incidents.pop(event.name, None)
        elif event.kind in health.TROUBLE and event.kind is not EventKind.SYMPTOM:
            values.update(kind=event.kind.value, detail=event.detail)
        watch.update_incident(conn, incident.id, **values)
        if decision.quiet:
            continue
        update = m.IncidentEvent(event.name, event.kind.value, event.detail, resolved_after)
        if incident.digest_id:
            batches[incident.digest_id].append(update)
            continue
        outbox.post(conn, incident.channel, update, now=now, thread_outbox=incident.root_outbox)
        if act is policy.Act.RESOLVE:
            final = Incident(**{**incident.__dict__, **values})
            outbox.update(
                conn,
                incident.channel,
                m.IncidentRoot(final, now),
                now=now,
                target_outbox=incident.root_outbox,
            )
    for (zone, channel), members in digest_members.items():
        digest_id = deps.new_id()
        projects = sorted({e.node.project for e, _ in members})
        watch.add_digest(
            conn,
            id=digest_id,
            project=",".join(projects)[:128],
            zone=zone,
            channel=channel,
            opened_at=now,
        )
        incidents = [i for _, i in members]
        root = outbox.post(conn, channel, m.DigestRoot(tuple(projects), zone, incidents), now=now)
        watch.set_root(conn, "digests", digest_id, root)
        for incident in incidents:
            watch.add_incident(conn, replace(incident, digest_id=digest_id, root_outbox=root))
    for digest_id, updates in batches.items():
        digest = watch.digest(digest_id)
        outbox.post(
            conn,
            digest.channel,
            m.DigestBatch(tuple(updates)),
            now=now,
            thread_outbox=digest.root_outbox,
        )


def _resolve_settled_flapping(
    deps: Deps, conn: Any, open_incidents: dict[str, Incident], now: datetime
) -> None:
    quiet = timedelta(minutes=deps.config.watch.flap_window_minutes)
    for incident in list(open_incidents.values()):
        if incident.flapping and now - incident.last_event_at >= quiet:
            deps.watch.update_incident(
                conn, incident.id, status=IncidentStatus.RESOLVED, resolved_at=now
            )
            note = m.IncidentEvent(incident.node, "resolved", "stable again; alerts resume")
            deps.outbox.post(
                conn, incident.channel, note, now=now, thread_outbox=incident.root_outbox
            )


def _degraded(deps: Deps, conn: Any, failed: bool, now: datetime) -> None:
    watch = deps.watch
    failures = int(watch.get("api_failures", "0"))
    degraded = watch.get("degraded", "0") == "1"
    alerts = deps.config.channels.alerts
    if failed:
        failures += 1
        watch.put(conn, "api_failures", str(failures))
        if failures >= deps.config.watch.degraded_after_failures and not degraded:
            watch.put(conn, "degraded", "1")
            text = (
                f"Monitoring degraded: the TPU API has failed for {failures} polls in a row. "
                "Alerts may be late until it answers again."
            )
            deps.outbox.post(conn, alerts, m.WatchNotice(text, Tone.WARNING), now=now)
        return
    if failures:
        watch.put(conn, "api_failures", "0")
    if degraded:
        watch.put(conn, "degraded", "0")
        deps.outbox.post(
            conn,
            alerts,
            m.WatchNotice("Monitoring restored: the TPU API answers again.", Tone.SUCCESS),
            now=now,
        )

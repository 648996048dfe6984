"""Is anyone using it? The usage table, keeping a TPU, the idle sweep, the daily digest, the
App Home and the usage on TPU cards, from Cloud Monitoring (a port: `deps.usage`), for nodes and
TPU VM instances alike. Usage that cannot be read is unknown, never idle."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import messages as m
from bot.core import policy, scope
from bot.core.commands import Verb
from bot.core.commands.usage import Keep, Usage
from bot.core.instances import FlexState, Instance
from bot.core.messages import Tone
from bot.core.models import ProjectScope
from bot.core.names import Kind, ResourceName
from bot.core.records import IdleMember
from bot.core.text import Code, say
from bot.core.usage import (
    DAY,
    HOUR,
    Metric,
    TpuFacts,
    TpuKind,
    TpuUsage,
    UsageListing,
    Verdict,
    Why,
    facts_of_instance,
    facts_of_node,
    idle_verdict,
)
from bot.core.usage_cost import PriceTable, price_table
from bot.core.usage_digest import FleetEntry, busy_chips_by_period
from bot.core.usage_messages import (
    FleetHome,
    FleetNotes,
    IdleNotice,
    IdleSettled,
    IdleTpu,
    MaintenanceLine,
    UsageDetail,
    UsageDigest,
    UsageLine,
)
from bot.core.usage_views import (
    fleet_home,
    idle_notices,
    unknown_lines,
    usage_detail,
    usage_digest,
    usage_line,
    usage_table,
)
from bot.usecases import instances, tpus
from bot.usecases.context import Actor, Deps, log
from bot.usecases.ports import TpuError
from bot.usecases.registry import Outcome, handles
from bot.usecases.tpus import Tpu

DIGEST_KEY = "usage-digest:last"  # the local date of the last digest posted
NOT_CONFIGURED = "Cloud Monitoring is not configured"


@dataclass
class Fleet:
    """The TPUs of the managed projects (nodes and TPU VM instances), judged: each with its
    facts, usage and verdict."""

    entries: list[FleetEntry]
    listings: list[UsageListing]
    tpus: dict[str, Tpu]
    # (project, kind) whose TPUs were listed: a failed listing concludes nothing of its TPUs
    listed: set[tuple[str, TpuKind]]

    @property
    def unknown(self) -> list[str]:
        return unknown_lines(self.listings)

    @property
    def projects(self) -> dict[str, set[TpuKind]]:
        found: dict[str, set[TpuKind]] = {}
        for project, kind in self.listed:
            found.setdefault(project, set()).add(kind)
        return found


def prices(deps: Deps) -> PriceTable:
    return price_table(deps.config.usage.prices, deps.config.usage.currency)


def facts_of(tpu: Tpu, kept_until: datetime | None = None) -> TpuFacts:
    """What the usage logic needs of a node or a TPU VM instance."""
    if not isinstance(tpu, Instance):
        return facts_of_node(tpu, kept_until=kept_until)
    return facts_of_instance(
        project=tpu.project,
        zone=tpu.zone,
        name=tpu.node_id,
        instance_id=tpu.uid,
        machine_type=tpu.machine_type,
        status=tpu.status.value,
        provisioning_model=tpu.provisioning.value,
        created=tpu.create_time,
        labels=tpu.labels,
        kept_until=kept_until,
        can_stop=bool(instances.precheck(Verb.STOP, tpu)),  # what /tpu stop would accept
    )


def kind_of(tpu: Tpu) -> TpuKind:
    return TpuKind.INSTANCE if isinstance(tpu, Instance) else TpuKind.NODE


def _sources(deps: Deps) -> Iterator[tuple[ProjectScope, TpuKind]]:
    for where in deps.tpu_scopes:
        yield where, TpuKind.NODE
    for where in deps.compute_scopes:
        yield where, TpuKind.INSTANCE


def _list(deps: Deps, kind: TpuKind, project: str, locations: Sequence[str]) -> list[Tpu]:
    if kind is TpuKind.INSTANCE:
        return list(tpus.compute(deps).list_instances(project, locations).instances)
    return list(deps.tpu.list_nodes(project, locations).nodes)


def judge(
    deps: Deps,
    now: datetime,
    *,
    window: timedelta,
    step: timedelta | None = None,
    project: str | None = None,
    zone: str | None = None,
) -> Fleet:
    """Every managed TPU of either kind (of `project`, in `zone`), its usage over `window` and
    the idle verdict. One Monitoring read per project and kind it runs (plus pages)."""
    keeps = deps.watch.keeps()
    fleet = Fleet([], [], {}, set())
    for where, kind in _sources(deps):
        if project not in (None, where.project):
            continue
        if zone is not None and not scope.covers(where, zone):
            continue
        locations = (zone,) if zone is not None else where.locations
        try:
            listed = _list(deps, kind, where.project, locations)
        except TpuError as exc:
            log.warning("usage: %s %ss not listed: %s", where.project, kind.value, exc.message)
            continue
        fleet.listed.add((where.project, kind))
        fleet.tpus.update((t.name, t) for t in listed if zone in (None, t.zone))
    for name, kinds in sorted(fleet.projects.items()):
        usage = _usage(deps, name, window, now, step, kinds)
        fleet.listings.append(usage)
    by_project = {listing.project: listing for listing in fleet.listings}
    for tpu in fleet.tpus.values():
        facts = facts_of(tpu, kept_until=keeps.get(tpu.name))
        used = by_project[tpu.project].usage_of(facts.key)
        fleet.entries.append(FleetEntry(facts, used, _verdict(deps, used, facts, now)))
    return fleet


def _verdict(deps: Deps, used: TpuUsage, facts: TpuFacts, now: datetime) -> Verdict:
    idle = deps.config.watch.idle
    return idle_verdict(
        used,
        facts,
        idle.threshold_percent,
        idle.minutes,
        idle.min_chips,
        idle.exempt_labels,
        now,
    )


def _usage(
    deps: Deps,
    project: str,
    window: timedelta,
    now: datetime,
    step: timedelta | None,
    kinds: Collection[TpuKind],
    *,
    metrics: Collection[Metric] = (Metric.DUTY_CYCLE,),
    ids: Collection[str] = (),
) -> UsageListing:
    if deps.usage is None:
        return UsageListing(
            project, now, window, step or window, unknown=dict.fromkeys(kinds, NOT_CONFIGURED)
        )
    return deps.usage.usage(
        project, window, now, step=step, kinds=tuple(sorted(kinds)), metrics=metrics, ids=ids
    )


def _route(deps: Deps) -> Callable[[TpuFacts], str]:
    config = deps.config

    def route(facts: TpuFacts) -> str:
        key = facts.key
        return policy.route(
            key.project, key.zone, facts.labels, config.routes, config.channels.alerts
        )

    return route


# ----- commands --------------------------------------------------------------------------------


@handles(Usage)
def usage(deps: Deps, actor: Actor, command: Usage, now: datetime) -> Outcome:
    """The usage table: idle first, the most costly first."""
    idle = deps.config.watch.idle
    scope.require(command.project, command.zone, deps.scopes)
    fleet = judge(deps, now, window=DAY, step=HOUR, project=command.project, zone=command.zone)
    entries = fleet.entries
    if command.idle:
        entries = [e for e in entries if e.verdict.why is Why.IDLE]
    table = usage_table(
        entries, prices(deps), idle.threshold_percent, idle.minutes, now, fleet.unknown
    )
    return Outcome(table)


@handles(Keep)
def keep(deps: Deps, actor: Actor, command: Keep, now: datetime) -> Outcome:
    """Keep a TPU out of the idle sweep for a while; an idle notice naming it says so."""
    node = tpus.resolve_tpu(deps, command.node.text)
    hours = command.hours or deps.config.watch.idle.keep_hours
    until = now + timedelta(hours=hours)
    why = f"kept until {until:%Y-%m-%d %H:%M} UTC"
    with deps.watch.begin() as conn:
        deps.watch.keep(conn, node.name, until)
        for member in deps.watch.idle.members(unsettled=True, conn=conn):
            if member.tpu == node.name:
                _settle(deps, conn, member, why, now, user=actor.user)
    answer = m.Notice(
        say("Kept ", Code(node.ref.display), f" out of the idle sweep for {hours} h."),
        Tone.SUCCESS,
    )
    return Outcome(answer, "kept", node.name, why, "keep")


# ----- the idle sweep (a leader job) -----------------------------------------------------------


def sweep(deps: Deps, now: datetime) -> int:
    """Name newly idle TPUs in one notice per route; tell, in each notice's thread, the TPUs
    that are no longer idle. How many TPUs were newly named."""
    idle = deps.config.watch.idle
    fleet = judge(deps, now, window=timedelta(minutes=idle.minutes))
    open_members = deps.watch.idle.members(unsettled=True)
    named = {member.tpu for member in open_members}
    fresh = [e for e in fleet.entries if e.verdict.why is Why.IDLE and e.facts.name not in named]
    notices = idle_notices(
        fresh, prices(deps), idle.threshold_percent, idle.minutes, now, _route(deps)
    )
    by_ref = {e.facts.ref: e.facts.name for e in fresh}
    with deps.watch.begin() as conn:
        for channel, notice in notices.items():
            notice = IdleNotice(
                notice.tpus, notice.threshold_percent, notice.window_minutes, notice.currency,
                idle.keep_hours,
            )  # fmt: skip
            notice_id = deps.new_id()
            members = {by_ref[t.ref]: _shown(t) for t in notice.tpus}
            deps.watch.idle.add_notice(conn, notice_id, channel, now, members)
            root = deps.outbox.post(conn, channel, notice, now=now)
            deps.watch.idle.set_root(conn, notice_id, root)
        for member in open_members:
            why = _settled_why(fleet, member)
            if why is not None:
                _settle(deps, conn, member, why, now)
    return sum(len(n.tpus) for n in notices.values())


def _settled_why(fleet: Fleet, member: IdleMember) -> str | None:
    """Why a named TPU is no longer idle; None while it is, or while that cannot be told."""
    name = ResourceName.parse(member.tpu)
    kind = TpuKind.INSTANCE if name.kind is Kind.INSTANCE else TpuKind.NODE
    if (name.project, kind) not in fleet.listed:
        return None  # its project's TPUs of its kind were not listed: nothing is concluded
    entry = next((e for e in fleet.entries if e.facts.name == member.tpu), None)
    if entry is None:
        return "it is gone"
    why = entry.verdict.why
    if why is Why.NOT_RUNNING:
        return f"it is {state_of(fleet.tpus[member.tpu])}"
    if why is Why.BUSY:
        return "it is busy again"
    if why is Why.KEPT:
        return entry.verdict.reason
    if why is Why.EXEMPT:
        return entry.verdict.reason
    return None  # idle, unknown, too young or small: unchanged


def _settle(
    deps: Deps, conn: Any, member: IdleMember, why: str, now: datetime, user: str = ""
) -> None:
    """Tell the notice's thread, redraw the notice; close it when nothing in it is idle."""
    if not deps.watch.idle.settle(conn, member.notice_id, member.tpu, why, now):
        return
    ref = str(member.shown.get("ref") or ResourceName.parse(member.tpu).display)
    root = member.root
    if root.known:
        deps.outbox.post(conn, root.channel, IdleSettled(ref, why, user), now=now, thread=root)
    members = deps.watch.idle.members(notice_id=member.notice_id, conn=conn)
    idle = deps.config.watch.idle
    redrawn = IdleNotice(
        tuple(_tpu(x.shown) for x in members),
        idle.threshold_percent,
        idle.minutes,
        deps.config.usage.currency,
        idle.keep_hours,
        settled={_tpu(x.shown).ref: x.settled for x in members if x.settled_at is not None},
    )
    if root.known:
        deps.outbox.update(conn, root, redrawn, now=now)
    if all(x.settled_at is not None for x in members):
        deps.watch.idle.resolve(conn, member.notice_id, now)


def _shown(tpu: IdleTpu) -> dict[str, Any]:
    return {
        "ref": tpu.ref,
        "accelerator": tpu.accelerator,
        "chips": tpu.chips,
        "duty_percent": tpu.duty_percent,
        "cost_per_day": tpu.cost_per_day,
        "cost_so_far": tpu.cost_so_far,
        "can_stop": tpu.can_stop,
    }


def _tpu(shown: Any) -> IdleTpu:
    return IdleTpu(**dict(shown))


# ----- the daily digest (a leader job, once a day) ---------------------------------------------


def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


def digest(deps: Deps, now: datetime) -> int:
    """At the configured local time, once a day: one digest per route. How many were posted."""
    config = deps.config.usage
    if not config.digest:
        return 0
    local = now.astimezone(_zone(config.digest_timezone))
    hour, minute = (int(part) for part in config.digest_at.split(":"))
    if (local.hour, local.minute) < (hour, minute):
        return 0
    today = local.date().isoformat()
    if deps.watch.get(DIGEST_KEY) == today:
        return 0
    fleet = judge(deps, now, window=DAY, step=HOUR)
    week = _week(deps, now, fleet)
    route = _route(deps)
    idle = deps.config.watch.idle
    by_channel: dict[str, list[FleetEntry]] = {}
    for entry in fleet.entries:
        by_channel.setdefault(route(entry.facts), []).append(entry)
    by_channel.setdefault(deps.config.channels.alerts, [])
    notes = _fleet_notes(deps, now, fleet)
    with deps.watch.begin() as conn:
        if deps.watch.get(DIGEST_KEY) == today:  # another replica's leader did, just now
            return 0
        for channel, entries in sorted(by_channel.items()):
            names = {e.facts.name for e in entries}
            busy = busy_chips_by_period(
                [e for e in week if e.facts.name in names], idle.threshold_percent
            )
            posted = usage_digest(
                entries, prices(deps), idle.threshold_percent, idle.minutes, now,
                busy, fleet.unknown, config.top_idle,
            )  # fmt: skip
            alerts = channel == deps.config.channels.alerts
            posted = _with_notes(posted, notes if alerts else None)
            deps.outbox.post(conn, channel, posted, now=now)
        deps.watch.put(conn, DIGEST_KEY, today)
    return len(by_channel)


def _with_notes(digest: UsageDigest, notes: FleetNotes | None) -> UsageDigest:
    return replace(digest, fleet=notes)


def _week(deps: Deps, now: datetime, fleet: Fleet) -> list[FleetEntry]:
    """The fleet's usage per day over the last 7 days (for the busy chips chart)."""
    entries: list[FleetEntry] = []
    for project, kinds in sorted(fleet.projects.items()):
        listing = _usage(deps, project, 7 * DAY, now, DAY, kinds)
        for entry in fleet.entries:
            if entry.facts.key.project == project:
                entries.append(
                    FleetEntry(entry.facts, listing.usage_of(entry.facts.key), entry.verdict)
                )
    return entries


def _fleet_notes(deps: Deps, now: datetime, fleet: Fleet) -> FleetNotes:
    waiting, failed = _requests_waiting_failed(deps)
    opened = deps.watch.recent_opens(now - DAY)
    actions = [
        e for e in deps.store.latest_audit(1000) if e.outcome == "started" and e.at >= now - DAY
    ]
    return FleetNotes(
        queued_waiting=waiting,
        queued_failed=failed,
        maintenance=tuple(_maintenance(fleet.tpus.values(), now, 7 * DAY)),
        incidents_opened=sum(opened.values()),
        incidents_open=deps.watch.count_open(),
        actions=len(actions),
    )


def _requests_waiting_failed(deps: Deps) -> tuple[int, int]:
    """Capacity requests waiting or failed: queued resources and flex-start requests."""
    waiting = failed = 0
    for where in deps.tpu_scopes:
        try:
            queued = deps.tpu.list_queued_resources(where.project, where.locations)
        except TpuError:
            continue
        for resource in queued.queued_resources:
            waiting += resource.state.value in ("ACCEPTED", "WAITING_FOR_RESOURCES")
            failed += resource.state.value in ("FAILED", "SUSPENDED")
    for where in deps.compute_scopes:
        try:
            capacity = tpus.compute(deps).list_capacity(where.project, where.locations)
        except TpuError:
            continue
        for flex in capacity.flex:
            waiting += flex.state is FlexState.ACCEPTED
            failed += flex.state is FlexState.FAILED
    return waiting, failed


def _maintenance(found: Iterable[Tpu], now: datetime, within: timedelta) -> list[MaintenanceLine]:
    lines = []
    for tpu in found:
        window = tpu.maintenance
        if window is None:
            continue
        starts = window.window_start
        if starts is None or starts <= now + within:
            lines.append(MaintenanceLine(tpu.ref.display, starts, window.type))
    return sorted(lines, key=lambda line: (line.starts_at is None, line.starts_at or now))


# ----- App Home and a TPU's detail -------------------------------------------------------------


def home(deps: Deps, user: str, now: datetime) -> FleetHome:
    """The fleet at a glance, for one person's App Home."""
    idle = deps.config.watch.idle
    fleet = judge(deps, now, window=timedelta(minutes=idle.minutes))
    states = {name: state_of(tpu) for name, tpu in fleet.tpus.items()}
    pending = deps.store.pending_approvals()
    return fleet_home(
        user,
        now,
        fleet.entries,
        idle.threshold_percent,
        idle.minutes,
        states=states,
        incidents=deps.watch.open_incidents().values(),
        approvals=pending,
        maintenance=_maintenance(fleet.tpus.values(), now, 7 * DAY),
        unknown=fleet.unknown,
    )


def publish_home(deps: Deps, user: str, now: datetime) -> None:
    """Draw `user`'s App Home (through the outbox, like every write to Slack)."""
    view = home(deps, user, now)
    with deps.watch.begin() as conn:
        deps.outbox.home(conn, user, view, now=now)


def state_of(tpu: Tpu) -> str:
    return tpu.status.value if isinstance(tpu, Instance) else tpu.state.value


def detail(deps: Deps, tpu: Tpu, now: datetime) -> UsageDetail | None:
    """One TPU's utilization over the last 24 hours, for its card (None without Monitoring):
    its own series only, every metric."""
    if deps.usage is None:
        return None
    idle = deps.config.watch.idle
    facts = facts_of(tpu, kept_until=deps.watch.keeps().get(tpu.name))
    listing = _usage(
        deps,
        tpu.project,
        DAY,
        now,
        HOUR,
        (kind_of(tpu),),
        metrics=tuple(Metric),
        ids=(facts.key.id,),
    )
    used: TpuUsage = listing.usage_of(facts.key)
    entry = FleetEntry(facts, used, _verdict(deps, used, facts, now))
    return usage_detail(entry, prices(deps), idle.threshold_percent, idle.minutes)


CARD_METRICS = (Metric.DUTY_CYCLE, Metric.HBM_USED, Metric.HBM_TOTAL)


def card_lines(deps: Deps, shown: Iterable[Tpu], now: datetime) -> dict[str, UsageLine]:
    """The usage line of each TPU on a listing's page (none without Monitoring): one read per
    project and kind on the page, narrowed to the page's TPUs."""
    if deps.usage is None:
        return {}
    groups: dict[tuple[str, TpuKind], list[TpuFacts]] = {}
    for tpu in shown:
        facts = facts_of(tpu)
        if facts.key.id:
            groups.setdefault((tpu.project, facts.key.kind), []).append(facts)
    lines: dict[str, UsageLine] = {}
    for (project, kind), members in sorted(groups.items()):
        ids = [f.key.id for f in members]
        listing = _usage(deps, project, DAY, now, HOUR, (kind,), metrics=CARD_METRICS, ids=ids)
        for facts in members:
            lines[facts.name] = usage_line(listing.usage_of(facts.key))
    return lines

"""Is anyone using it? The usage table, keeping a TPU, the idle sweep, the App Home and the
usage on TPU cards (the fleet they read: usage_fleet; the daily digest: usage_digest), for nodes
and TPU VM instances alike. Usage that cannot be read is unknown, never idle."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from bot.core import messages as m
from bot.core import scope
from bot.core.commands.usage import Keep, Usage
from bot.core.instances import Instance
from bot.core.messages import Tone
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
    Why,
)
from bot.core.usage_digest import FleetEntry
from bot.core.usage_messages import (
    FleetHome,
    IdleNotice,
    IdleSettled,
    IdleTpu,
    UsageDetail,
    UsageLine,
)
from bot.core.usage_views import (
    fleet_home,
    idle_notices,
    usage_detail,
    usage_line,
    usage_table,
)
from bot.usecases import tpus
from bot.usecases.context import Actor, Deps
from bot.usecases.registry import Outcome, handles
from bot.usecases.tpus import Tpu
from bot.usecases.usage_fleet import (
    Fleet,
    facts_of,
    judge,
    kind_of,
    maintenance_lines,
    prices,
    read_usage,
    router,
    verdict,
)

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
        fresh, prices(deps), idle.threshold_percent, idle.minutes, now, router(deps)
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
        maintenance=maintenance_lines(fleet.tpus.values(), now, 7 * DAY),
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
    listing = read_usage(
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
    entry = FleetEntry(facts, used, verdict(deps, used, facts, now))
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
        listing = read_usage(deps, project, DAY, now, HOUR, (kind,), metrics=CARD_METRICS, ids=ids)
        for facts in members:
            lines[facts.name] = usage_line(listing.usage_of(facts.key))
    return lines

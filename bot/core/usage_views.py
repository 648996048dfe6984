"""Build the utilization messages (core/usage_messages.py) from judged TPUs: rows idle first,
idle notices per route, the digest, a TPU's detail, the App Home, and the charts' data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from bot.core.records import Approval, ApprovalStatus, Incident, IncidentStatus
from bot.core.usage import DAY, HOUR, TpuFacts, TpuUsage, UsageListing, Why
from bot.core.usage_cost import PriceTable, cost_per_day, cost_so_far
from bot.core.usage_digest import FleetEntry, digest_figures, most_costly_idle
from bot.core.usage_messages import (
    Chart,
    ChartKind,
    ChartSeries,
    FleetHome,
    IdleNotice,
    IdleTpu,
    KindCount,
    MaintenanceLine,
    UsageDetail,
    UsageDigest,
    UsageLine,
    UsageRow,
    UsageState,
    UsageTable,
)

_SPARED = {Why.EXEMPT, Why.KEPT, Why.TOO_SMALL, Why.TOO_YOUNG}
_ORDER = {
    UsageState.IDLE: 0,
    UsageState.UNKNOWN: 1,
    UsageState.SPARED: 2,
    UsageState.BUSY: 3,
    UsageState.STOPPED: 4,
}


def usage_state(entry: FleetEntry, threshold_percent: float, minutes: int) -> UsageState:
    why = entry.verdict.why
    if why in _SPARED:
        duty = entry.usage.duty_over(timedelta(minutes=minutes))
        busy = duty is not None and duty >= threshold_percent
        return UsageState.BUSY if busy else UsageState.SPARED
    return {
        Why.IDLE: UsageState.IDLE,
        Why.BUSY: UsageState.BUSY,
        Why.UNKNOWN: UsageState.UNKNOWN,
        Why.NOT_RUNNING: UsageState.STOPPED,
    }[why]


def usage_row(
    entry: FleetEntry, prices: PriceTable, threshold_percent: float, minutes: int
) -> UsageRow:
    facts, usage = entry.facts, entry.usage
    return UsageRow(
        ref=facts.ref,
        accelerator=facts.accelerator,
        chips=facts.chips,
        duty_1h=usage.duty_1h,
        duty_24h=usage.duty_24h,
        cost_per_day=cost_per_day(facts, prices),
        state=usage_state(entry, threshold_percent, minutes),
        reason=entry.verdict.reason,
    )


def _row_order(row: UsageRow) -> tuple[int, float, str]:
    return (_ORDER[row.state], -(row.cost_per_day or 0.0), row.ref)


def usage_table(
    entries: Iterable[FleetEntry],
    prices: PriceTable,
    threshold_percent: float,
    minutes: int,
    now: datetime,
    unknown: Sequence[str] = (),
) -> UsageTable:
    """Every TPU: idle first (the most costly first), then unknown, spared, busy, stopped."""
    rows = sorted(
        (usage_row(e, prices, threshold_percent, minutes) for e in entries), key=_row_order
    )
    return UsageTable(rows, now, threshold_percent, minutes, prices.currency, tuple(unknown))


def idle_tpu(entry: FleetEntry, prices: PriceTable, minutes: int, now: datetime) -> IdleTpu:
    facts = entry.facts
    duty = entry.usage.duty_over(timedelta(minutes=minutes))
    return IdleTpu(
        ref=facts.ref,
        accelerator=facts.accelerator,
        chips=facts.chips,
        duty_percent=duty if duty is not None else 0.0,
        cost_per_day=cost_per_day(facts, prices),
        cost_so_far=cost_so_far(facts, prices, now),
        can_stop=facts.can_stop,
    )


def idle_notices(
    entries: Iterable[FleetEntry],
    prices: PriceTable,
    threshold_percent: float,
    minutes: int,
    now: datetime,
    route: Callable[[TpuFacts], str],
) -> dict[str, IdleNotice]:
    """One notice per channel (`route` picks it, e.g. core.policy.route over the TPU's project,
    zone and labels), naming only TPUs judged idle, the most costly first."""
    by_channel: dict[str, list[FleetEntry]] = {}
    for entry in most_costly_idle(entries, prices, limit=1 << 30):
        by_channel.setdefault(route(entry.facts), []).append(entry)
    return {
        channel: IdleNotice(
            tuple(idle_tpu(e, prices, minutes, now) for e in idle),
            threshold_percent,
            minutes,
            prices.currency,
        )
        for channel, idle in by_channel.items()
    }


def unknown_lines(listings: Iterable[UsageListing]) -> list[str]:
    """What could not be read, per project and kind of TPU, in plain words."""
    lines = []
    for listing in listings:
        for kind, why in sorted(listing.unknown.items()):
            lines.append(f"{listing.project} {kind.value}s: {why}")
    return lines


def duty_chart(usage: TpuUsage, title: str = "Duty cycle, last 24 h") -> Chart | None:
    """The duty cycle per period, oldest first (read the usage in hour-long periods over a
    day); None when there is nothing to draw."""
    if not usage.known or usage.step > HOUR:
        return None
    points = list(reversed(usage.duty))
    return Chart(
        title=title,
        kind=ChartKind.LINE,
        categories=[f"{end:%H:%M}" for end, _ in points],
        series=[ChartSeries("Duty cycle", [value for _, value in points])],
        x_title="Hour ending (UTC)",
        y_title="Duty cycle (%)",
    )


def busy_chart(
    busy_by_period: Sequence[tuple[datetime, int]],
    step: timedelta = DAY,
    title: str = "Busy chips per day",
) -> Chart | None:
    """Busy chips per period (core.usage_digest.busy_chips_by_period), labelled by the day the
    period starts on."""
    if not busy_by_period:
        return None
    return Chart(
        title=title,
        kind=ChartKind.BAR,
        categories=[f"{end - step:%a %d}" for end, _ in busy_by_period],
        series=[ChartSeries("Busy chips", [float(chips) for _, chips in busy_by_period])],
        x_title="Day (UTC)",
        y_title="Chips",
    )


def usage_detail(
    entry: FleetEntry, prices: PriceTable, threshold_percent: float, minutes: int
) -> UsageDetail:
    usage = entry.usage
    return UsageDetail(
        row=usage_row(entry, prices, threshold_percent, minutes),
        chart=duty_chart(usage),
        tensorcore_percent=usage.tensorcore_percent,
        hbm_used_bytes=usage.hbm_used_over(HOUR),
        hbm_total_bytes=usage.hbm_total_bytes,
        currency=prices.currency,
        hbm_used_24h_bytes=usage.hbm_used_over(DAY),
    )


def usage_line(usage: TpuUsage) -> UsageLine:
    """A card's line of utilization (`usage` read over a day in hour-long periods)."""
    if not usage.known:
        return UsageLine(unknown=usage.unknown or "no utilization was reported for it")
    return UsageLine(
        duty_1h=usage.duty_1h,
        duty_24h=usage.duty_24h,
        hbm_used_1h=usage.hbm_used_over(HOUR),
        hbm_used_24h=usage.hbm_used_over(DAY),
        hbm_total=usage.hbm_total_bytes,
    )


def usage_digest(
    entries: Sequence[FleetEntry],
    prices: PriceTable,
    threshold_percent: float,
    minutes: int,
    now: datetime,
    busy_by_period: Sequence[tuple[datetime, int]] = (),
    unknown: Sequence[str] = (),
    top: int = 10,
) -> UsageDigest:
    """The daily digest. `entries` should carry usage read in hour-long periods over the last
    day (their idle chip-hours are counted period by period)."""
    return UsageDigest(
        now=now,
        figures=digest_figures(entries, threshold_percent, prices, DAY),
        threshold_percent=threshold_percent,
        currency=prices.currency,
        top_idle=tuple(
            idle_tpu(e, prices, minutes, now) for e in most_costly_idle(entries, prices, top)
        ),
        busy_chart=busy_chart(busy_by_period),
        unknown=tuple(unknown),
    )


def _kinds(entries: Sequence[FleetEntry], states: Mapping[str, str]) -> list[KindCount]:
    by_kind: dict[str, tuple[dict[str, int], list[int]]] = {}
    for entry in entries:
        facts = entry.facts
        counts, chips = by_kind.setdefault(facts.accelerator, ({}, []))
        state = states.get(facts.name) or ("RUNNING" if facts.running else "STOPPED")
        counts[state] = counts.get(state, 0) + 1
        if facts.chips is not None:
            chips.append(facts.chips)
    return [
        KindCount(kind, tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))), sum(chips))
        for kind, (counts, chips) in sorted(by_kind.items())
    ]


def fleet_home(
    user: str,
    now: datetime,
    entries: Sequence[FleetEntry],
    threshold_percent: float,
    minutes: int,
    *,
    states: Mapping[str, str] | None = None,
    incidents: Iterable[Incident] = (),
    approvals: Iterable[Approval] = (),
    maintenance: Iterable[MaintenanceLine] = (),
    unknown: Sequence[str] = (),
) -> FleetHome:
    """`states` maps a TPU's full name to its state as its API says it (READY, RUNNING...);
    `approvals` may hold everyone's: only `user`'s pending ones are shown."""
    window = timedelta(minutes=minutes)
    busy = idle = unknown_chips = 0
    for entry in entries:
        chips = entry.facts.chips
        if not entry.facts.running or chips is None:
            continue
        duty = entry.usage.duty_over(window)
        if duty is None:
            unknown_chips += chips
        elif duty < threshold_percent:
            idle += chips
        else:
            busy += chips
    return FleetHome(
        user=user,
        now=now,
        kinds=_kinds(entries, states or {}),
        busy_chips=busy,
        idle_chips=idle,
        unknown_chips=unknown_chips,
        idle_tpus=sum(1 for e in entries if e.verdict.why is Why.IDLE),
        open_incidents=sorted(
            (i for i in incidents if i.status == IncidentStatus.OPEN),
            key=lambda i: i.opened_at,
            reverse=True,
        ),
        pending_requests=sorted(
            (
                a
                for a in approvals
                if a.requester == user and a.status == ApprovalStatus.PENDING and a.expires_at > now
            ),
            key=lambda a: a.created_at,
        ),
        next_maintenance=sorted(
            (m for m in maintenance if m.starts_at is None or m.starts_at >= now),
            key=lambda m: (m.starts_at is None, m.starts_at or now),
        ),
        unknown=tuple(unknown),
    )

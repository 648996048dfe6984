"""The fleet's utilization in figures: busy and idle chips, idle chip-hours and what they cost,
the busy chips per day. Pure aggregation over `FleetEntry`s (facts, usage, verdict)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.usage import TpuFacts, TpuUsage, Verdict, Why
from bot.core.usage_cost import PriceTable, cost_per_day, hourly_cost, idle_chip_hours


@dataclass(frozen=True)
class FleetEntry:
    """One TPU as the usage logic judged it."""

    facts: TpuFacts
    usage: TpuUsage
    verdict: Verdict


@dataclass(frozen=True)
class DigestFigures:
    """Running TPUs only, except `tpus`. Costs leave out the `unpriced` TPUs; chip counts leave
    out the `uncounted` ones (accelerator types whose chips the bot cannot tell)."""

    tpus: int
    running: int
    chips: int
    busy_chips: int  # mean duty cycle over the span at or above the threshold
    idle_chips: int  # below it (exempt or kept TPUs included: they are idle all the same)
    unknown_chips: int  # usage unknown
    idle_tpus: int  # judged idle (what the idle notice names)
    idle_chip_hours: float  # chip-hours in periods below the threshold
    idle_cost: float  # what those chip-hours cost
    cost_per_day: float  # what the running TPUs cost a day
    unpriced: int
    uncounted: int


def digest_figures(
    entries: Iterable[FleetEntry], threshold_percent: float, prices: PriceTable, span: timedelta
) -> DigestFigures:
    tpus = running = chips = busy = idle = unknown = idle_tpus = unpriced = uncounted = 0
    chip_hours: list[float] = []
    idle_cost: list[float] = []
    per_day: list[float] = []
    for entry in entries:
        tpus += 1
        facts = entry.facts
        if not facts.running:
            continue
        running += 1
        idle_tpus += entry.verdict.why is Why.IDLE
        rate = hourly_cost(facts, prices)
        unpriced += rate is None
        if facts.chips is None:
            uncounted += 1
            continue
        chips += facts.chips
        duty = entry.usage.duty_over(span)
        if duty is None:
            unknown += facts.chips
        elif duty < threshold_percent:
            idle += facts.chips
        else:
            busy += facts.chips
        hours = idle_chip_hours(entry.usage, facts, threshold_percent)
        if hours is not None:
            chip_hours.append(hours)
            if rate is not None:
                idle_cost.append(hours / facts.chips * rate)
        daily = cost_per_day(facts, prices)
        if daily is not None:
            per_day.append(daily)
    return DigestFigures(
        tpus=tpus,
        running=running,
        chips=chips,
        busy_chips=busy,
        idle_chips=idle,
        unknown_chips=unknown,
        idle_tpus=idle_tpus,
        idle_chip_hours=math.fsum(chip_hours),
        idle_cost=math.fsum(idle_cost),
        cost_per_day=math.fsum(per_day),
        unpriced=unpriced,
        uncounted=uncounted,
    )


def busy_chips_by_period(
    entries: Iterable[FleetEntry], threshold_percent: float
) -> list[tuple[datetime, int]]:
    """Per aligned period (oldest first): the chips of TPUs whose mean duty cycle in it was at or
    above the threshold. Read the usage in day-long periods for the digest's 7-day chart."""
    busy: dict[datetime, int] = {}
    for entry in entries:
        if entry.facts.chips is None or not entry.usage.known:
            continue
        for end, duty in entry.usage.duty:
            busy.setdefault(end, 0)
            if duty >= threshold_percent:
                busy[end] += entry.facts.chips
    return sorted(busy.items())


def most_costly_idle(
    entries: Iterable[FleetEntry], prices: PriceTable, limit: int
) -> list[FleetEntry]:
    """The idle TPUs, the most costly a day first (unpriced ones last, by name)."""
    idle = [e for e in entries if e.verdict.why is Why.IDLE]

    def key(entry: FleetEntry) -> tuple[float, str]:
        daily = cost_per_day(entry.facts, prices)
        return (-(daily if daily is not None else -1.0), entry.facts.ref)

    return sorted(idle, key=key)[:limit]

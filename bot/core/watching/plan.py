"""Pure: which projects to poll now, under a budget of API requests per minute.

Every project is polled in full (nodes and queued resources) at least every `poll_seconds` (its
deadline), whatever the budget. What the budget leaves over that floor goes to hot projects (fresh
incidents, a storm, waiting queued resources, spot or preemptible nodes), in proportion to their
heat squared: a hot project's interval shrinks, a quiet one stays at `poll_seconds`. An early poll
lists only the nodes (a "quick" poll: preemptions and health show there, and it costs half) unless
the project's queued resources are what is hot, or a quick poll saw one of their nodes change.
A hot project is polled early only if every 60 s window holding `now` still fits the budget with
the requests already spent in it, those chosen now, and those its deadlines will force, so no 60 s
window goes over the budget as long as the deadlines alone fit (if they do not, poll_seconds wins
and the plan says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class ProjectState:
    project: str
    last_polled: datetime | None = None  # the last full poll (None: never; it is due now)
    cost: int = 2  # requests a full poll takes (nodes pages + queued-resource pages)
    heat: float = 0.0  # 0: quiet; more: trouble more likely there
    quick_cost: int | None = None  # requests of a nodes-only poll; None: every poll is full
    last_quick: datetime | None = None  # the last quick (nodes-only) poll
    queues_due: bool = False  # a quick poll saw a queued resource's node change: list them soon

    @property
    def early_cost(self) -> int:
        """What an early (hot) poll of it costs."""
        return self.cost if self.quick_cost is None or self.queues_due else self.quick_cost

    @property
    def last_any(self) -> datetime | None:
        """The last poll of either kind: early polls are timed from it."""
        if self.last_quick is None or self.last_polled is None:
            return self.last_polled
        return max(self.last_polled, self.last_quick)


def heat(
    *,
    recent_incidents: int,
    open_incidents: int,
    waiting_queued: int,
    storm: bool,
    spot_share: float,
) -> float:
    """How likely trouble is in a project, from what the last ticks saw: fresh incidents most
    (trouble comes in bursts), a storm, then waiting queued resources, spot nodes, and incidents
    that have stood open a long time (those are known; little changes there)."""
    return (
        6.0 * min(recent_incidents, 5)
        + (20.0 if storm else 0.0)
        + 0.5 * min(waiting_queued, 5)
        + 1.0 * max(0.0, min(spot_share, 1.0))
        + 0.5 * min(open_incidents, 5)
    )


def _deadlines(s: ProjectState, now: datetime, limit: timedelta, step: timedelta) -> list[datetime]:
    """When its deadline alone will make a project be polled, over the next minute (a deadline
    poll comes up to one step early)."""
    if s.last_polled is None:
        return []
    until = now + WINDOW + step
    at, times = s.last_polled + limit - step, []
    while at <= until:
        times.append(max(at, now))
        at += max(limit - step, step)
    return times


def _peak(
    now: datetime, spent: Sequence[tuple[datetime, int]], owed: Sequence[tuple[datetime, int]]
) -> int:
    """The most requests any 60 s window holding `now` will see: spent in it before now, plus
    the deadlines it will hold. (Windows that start later are checked when they come.)"""
    past = [(at, n) for at, n in spent if now - at < WINDOW]
    starts = [*(at for at, _ in past), now]
    return max(
        sum(n for at, n in past if at >= start)
        + sum(n for at, n in owed if at > now and at < start + WINDOW)
        for start in starts
    )


@dataclass(frozen=True)
class Plan:
    poll: tuple[str, ...]
    intervals: dict[str, float]  # seconds, each project's target
    over_budget: bool = False  # the deadlines alone do not fit: poll_seconds wins
    full: frozenset[str] = frozenset()  # of `poll`, those whose queued resources are listed too


def intervals(
    states: Sequence[ProjectState], budget: float, poll_seconds: float, step_seconds: float
) -> dict[str, float]:
    """Each project's target interval: poll_seconds, shorter for hot ones while the budget lasts."""
    base = sum(s.cost * 60.0 / poll_seconds for s in states)
    spare = budget - base
    # Spare requests go by heat squared: the hottest projects get most of it, a project that is
    # merely warm (a few spot nodes, one old incident) little. (The early polls come on top of
    # the deadline polls, which `base` counts: a slight overestimate that leaves a little spare.)
    weight = sum(s.heat**2 * s.early_cost for s in states)
    result = {}
    for s in states:
        rate = 1.0 / poll_seconds
        if spare > 0 and weight > 0 and s.heat > 0:
            rate += spare / 60.0 * s.heat**2 / weight
        result[s.project] = max(step_seconds, min(poll_seconds, 1.0 / rate))
    return result


@dataclass
class _Minute:
    """What the 60 s windows around `now` hold while a plan is made: spent, owed to deadlines,
    and chosen now."""

    now: datetime
    budget: float
    spent: Sequence[tuple[datetime, int]]
    owed: dict[str, list[tuple[datetime, int]]]
    full: set[str]
    now_cost: int

    def fits(self, candidate: ProjectState, in_full: bool) -> bool:
        # Polled in full now, a project's own deadlines move out of the next minute.
        future = [
            x
            for project, owed in self.owed.items()
            if project not in self.full and (project != candidate.project or not in_full)
            for x in owed
        ]
        cost = candidate.cost if in_full else candidate.early_cost
        return _peak(self.now, self.spent, future) + self.now_cost + cost <= self.budget

    def take(self, candidate: ProjectState, in_full: bool) -> None:
        self.now_cost += candidate.cost if in_full else candidate.early_cost
        if in_full:
            self.full.add(candidate.project)


def plan(
    now: datetime,
    states: Sequence[ProjectState],
    *,
    budget: float,
    poll_seconds: float,
    step_seconds: float,
    spent: Sequence[tuple[datetime, int]] = (),
) -> Plan:
    """The projects to poll at `now` (the tick runs every `step_seconds`); `spent`: (when, how
    many requests) of the polls so far."""
    target = intervals(states, budget, poll_seconds, step_seconds)
    step = timedelta(seconds=step_seconds)
    limit = timedelta(seconds=poll_seconds)

    def elapsed(s: ProjectState) -> float:
        last = s.last_any
        return float("inf") if last is None else (now - last).total_seconds()

    # Due by deadline: the next tick would be too late.
    must = [s for s in states if s.last_polled is None or s.last_polled + limit <= now + step]
    owed = {s.project: [(at, s.cost) for at in _deadlines(s, now, limit, step)] for s in states}
    minute = _Minute(now, budget, spent, owed, {s.project for s in must}, sum(s.cost for s in must))
    over = _peak(now, spent, []) + minute.now_cost > budget
    chosen = set(minute.full)
    # Due early: its interval is up (to the nearest tick: waiting for the tick after would poll
    # it later than planned every time), or its queued resources are.
    hot = [
        s
        for s in states
        if s.project not in chosen
        and (s.queues_due or elapsed(s) + step_seconds / 2 >= target[s.project])
    ]
    hot.sort(key=lambda s: (not s.queues_due, -elapsed(s) / target[s.project], s.project))
    for s in hot:
        # Quick, unless its deadline comes before its next early poll would: then in full now.
        quick = s.early_cost < s.cost and (
            s.last_polled is None
            or (s.last_polled + limit - now).total_seconds() > target[s.project]
        )
        # A quick poll leaves the deadline where it is; when the deadlines ahead leave no room
        # (polls bunched together), a full one may fit where a quick one does not, and moves it.
        for in_full in (False, True) if quick else (True,):
            if minute.fits(s, in_full):
                minute.take(s, in_full)
                chosen.add(s.project)
                break
    order = [s.project for s in states if s.project in chosen]
    return Plan(tuple(order), target, over, frozenset(minute.full))

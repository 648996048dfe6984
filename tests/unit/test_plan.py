"""The request-budget planner: pure, in tables, with a fixed `now`, and a simulated hour."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from bot.core.watching.plan import ProjectState, heat, intervals, plan
from devstack.clock import T0


def ago(seconds: float) -> datetime:
    return T0 - timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("states", "budget", "spent", "expected"),
    [
        # Never polled: due now, whatever the budget.
        ([ProjectState("a"), ProjectState("b")], 1, [], ("a", "b")),
        # Quiet and polled 10 s ago: nothing to do.
        ([ProjectState("a", ago(10)), ProjectState("b", ago(10))], 100, [], ()),
        # The next tick (5 s) would be past poll_seconds (60): due now.
        ([ProjectState("a", ago(56)), ProjectState("b", ago(10))], 100, [], ("a",)),
        # Hot, with budget to spare: polled early; the quiet one waits.
        ([ProjectState("a", ago(20), heat=5), ProjectState("b", ago(20))], 100, [], ("a",)),
        # Hot, but the last minute spent the budget: it waits for its deadline.
        ([ProjectState("a", ago(20), heat=5), ProjectState("b", ago(20))], 10, [(ago(30), 9)], ()),
        # Hot, but the budget must keep b's deadline (in 25 s) paid for: it waits.
        (
            [ProjectState("a", ago(20), cost=4, heat=5), ProjectState("b", ago(35), cost=4)],
            10,
            [(ago(30), 2)],
            (),
        ),
    ],
)
def test_plan_picks(
    states: list[ProjectState],
    budget: float,
    spent: list[tuple[datetime, int]],
    expected: tuple[str, ...],
) -> None:
    chosen = plan(T0, states, budget=budget, poll_seconds=60, step_seconds=5, spent=spent)
    assert chosen.poll == expected


def test_intervals_shrink_for_hot_projects_only_with_budget_to_spare() -> None:
    states = [ProjectState("hot", cost=2, heat=4), ProjectState("quiet", cost=2)]
    floor = intervals(states, budget=4, poll_seconds=60, step_seconds=5)  # exactly the floor
    assert floor == {"hot": 60, "quiet": 60}
    spare = intervals(states, budget=40, poll_seconds=60, step_seconds=5)
    assert spare["quiet"] == 60 and 5 <= spare["hot"] < 60


def test_heat_is_zero_for_a_quiet_project_and_grows_with_trouble() -> None:
    def h(**kwargs: float) -> float:
        values = {
            "recent_incidents": 0,
            "open_incidents": 0,
            "waiting_queued": 0,
            "storm": False,
            "spot_share": 0.0,
        }
        values.update(kwargs)
        return heat(**values)  # type: ignore[arg-type]

    assert h() == 0
    assert h(open_incidents=1) > 0 and h(spot_share=0.5) > 0 and h(waiting_queued=1) > 0
    # Fresh trouble counts for more than trouble that has stood for a long time.
    assert h(recent_incidents=1, open_incidents=1) > h(open_incidents=5)
    assert h(recent_incidents=5, storm=True) > h(recent_incidents=5)


@pytest.mark.parametrize(
    ("budget", "poll_seconds", "costs", "heats", "quick"),
    [
        (40, 120, [2] * 20, [0] * 15 + [4] * 5, False),
        (40, 120, [2] * 20, [0] * 15 + [4] * 5, True),
        (37, 120, [1] * 3 + [2] * 17, [0] * 10 + [4, 4, 4, 1, 1, 6, 0, 2, 9, 3], False),
        (37, 120, [1] * 3 + [2] * 17, [0] * 10 + [4, 4, 4, 1, 1, 6, 0, 2, 9, 3], True),
        (20, 60, [1, 2, 3, 2], [0, 0, 5, 1], False),
        (20, 60, [1, 2, 3, 2], [0, 0, 5, 1], True),
        (100, 300, [5] * 10, [0] * 9 + [10], True),
    ],
)
def test_an_hour_of_ticks_stays_in_budget_and_polls_everyone_in_time(
    budget: int, poll_seconds: int, costs: list[int], heats: list[float], quick: bool
) -> None:
    """Simulated: a tick every 5 s for an hour, each poll spending its cost (with `quick`, an
    early poll lists nodes only, half the cost, and every seventh one finds a queued resource's
    node changed, so the next asks for the queued resources)."""
    names = [f"p{i:02d}" for i in range(len(costs))]
    last: dict[str, datetime | None] = dict.fromkeys(names)
    last_quick: dict[str, datetime | None] = dict.fromkeys(names)
    due: set[str] = set()
    spent: list[tuple[datetime, int]] = []
    polls: dict[str, list[datetime]] = defaultdict(list)
    full_polls: dict[str, list[datetime]] = defaultdict(list)
    early = itertools.count()
    for tick in range(0, 3600, 5):
        now = T0 + timedelta(seconds=tick)
        states = [
            ProjectState(
                n,
                last[n],
                c,
                h,
                quick_cost=max(1, c // 2) if quick else None,
                last_quick=last_quick[n],
                queues_due=n in due,
            )
            for n, c, h in zip(names, costs, heats, strict=True)
        ]
        chosen = plan(
            now, states, budget=budget, poll_seconds=poll_seconds, step_seconds=5, spent=spent
        )
        assert not chosen.over_budget and chosen.full <= set(chosen.poll)
        for state in states:
            if state.project not in chosen.poll:
                continue
            polls[state.project].append(now)
            if state.project in chosen.full:
                last[state.project] = now
                full_polls[state.project].append(now)
                due.discard(state.project)
                spent.append((now, state.cost))
            else:
                last_quick[state.project] = now
                spent.append((now, state.early_cost))
                if next(early) % 7 == 6:
                    due.add(state.project)
    # Never above the budget in any 60 s window.
    for at, _ in spent:
        window = sum(n for when, n in spent if at <= when < at + timedelta(seconds=60))
        assert window <= budget
    # Every project polled in full (nodes and queued resources) within poll_seconds.
    end = T0 + timedelta(seconds=3600)
    for name in names:
        times = [*full_polls[name], end]
        assert all(b - a <= timedelta(seconds=poll_seconds) for a, b in itertools.pairwise(times))
    if quick:  # early polls happened, and they were quick ones
        assert sum(len(polls[n]) - len(full_polls[n]) for n in names) > 0
    # Hot projects polled more often than quiet ones.
    quiet = [len(polls[n]) for n, h in zip(names, heats, strict=True) if h == 0]
    hot = [len(polls[n]) for n, h in zip(names, heats, strict=True) if h >= 4]
    assert min(hot) > max(quiet)


QUICK = {"cost": 2, "quick_cost": 1, "heat": 5.0}


@pytest.mark.parametrize(
    ("state", "poll", "full"),
    [
        # Hot, interval up: an early poll lists the nodes only.
        (ProjectState("a", ago(30), **QUICK), ("a",), ()),
        # Hot, polled quickly 2 s ago: not yet again.
        (ProjectState("a", ago(30), last_quick=ago(2), **QUICK), (), ()),
        # A quick poll does not put off the deadline: due in full.
        (ProjectState("a", ago(58), last_quick=ago(2), **QUICK), ("a",), ("a",)),
        # A quick poll saw a queued resource's node change: its resources are listed at once.
        (ProjectState("a", ago(30), last_quick=ago(2), queues_due=True, **QUICK), ("a",), ("a",)),
        # No quick poll for it (a project without queued resources): every poll is full.
        (ProjectState("a", ago(30), cost=1, heat=5), ("a",), ("a",)),
    ],
)
def test_early_polls_are_quick_unless_queued_resources_are_due(
    state: ProjectState, poll: tuple[str, ...], full: tuple[str, ...]
) -> None:
    chosen = plan(
        T0, [state, ProjectState("b", ago(10))], budget=40, poll_seconds=60, step_seconds=5
    )
    assert chosen.poll == poll and chosen.full == frozenset(full)


def test_a_quick_poll_fits_where_a_full_one_would_not() -> None:
    """One request left in the minute: enough for a quick poll, not for a full one."""
    spent = [(ago(30), 9)]
    hot = ProjectState("a", ago(30), **QUICK)
    assert plan(T0, [hot], budget=10, poll_seconds=120, step_seconds=5, spent=spent).poll == ("a",)
    full = ProjectState("a", ago(30), cost=2, heat=5.0)
    assert plan(T0, [full], budget=10, poll_seconds=120, step_seconds=5, spent=spent).poll == ()


def test_deadlines_win_over_a_budget_too_small_for_them() -> None:
    states = [ProjectState(f"p{i}", ago(60)) for i in range(5)]
    chosen = plan(T0, states, budget=3, poll_seconds=60, step_seconds=5)
    assert len(chosen.poll) == 5 and chosen.over_budget

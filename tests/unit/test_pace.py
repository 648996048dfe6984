"""The Pacer's memory of polls: what a quick, a full and a failed poll change."""

from __future__ import annotations

from datetime import timedelta

from bot.core.watching.plan import ProjectState
from bot.usecases.watch_fleet import TickReport
from bot.usecases.watch_pace import Pacer
from devstack.clock import T0

PROJECTS = ["hot", "quiet"]


def report(**fields: object) -> TickReport:
    result = TickReport()
    for name, value in fields.items():
        setattr(result, name, value)
    return result


def state(pacer: Pacer, project: str) -> ProjectState:
    return next(s for s in pacer.states(T0, PROJECTS, {}) if s.project == project)


def test_a_quick_poll_that_saw_a_queue_node_change_makes_its_queues_due() -> None:
    pacer = Pacer(budget=40, poll_seconds=120, step_seconds=5)
    pacer.polled(T0, report(requests={"hot": 2}, queue_requests={"hot": 1}), full={"hot"})
    assert state(pacer, "hot").cost == 2 and state(pacer, "hot").quick_cost == 1
    later = T0 + timedelta(seconds=10)
    pacer.polled(later, report(requests={"hot": 1}, queues_due={"hot"}), full=())
    hot = state(pacer, "hot")
    assert hot.queues_due and hot.last_polled == T0 and hot.last_quick == later
    assert hot.early_cost == 2  # its next early poll lists the queued resources too
    pacer.polled(later, report(requests={"hot": 2}, queue_requests={"hot": 1}), full={"hot"})
    assert not state(pacer, "hot").queues_due and state(pacer, "hot").last_polled == later


def test_a_failed_full_poll_spends_its_deadline_but_not_what_it_costs() -> None:
    pacer = Pacer(budget=40, poll_seconds=120, step_seconds=5)
    pacer.polled(T0, report(requests={"hot": 3}, queue_requests={"hot": 1}), full={"hot"})
    pacer.polled(T0, report(requests={"hot": 2}, queues_due={"hot"}), full=())
    failed = report(requests={"hot": 1}, failed_projects=["hot"])
    pacer.polled(T0 + timedelta(seconds=5), failed, full={"hot"})
    hot = state(pacer, "hot")
    # Not due every tick while it fails; its last good costs stand.
    assert not hot.queues_due and hot.cost == 3 and hot.quick_cost == 2
    assert hot.last_polled == T0 + timedelta(seconds=5)


def test_a_project_without_queued_resources_is_always_polled_in_full() -> None:
    pacer = Pacer(budget=40, poll_seconds=120, step_seconds=5)
    pacer.polled(T0, report(requests={"quiet": 1}, queue_requests={"quiet": 0}), full={"quiet"})
    assert state(pacer, "quiet").quick_cost is None and state(pacer, "quiet").cost == 1

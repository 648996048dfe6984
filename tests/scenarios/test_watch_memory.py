"""The leader's watcher: snapshots in memory, models only for changed nodes, partial ticks, and
polling on a request budget. Behaviour only (no timings): what is detected, what is written,
what is listed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.watching.diff import Snapshot
from bot.usecases.watch import Watcher
from devstack.clock import FakeClock
from devstack.stack import ALERTS, APPROVALS, Stack, start_stack
from tpu_emulator import Emulator
from tpu_emulator.server import serve


def healthy(stack: Stack, project: str) -> list[str]:
    names = []
    for name in stack.emulator.node_names(project):
        node = stack.emulator.get_node(name)
        if node["state"] == "READY" and node.get("health") == "HEALTHY":
            names.append(name)
    return names


def alerted(stack: Stack, name: str) -> bool:
    node_id = name.rsplit("/", 1)[1]
    return any(node_id in m.text for m in stack.bot_messages(ALERTS))


def test_steady_ticks_build_models_only_for_nodes_that_changed(stack: Stack) -> None:
    stack.tick()
    stack.clock.advance(60)
    steady = stack.bot.jobs.run("poll_nodes")
    assert steady.nodes > 0 and steady.changed < steady.nodes
    name = healthy(stack, "ml-prod")[0]
    stack.emulator.inject(name, {"state": "PREEMPTED", "health": ""})
    stack.clock.advance(60)
    report = stack.bot.jobs.run("poll_nodes")
    stack.drain()
    assert alerted(stack, name) and report.decisions["open"] == 1
    # Recovery is seen too (the node has an open incident: it is a model every tick).
    stack.emulator.inject(name, {"state": "READY", "health": "HEALTHY"})
    stack.clock.advance(60)
    assert stack.bot.jobs.run("poll_nodes").decisions["resolve"] == 1


def test_snapshots_are_written_for_changes_and_a_new_leader_reads_them(stack: Stack) -> None:
    deps = stack.bot.dispatcher.deps
    first, second = Watcher(deps), Watcher(deps)  # two replicas' watchers, one database
    first.poll(stack.clock())
    second.poll(stack.clock())
    name = healthy(stack, "ml-prod")[0]
    stack.emulator.inject(name, {"health": "UNHEALTHY_TENSORFLOW"})
    stack.clock.advance(60)
    first.poll(stack.clock())  # the leader sees it and writes the change
    stored = deps.watch.load_snapshots()
    assert stored == first.memory.snapshots and stored[name].health == "UNHEALTHY_TENSORFLOW"
    stack.clock.advance(60)
    second.poll(stack.clock())  # leader again: its copy is stale, so it loads the database's
    assert second.memory.snapshots == deps.watch.load_snapshots()
    assert second.memory.snapshots[name].health == "UNHEALTHY_TENSORFLOW"


def test_a_partial_tick_concludes_nothing_about_projects_it_did_not_list(stack: Stack) -> None:
    stack.tick()
    watcher = Watcher(stack.bot.dispatcher.deps)
    watcher.poll(stack.clock())
    research = healthy(stack, "ml-research")
    victim = next(n for n in research if n.split("/")[3] == "us-central1-b")
    stack.emulator.inject(victim, {"state": "PREEMPTED", "health": ""})
    before: dict[str, Snapshot] = dict(watcher.memory.snapshots)
    stack.clock.advance(30)
    report = watcher.poll(stack.clock(), ["ml-prod"])
    assert report.listed == ["ml-prod"] and report.decisions["open"] == 0
    kept = {n: s for n, s in watcher.memory.snapshots.items() if "/ml-research/" in n}
    assert kept == {n: s for n, s in before.items() if "/ml-research/" in n}
    stack.clock.advance(30)
    assert watcher.poll(stack.clock(), ["ml-research"]).decisions["open"] == 1


BUDGET_CONFIG: dict[str, Any] = {
    # The budget is the Cloud TPU API's (Compute Engine's instances are listed on full polls).
    "projects": [
        {"id": p, "api": "v2", "sources": ["tpu"]} for p in ("ml-infra", "ml-vision", "ml-speech")
    ]
    + [{"id": "ml-prod", "api": "v1alpha1", "sources": ["tpu"]}],
    "channels": {"alerts": ALERTS, "approvals": APPROVALS},
    "watch": {"poll_seconds": 120, "requests_per_minute": 12, "plan_seconds": 5},
}


@pytest.fixture
def budget_stack(tmp_path: Path, clock: FakeClock) -> Iterator[Stack]:
    emulator = Emulator(clock=clock, op_seconds=10, fleet=120, projects=6, clean=True)
    server = serve(emulator)
    stack = start_stack(tmp_path, emulator, server, clock, config=BUDGET_CONFIG)
    try:
        yield stack
    finally:
        stack.close()


def _requests(emulator: Emulator) -> int:
    return sum(emulator.stats_json()["requests"].values())


def test_a_budget_is_never_exceeded_and_every_project_is_polled_in_time(
    budget_stack: Stack,
) -> None:
    stack = budget_stack
    assert stack.bot.jobs._jobs["poll_nodes"][1] == 5  # the job runs every plan_seconds
    hot = healthy(stack, "ml-vision")[0]
    spent: list[tuple[float, int]] = []
    polled: dict[str, list[float]] = {p["id"]: [] for p in BUDGET_CONFIG["projects"]}
    in_full: dict[str, list[float]] = {p["id"]: [] for p in BUDGET_CONFIG["projects"]}
    for second in range(0, 1200, 5):
        if second == 300:  # trouble in ml-vision: an open incident makes it hot
            stack.emulator.inject(hot, {"health": "UNHEALTHY_TENSORFLOW"})
        before = _requests(stack.emulator)
        report = stack.bot.jobs.run("poll_nodes")
        spent.append((second, _requests(stack.emulator) - before))
        for project in report.listed if report is not None else []:
            polled[project].append(second)
            if report.queue_requests[project] or project == "ml-prod":  # v1alpha1: no queues
                in_full[project].append(second)
        stack.clock.advance(5)
    for start, _ in spent:
        assert sum(n for at, n in spent if start <= at < start + 60) <= 12
    for project, times in in_full.items():  # nodes and queued resources, every poll_seconds
        gaps = [b - a for a, b in zip([0, *times], [*times, 1200], strict=True)]
        assert max(gaps) <= 120, project
    after = [t for t in polled["ml-vision"] if t >= 400]
    quiet = [t for t in polled["ml-speech"] if t >= 400]
    assert len(after) > len(quiet)
    # The hot project's early polls were quick ones (nodes only): more polls than full ones.
    assert len(after) > len([t for t in in_full["ml-vision"] if t >= 400])
    assert alerted(stack, hot) or stack.bot.watch.outbox.depth() > 0


def test_without_a_budget_every_tick_polls_every_project(stack: Stack) -> None:
    report = stack.bot.jobs.run("poll_nodes")
    assert report.listed == ["ml-prod", "ml-research"]
    assert timedelta(seconds=stack.bot.jobs._jobs["poll_nodes"][1]) == timedelta(seconds=60)

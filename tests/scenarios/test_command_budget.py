"""Commands spend a budget of TPU API requests of their own (issue 18, part 5): a loop of full
listings is answered with when to try again, and the watcher, which has its own, still polls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.budget import RequestBudget
from devstack.admin import admin
from devstack.clock import FakeClock
from devstack.stack import CONFIG, VIEWER, Stack, start_stack
from tpu_emulator import Emulator
from tpu_emulator.server import serve

# The per-user rate limit (limits:) set high: this is about the TPU API budget behind it.
TIGHT: dict[str, Any] = {
    **CONFIG,
    "gcp": {"command_requests_per_minute": 6, "retries": 0},
    "limits": {"commands_per_minute": 1000, "burst": 100},
}


@pytest.fixture
def tight(tmp_path: Path, clock: FakeClock) -> Iterator[Stack]:
    emulator = Emulator(clock=clock, op_seconds=10, fleet=60, projects=3)
    server = serve(emulator)
    stack = start_stack(tmp_path, emulator, server, clock, config=TIGHT, own_clients=True)
    yield stack
    stack.close()


def listed(stack: Stack) -> int:
    requests = admin(stack.emulator_server, "stats")["requests"]
    return int(requests.get("nodes.list", 0))


def test_a_loop_of_listings_is_told_when_to_retry_and_the_watcher_still_polls(
    tight: Stack,
) -> None:
    answers = [tight.command(VIEWER, "list").text for _ in range(12)]
    throttled = [a for a in answers if "Try again in" in a]
    assert throttled and "budget of TPU API requests" in throttled[0]
    assert answers[0].startswith("TPUs") and len(throttled) < len(answers)  # burst first
    spent = listed(tight)
    assert spent <= 10 + 2  # the burst (10), and no listing past it
    tight.tick()  # the watcher has a budget of its own
    assert listed(tight) > spent


def test_a_request_budget_refills_at_its_rate() -> None:
    budget = RequestBudget(per_minute=60, burst=2)
    assert budget.take(0.0) == 0.0 and budget.take(0.0) == 0.0
    assert budget.take(0.0) == pytest.approx(1.0)  # one a second
    assert budget.take(0.5) == pytest.approx(0.5)
    assert budget.take(1.0) == 0.0
    assert budget.take(100.0) == 0.0 and budget.take(100.0) == 0.0  # refilled to the burst only
    assert budget.take(100.0) > 0.0

"""Creates the API would refuse are refused at once, before anyone is asked to approve them; a
possible one is filed, and runs once with its requestId."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core import messages as m
from bot.core.records import ApprovalStatus
from tests.unit.usecase_world import NODE, World, make_world

ZONE = "us-central1-b"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (f"fresh zone={ZONE} type=v9-8 version=2.12.0", "`v9-8` is not offered"),
        (f"fresh zone={ZONE} type=v3-8 version=0.1", "`0.1` is not offered"),
        ("fresh zone=mars-north1-a type=v3-8 version=2.12.0", "offers no TPU nodes"),
        (f"n1 zone={ZONE} type=v3-8 version=2.12.0", "already exists"),
        (f"fresh zone={ZONE} type=v3-8 version=2.12.0 cidr=10.9.0.0/29", "already used by"),
        (f"fresh zone={ZONE} type=v3-8 version=2.12.0 cidr=10.9.0.0/24", "must be a /29"),
    ],
)
def test_an_impossible_create_is_refused_before_approval(world: World, args: str, why: str) -> None:
    world.tpu.add_node(NODE, cidr_block="10.9.0.0/29")
    answer = world.command(f"create {args}")
    assert isinstance(answer, m.Notice) and why in answer.text, answer
    assert world.outbox.sent == [] and world.tpu.calls["create_node"] == 0
    assert "refused" in [e.outcome for e in world.store.latest_audit(3)]


def test_a_possible_create_is_filed_and_runs_once_with_its_request_id(world: World) -> None:
    answer = world.command(f"create fresh zone={ZONE} type=v3-8 version=2.12.0")
    assert isinstance(answer, m.ApprovalQueued)
    approval = answer.approval
    world.approve(approval)
    final = world.approval(approval)
    assert final.status is ApprovalStatus.EXECUTED and world.tpu.calls["create_node"] == 1
    assert f"{ZONE}/nodes/fresh" in final.target

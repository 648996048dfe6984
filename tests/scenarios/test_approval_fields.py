"""An approver sees everything an action will send (issue 18, part 3): a create's network, CIDR
block, labels, description and scheduling are on the request card, and a network outside the
project (unless the config allows it) is refused before anyone is asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.request_fields import fields_of
from bot.storage.store import Store
from devstack.clock import FakeClock
from devstack.stack import APPROVALS, CONFIG, OPERATOR, Stack, start_stack
from tpu_emulator import Emulator
from tpu_emulator.server import serve

SHARED = "projects/net-host/global/networks/shared-vpc"
ALLOWING: dict[str, Any] = {
    **CONFIG,
    "projects": [{"id": "ml-prod", "api": "v1alpha1", "networks": [SHARED]}, CONFIG["projects"][1]],
}
TARGET = "projects/ml-prod/locations/us-central1-b/nodes/fresh-1"
CREATE = "create fresh-1 project=ml-prod zone=us-central1-b type=v3-8 version=2.12.0"


@pytest.fixture
def allowing(tmp_path: Path, clock: FakeClock) -> Iterator[Stack]:
    emulator = Emulator(clock=clock, op_seconds=10, fleet=60, projects=3)
    server = serve(emulator)
    stack = start_stack(tmp_path, emulator, server, clock, config=ALLOWING)
    yield stack
    stack.close()


def request_card(stack: Stack) -> str:
    [card] = [m for m in stack.bot_messages(APPROVALS) if not m.thread_ts]
    return str(card.blocks)


def test_the_card_shows_every_field_the_create_will_send(stack: Stack) -> None:
    text = (
        f"{CREATE} preemptible cidr=10.9.0.0/29 network=research-net label.team=vision "
        'label.owner=ada description="nightly sweep, do not touch"'
    )
    answer = stack.command(OPERATOR, text)
    assert "needs an approver" in answer.text
    card = request_card(stack)
    for shown in ("10.9.0.0/29", "research-net", "vision", "ada", "nightly sweep", "preemptible"):
        assert shown in card, shown
    # Nothing stored is left off the card: every leaf of what will be sent is on it.
    store = Store(stack.bot.settings.env.TPUBOT_DATABASE_URL)
    try:
        approval = store.pending_request("create", TARGET)
    finally:
        store.close()
    assert approval is not None
    fields = fields_of(approval.params)
    assert len(fields) >= 8
    for path, value in fields:
        assert path in card and value in card, (path, value)


@pytest.mark.parametrize(
    "network",
    [
        "projects/other-project/global/networks/default",
        "https://www.googleapis.com/compute/v1/projects/other-project/global/networks/x",
        "not/a/network",
        "Bad_Name",
    ],
)
def test_a_network_outside_the_project_is_refused_before_anyone_is_asked(
    stack: Stack, network: str
) -> None:
    answer = stack.command(OPERATOR, f"{CREATE} network={network}")
    assert "network" in answer.text.lower() and "needs an approver" not in answer.text
    assert not stack.bot_messages(APPROVALS)


def test_the_projects_own_network_by_path_is_taken(stack: Stack) -> None:
    answer = stack.command(OPERATOR, f"{CREATE} network=projects/ml-prod/global/networks/prod-net")
    assert "needs an approver" in answer.text
    assert "projects/ml-prod/global/networks/prod-net" in request_card(stack)


def test_a_shared_vpc_the_config_lists_is_taken(allowing: Stack) -> None:
    answer = allowing.command(OPERATOR, f"{CREATE} network={SHARED}")
    assert "needs an approver" in answer.text
    assert SHARED in request_card(allowing)

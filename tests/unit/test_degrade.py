"""Renders that would break a Block Kit limit degrade instead of raising after the ack."""

from __future__ import annotations

from pathlib import Path

from bot.core import messages as m
from bot.slack.blocks import render
from bot.slack.blocks.kit import _message, _section
from bot.slack.carry import ButtonCarrier
from bot.storage.store import Store
from bot.storage.values import Values
from devstack.clock import T0
from localslack import validate_blocks


def test_a_button_too_long_for_its_command_carries_none() -> None:
    long_query = "list " + " ".join(f"label.k{i}=" + "v" * 60 for i in range(40))
    page = m.NodePage(nodes=(), total=30, page=0, page_size=10, query=long_query)
    rendered = render(page)
    validate_blocks(rendered["blocks"])
    buttons = [e for b in rendered["blocks"] for e in b.get("elements", []) if "action_id" in e]
    assert [b["action_id"] for b in buttons] == ["list_page"]
    assert not buttons[0].get("value")  # a click on it is refused, not a crash


def test_more_than_fifty_blocks_are_cut_with_a_note() -> None:
    rendered = _message("t", [_section(f"line {i}") for i in range(70)])
    validate_blocks(rendered["blocks"])
    assert len(rendered["blocks"]) == 50
    assert "21 more blocks not shown" in str(rendered["blocks"][-1])


def test_long_commands_are_kept_server_side_and_recalled(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    carrier = ButtonCarrier(Values(store.engine))
    short = "list project=ml-prod"
    assert carrier.carry(short, T0) == short
    long_query = "list " + " ".join(f"label.k{i}=" + "v" * 60 for i in range(40))
    carried = carrier.carry(long_query, T0)
    assert carried.startswith("ref ") and len(carried) < 100
    assert carrier.recall(f"{carried} page=2") == f"{long_query} page=2"
    assert carrier.recall("ref unknownkey page=2") is None
    store.close()

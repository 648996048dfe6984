"""The Slack surface: signatures, forged payloads, Socket Mode, slow APIs, large fleets, pickers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlencode

from bot.slack.actions import ActionId
from devstack.admin import admin
from devstack.clock import FakeClock
from devstack.stack import (
    ADMIN,
    APPROVALS,
    APPROVER,
    GENERAL,
    OPERATOR,
    VIEWER,
    Stack,
    start_stack,
)
from localslack import BOT_USER, Message, validate_blocks
from tpu_emulator import Emulator
from tpu_emulator.server import serve


def slash_body(user: str, text: str, response_url: str) -> str:
    return urlencode(
        {
            "command": "/tpu",
            "text": text,
            "user_id": user,
            "channel_id": GENERAL,
            "team_id": "T0LOCAL",
            "response_url": response_url,
        }
    )


def test_bad_signature_and_stale_timestamp_get_401_and_do_nothing(stack: Stack) -> None:
    name = stack.emulator.node_names("ml-prod")[0]
    body = slash_body(ADMIN, f"stop {name}", stack.slack.url + "/response/none")
    forged = stack.slack.signed_post(body, secret="not-the-secret")
    stale = stack.slack.signed_post(body, timestamp=int(time.time()) - 10 * 60)
    assert (forged.status, stale.status) == (401, 401)
    good = stack.slack.signed_post(slash_body(ADMIN, "help", stack.slack.url + "/response/none"))
    assert good.status == 200  # the same path with a valid signature is accepted
    assert admin(stack.emulator_server, "stats")["requests"] == {}
    assert not stack.bot_messages(APPROVALS)
    assert stack.bot.store.latest_audit(5) == []


def test_a_viewer_clicking_a_stop_button_is_refused(stack: Stack) -> None:
    page = stack.command(OPERATOR, "list project=ml-prod state=ready")
    answer = stack.click(VIEWER, page, ActionId.STOP)
    assert "*operator* role" in answer.text
    assert not stack.bot_messages(APPROVALS)


def test_forged_button_values_change_nothing(stack: Stack) -> None:
    page = stack.command(OPERATOR, "list project=ml-prod state=ready")
    foreign = "projects/someone-else/locations/us-central1-b/nodes/theirs"
    answer = stack.click(ADMIN, page, ActionId.STOP, value=f"stop {foreign}")
    assert "not one this bot manages" in answer.text
    junk = stack.click(ADMIN, page, ActionId.DELETE, value="'; drop table approvals; --")
    assert "does not carry anything the bot can do" in junk.text
    # A button is only text to run: a smuggled command meets the same checks as a typed one.
    smuggled = stack.click(ADMIN, page, ActionId.PAGE_NEXT, value=f"delete {foreign}")
    assert "not one this bot manages" in smuggled.text
    mine = stack.emulator.node_names("ml-prod")[0]
    viewer = stack.click(VIEWER, page, ActionId.PAGE_NEXT, value=f"delete {mine}")
    assert "*operator* role" in viewer.text
    assert not stack.bot_messages(APPROVALS)
    assert "nodes.delete" not in admin(stack.emulator_server, "stats")["requests"]


def test_unknown_and_ambiguous_nodes_list_candidates(stack: Stack) -> None:
    existing = stack.emulator.node_names("ml-prod")[0].rsplit("/", 1)[1]
    answer = stack.command(VIEWER, f"get {existing[:-1]}")
    assert "Did you mean" in answer.text and existing in str(answer.blocks)
    zone = "us-central1-b"
    stack.emulator.create_node(
        f"projects/ml-research/locations/{zone}",
        "twin",
        None,
        {"acceleratorType": "v2-8", "tensorflowVersion": "2.12.0"},
    )
    stack.emulator.create_node(
        f"projects/ml-prod/locations/{zone}",
        "twin",
        None,
        {"acceleratorType": "v2-8", "tensorflowVersion": "2.12.0"},
    )
    both = stack.command(VIEWER, "get twin")
    assert "names 2 nodes" in both.text
    assert f"ml-prod/{zone}/twin" in str(both.blocks) and f"ml-research/{zone}/twin" in str(
        both.blocks
    )


def test_get_shows_one_card(stack: Stack) -> None:
    # A node in one of the zones the config lists for ml-research (the bot manages no other).
    managed = ("us-central1-b", "europe-west4-a", "us-central1-a")
    name = next(n for n in stack.emulator.node_names("ml-research") if n.split("/")[3] in managed)
    short = "/".join(name.split("/")[i] for i in (1, 3, 5))
    card = stack.command(VIEWER, f"get {short}")
    assert card.blocks[0]["text"]["text"] == name.rsplit("/", 1)[1]
    assert name in str(card.blocks)


def test_api_outage_gets_a_clear_answer(stack: Stack) -> None:
    admin(stack.emulator_server, "faults", {"errorRate": 1.0, "errorCode": 503})
    answer = stack.command(VIEWER, "list")
    assert "TPU API is not answering" in answer.text


def test_slow_api_still_acks_first(stack: Stack) -> None:
    admin(stack.emulator_server, "faults", {"latencyMs": 1500})
    before = len(stack.ws.snapshot(include_deleted=True))
    delivery = stack.slack.slash(VIEWER, "list project=ml-prod")
    assert delivery.status == 200
    # The ack came back while the listing was still waiting on the API: no answer yet.
    assert not [m for m in stack.ws.snapshot()[before:] if m.user == BOT_USER]
    answer = stack.wait_new(before, lambda m: m.ephemeral_for == VIEWER)
    assert answer.blocks[0]["text"]["text"] == "TPUs"


def test_audit_shows_who_did_what(stack: Stack) -> None:
    stack.command(VIEWER, "stop something")
    stack.command(OPERATOR, "nonsense")
    log = stack.command(OPERATOR, "audit 5")
    text = str(log.blocks)
    assert f"<@{VIEWER}>" in text and "refused" in text and "usage error" in text


def test_reimage_from_a_card_through_the_version_picker(stack: Stack) -> None:
    page = stack.command(OPERATOR, "list project=ml-prod state=ready")
    picker = stack.click(OPERATOR, page, ActionId.REIMAGE)
    select = picker.blocks[0]["accessory"]
    option = select["options"][0]["value"]
    node = picker.blocks[0]["block_id"].split()[-1]
    queued = stack.click(OPERATOR, picker, ActionId.REIMAGE_VERSION, selected=option, edits=True)
    assert "needs an approver" in queued.text
    request = stack.ws.wait_for(lambda: stack.bot_messages(APPROVALS))[0]
    assert "Reimage" in str(request.blocks) and option in str(request.blocks)
    # Typed without a version, reimage offers the same picker.
    typed = stack.command(OPERATOR, f"reimage {node}")
    assert typed.blocks[0]["accessory"]["action_id"] == ActionId.REIMAGE_VERSION


def test_socket_mode(tmp_path: Path, emulator: Emulator, clock: FakeClock) -> None:
    server = serve(emulator)
    stack = start_stack(tmp_path, emulator, server, clock, socket_mode=True)
    try:
        assert stack.bot.web is not None and stack.slack.bot_url is None
        answer = stack.command(VIEWER, "list project=ml-research")
        assert answer.blocks[0]["text"]["text"] == "TPUs"
        node = next(
            n
            for n in emulator.node_names("ml-prod")
            if emulator.get_node(n)["state"] == "READY"
            and emulator.get_node(n)["acceleratorType"].endswith("-8")
        )
        stack.command(OPERATOR, "stop " + "/".join(node.split("/")[i] for i in (1, 3, 5)))
        request = stack.ws.wait_for(lambda: stack.bot_messages(APPROVALS))[0]
        stack.click(APPROVER, request, ActionId.APPROVE)
        assert emulator.get_node(node)["state"] == "STOPPING"
    finally:
        stack.close()


def test_two_thousand_nodes_page_within_block_kit_limits(tmp_path: Path, clock: FakeClock) -> None:
    emulator = Emulator(clock=clock, fleet=2000, projects=1)
    server = serve(emulator)
    stack = start_stack(tmp_path, emulator, server, clock)
    try:
        first = stack.command(VIEWER, "list")
        assert "of 2000" in str(first.blocks) and len(first.blocks) <= 50
        validate_blocks(first.blocks)
        shown = {b["block_id"] for b in first.blocks if b.get("block_id", "").startswith("node:")}
        second = stack.click(VIEWER, first, ActionId.PAGE_NEXT, edits=True)
        assert "Page 2 of 200" in str(second.blocks) and len(second.blocks) <= 50
        again = {b["block_id"] for b in second.blocks if b.get("block_id", "").startswith("node:")}
        assert again and not (again & shown)
        assert all(len(json.dumps(b)) < 10_000 for b in second.blocks)
    finally:
        stack.close()


def _messages_with(stack: Stack, needle: str) -> list[Message]:
    return [m for m in stack.ws.snapshot() if needle in m.text]


def test_commands_answer_every_subcommand(stack: Stack) -> None:
    assert "accelerator types" in stack.command(VIEWER, "types us-east1-d").text.lower()
    assert "2.12.0" in stack.command(VIEWER, "versions us-central1-b").text
    assert "No operations" in stack.command(VIEWER, "ops").text
    assert "Usage" in stack.command(APPROVER, "create x").text

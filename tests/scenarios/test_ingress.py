"""The ack path's limits and identity, over real HTTP (waitress, Bolt, localslack's signatures)
and Socket Mode: a user's loop gets a retry time, a full queue answers busy, answers go only to
Slack's hosts, and another workspace is refused. The bot runs in-process (its work on its own
threads); tests/processes/test_ingress_process.py drives a real `tpu-bot serve`."""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.core.records import AuditEntry
from devstack.clock import FakeClock
from devstack.stack import ADMIN, APPROVER, CONFIG, OPERATOR, VIEWER, Stack, start_stack
from devstack.waiting import eventually
from localslack import BOT_USER, Delivery, LocalSlack, Message
from localslack.workspace import TEAM_ID
from tpu_emulator import Emulator, EmulatorApp
from tpu_emulator.http import RunningServer, serve_in_thread

LIST = "list project=ml-prod"
RETRY = re.compile(r"Try again in (\d+) (s|min)\.")


def ack_text(delivery: Delivery) -> str:
    assert delivery.status == 200, delivery
    body = delivery.json
    return str(body.get("text", "")) if isinstance(body, dict) else delivery.body


def refusals(stack: Stack, reason: str) -> float:
    value = stack.bot.metrics.registry.get_sample_value(
        "tpubot_refused_requests_total", {"reason": reason}
    )
    return value or 0.0


def audited(stack: Stack, outcome: str) -> list[AuditEntry]:
    return [e for e in stack.bot.store.latest_audit(200) if e.outcome == outcome]


def answers_to(stack: Stack, user: str) -> list[Message]:
    return [m for m in stack.ws.snapshot() if m.user == BOT_USER and m.ephemeral_for == user]


def command(slack: LocalSlack, user: str, text: str = LIST, **changes: str) -> dict[str, str]:
    """A slash command payload as localslack sends it, with `changes`."""
    return {
        "token": "unused",
        "team_id": TEAM_ID,
        "channel_id": "C0GENERAL",
        "user_id": user,
        "command": "/tpu",
        "text": text,
        "api_app_id": "A0TPUBOT",
        "response_url": slack.response_url("C0GENERAL", user),
        "trigger_id": secrets.token_hex(8),
        **changes,
    }


def click(slack: LocalSlack, user: str, message: Message, action_id: str) -> dict[str, Any]:
    """A block_actions payload for a button of `message`, as localslack sends it."""
    element = next(
        (block.get("block_id", ""), e)
        for block in message.blocks
        for e in [
            *(block.get("elements") or []),
            *([block["accessory"]] if "accessory" in block else []),
        ]
        if e.get("action_id") == action_id
    )
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0TPUBOT",
        "token": "unused",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel},
        "trigger_id": secrets.token_hex(8),
        "team": {"id": TEAM_ID, "domain": "local"},
        "channel": {"id": message.channel},
        "response_url": slack.response_url(message.channel, user, message.ts),
        "actions": [
            {
                "action_id": action_id,
                "block_id": element[0],
                "type": "button",
                "value": element[1].get("value", ""),
            }
        ],
    }


def post(stack: Stack, payload: dict[str, Any]) -> Delivery:
    form = payload if "command" in payload else {"payload": json.dumps(payload)}
    return stack.slack.signed_post(urlencode(form))


@dataclass
class Gate:
    """The emulator's latency sleep, held until released: a TPU call hangs while the test fills
    the queue behind it (no wall-clock sleep decides anything)."""

    released: threading.Event = field(default_factory=threading.Event)
    hits: int = 0

    def __call__(self, seconds: float) -> None:
        self.hits += 1
        self.released.wait(seconds)


@pytest.fixture
def gated(tmp_path: Path, emulator: Emulator, clock: FakeClock) -> Iterator[tuple[Stack, Gate]]:
    gate = Gate()
    server: RunningServer = serve_in_thread(
        EmulatorApp(emulator, sleep=gate), "127.0.0.1", 0, "emulator"
    )
    config = {**CONFIG, "limits": {"workers": 1, "queue_size": 1}}
    stack = start_stack(tmp_path, emulator, server, clock, config=config)
    yield stack, gate
    gate.released.set()
    stack.close()


def test_a_loop_of_commands_by_one_user_gets_a_retry_time_after_the_burst(stack: Stack) -> None:
    # The defaults: 10 at once, then 15 a minute (one every 4 s); everyone is a viewer.
    acks = [ack_text(stack.slack.slash(VIEWER, LIST)) for _ in range(12)]
    assert acks[:10] == [""] * 10  # accepted: the answers come through response_url
    for text in acks[10:]:
        match = RETRY.search(text)
        assert match and match.groups() == ("4", "s"), text
        assert "nothing was run" in text
    eventually(lambda: len(answers_to(stack, VIEWER)) == 10, 30, "ten answers")
    assert refusals(stack, "rate_limited") == 2
    # Others are not held back; and the bucket refills with the bot's clock.
    assert ack_text(stack.slack.slash(OPERATOR, LIST)) == ""
    stack.clock.advance(4)
    assert ack_text(stack.slack.slash(VIEWER, LIST)) == ""
    assert RETRY.search(ack_text(stack.slack.slash(VIEWER, LIST)))
    assert refusals(stack, "rate_limited") == 3
    # Audited off the ack path, once a minute per user (the metric counts every one).
    stack.clock.advance(60)
    for _ in range(12):
        stack.slack.slash(VIEWER, "help")
    entries = eventually(lambda: audited(stack, "rate_limited")[1:], 10, "the audit lines")
    assert len(entries) == 1  # newest first: the second minute's; then the first minute's
    both = audited(stack, "rate_limited")
    assert [(e.user, e.action, e.target) for e in both] == [
        (VIEWER, "command", "help"),
        (VIEWER, "command", LIST),
    ]


def test_admins_get_a_multiple_and_clicks_get_a_note(
    tmp_path: Path, emulator: Emulator, emulator_server: RunningServer, clock: FakeClock
) -> None:
    config = {**CONFIG, "limits": {"burst": 2, "commands_per_minute": 6, "admin_multiplier": 3}}
    stack = start_stack(tmp_path, emulator, emulator_server, clock, config=config)
    try:
        admin_acks = [ack_text(stack.slack.slash(ADMIN, "help")) for _ in range(7)]
        assert admin_acks[:6] == [""] * 6 and RETRY.search(admin_acks[6])
        eventually(lambda: len(answers_to(stack, ADMIN)) == 6, 30, "the admin's answers")
        page = stack.command(VIEWER, LIST)
        # Four clicks of its Next button (built now: the first answer replaces the page).
        clicks = [click(stack.slack, VIEWER, page, "list_page") for _ in range(4)]
        assert ack_text(post(stack, clicks[0])) == ""
        before = len(answers_to(stack, VIEWER))
        # Over the limit, a click's ack says nothing (Slack shows no ack text for a click):
        # the user gets one ephemeral note a minute through response_url.
        for payload in clicks[1:]:
            assert ack_text(post(stack, payload)) == ""
        notes = eventually(
            lambda: [m for m in answers_to(stack, VIEWER)[before:] if "Try again" in m.text],
            10,
            "the note",
        )
        assert len(notes) == 1 and RETRY.search(notes[0].text)
        assert refusals(stack, "rate_limited") == 4
    finally:
        stack.close()


def test_a_home_tab_click_over_the_limit_is_told_in_the_persons_dms(
    tmp_path: Path, emulator: Emulator, emulator_server: RunningServer, clock: FakeClock
) -> None:
    # A Home view has no response_url: a refused click is told where its answer would go.
    config = {**CONFIG, "limits": {"burst": 2, "commands_per_minute": 1}}
    stack = start_stack(tmp_path, emulator, emulator_server, clock, config=config)
    try:
        dms = stack.ws.direct(VIEWER)

        def drawn() -> bool:
            stack.drain()
            return stack.ws.home(VIEWER) is not None

        def said() -> list[str] | None:
            stack.drain()
            texts = [m.text for m in stack.bot_messages(dms)]
            return texts if len(texts) >= 2 else None

        assert stack.slack.open_home(VIEWER).status == 200  # the first of the burst of 2
        eventually(drawn, 10, "the Home tab drawn")
        for _ in range(3):  # the second of the burst, then two over the limit
            assert stack.slack.click_home(VIEWER, "show_usage").status == 200
        assert refusals(stack, "rate_limited") == 2
        texts = eventually(said, 30, "the answer and the note in their DMs")
        told = [text for text in texts if "Try again in" in text]
        assert len(told) == 1 and "nothing was run" in told[0], texts  # once a minute
        assert len(texts) == 2  # and the accepted click's answer
        entries = eventually(lambda: audited(stack, "rate_limited"), 10, "the audit line")
        assert [e.action for e in entries] == ["click show_usage"]
    finally:
        stack.close()


def test_a_full_queue_answers_busy_and_loses_nothing(gated: tuple[Stack, Gate]) -> None:
    stack, gate = gated
    stack.emulator.set_faults({"latencyMs": 60_000})
    assert ack_text(stack.slack.slash(VIEWER, LIST)) == ""  # the one worker takes it, and hangs
    eventually(lambda: gate.hits >= 1, 10, "the worker in the TPU call")
    assert ack_text(stack.slack.slash(OPERATOR, LIST)) == ""  # the one place in the queue
    busy = ack_text(stack.slack.slash(APPROVER, LIST))
    assert "busy" in busy and RETRY.search(busy), busy
    assert refusals(stack, "busy") == 1
    assert stack.bot.metrics.registry.get_sample_value("tpubot_work_queue_depth") == 1
    stack.emulator.set_faults({"latencyMs": 0})
    gate.released.set()
    # What was accepted still runs and answers.
    eventually(lambda: answers_to(stack, VIEWER) and answers_to(stack, OPERATOR), 30, "answers")
    assert not answers_to(stack, APPROVER)
    assert [e.user for e in eventually(lambda: audited(stack, "busy"), 10, "audit")] == [APPROVER]
    # Room again: the next one is accepted.
    assert ack_text(stack.slack.slash(APPROVER, LIST)) == ""
    eventually(lambda: answers_to(stack, APPROVER), 30, "the answer")


class Recorder:
    """A web server that is not Slack: records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        self.server = serve_in_thread(self, "127.0.0.1", 0, "not-slack")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.requests.append((environ["PATH_INFO"], environ["wsgi.input"].read(length)))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


def test_answers_go_only_to_slacks_hosts(stack: Stack) -> None:
    elsewhere = Recorder()
    try:
        hook = elsewhere.server.url + "/commands/T0LOCAL/1/secret-token"
        assert ack_text(post(stack, command(stack.slack, VIEWER, response_url=hook))) == ""
        page = stack.command(OPERATOR, LIST)
        payload = click(stack.slack, OPERATOR, page, "list_page")
        payload["response_url"] = hook
        assert ack_text(post(stack, payload)) == ""
        refused = eventually(lambda: len(audited(stack, "response_url")) == 2, 10, "audit")
        assert refused and refusals(stack, "response_url") == 2
        stack.settle()
        assert elsewhere.requests == []  # nothing went to the other host...
        assert not answers_to(stack, VIEWER)  # ...and the user gets nothing
        # The same user, with Slack's response_url, is answered.
        assert stack.command(VIEWER, LIST).ephemeral_for == VIEWER
    finally:
        elsewhere.server.close()


def api_requests(stack: Stack) -> int:
    return sum(stack.emulator.stats_json()["requests"].values())


def test_another_workspace_is_refused(stack: Stack) -> None:
    page = stack.command(OPERATOR, LIST)
    seen, before = len(answers_to(stack, OPERATOR)), api_requests(stack)
    other_team = ack_text(post(stack, command(stack.slack, VIEWER, team_id="T0OTHER")))
    other_org = ack_text(post(stack, command(stack.slack, VIEWER, enterprise_id="E0OTHER")))
    for text in (other_team, other_org):
        assert "only the workspace it is installed in" in text, text
    # Slack Connect: someone from another workspace clicks in a shared channel.
    guest = click(stack.slack, OPERATOR, page, "list_page")
    guest["user"]["team_id"] = "T0GUEST"
    assert ack_text(post(stack, guest)) == ""
    note = eventually(lambda: answers_to(stack, OPERATOR)[seen:], 10, "the refusal note")
    assert "only the workspace" in note[0].text
    assert refusals(stack, "foreign_team") == 3
    assert eventually(lambda: len(audited(stack, "foreign_team")) == 2, 10, "audit")
    stack.settle()
    assert api_requests(stack) == before  # none of them reached the TPU API
    assert not answers_to(stack, VIEWER)
    assert stack.command(VIEWER, LIST).ephemeral_for == VIEWER  # our own workspace: served


def test_socket_mode_acks_carry_the_retry_time(
    tmp_path: Path, emulator: Emulator, emulator_server: RunningServer, clock: FakeClock
) -> None:
    config = {**CONFIG, "limits": {"burst": 1, "commands_per_minute": 2}}
    stack = start_stack(tmp_path, emulator, emulator_server, clock, socket_mode=True, config=config)
    try:
        assert ack_text(stack.slack.slash(VIEWER, LIST)) == ""
        text = ack_text(stack.slack.slash(VIEWER, LIST))
        match = RETRY.search(text)
        assert match and match.groups() == ("30", "s"), text
        foreign = command(stack.slack, VIEWER, team_id="T0OTHER")
        assert "only the workspace" in ack_text(stack.slack.hub.deliver("slash_commands", foreign))
    finally:
        stack.close()

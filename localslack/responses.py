"""response_url: where an interaction may answer, at most five times within 30 minutes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from localslack.base import BOT_USER, Call, Json, SlackError, content
from localslack.rules import RULES, Rule, limit

if TYPE_CHECKING:
    from localslack.workspace import Workspace


@dataclass
class Target:
    """Where one response_url answers, since when, and how often it was used."""

    channel: str
    user: str
    message_ts: str | None
    issued: float
    uses: int = 0


def issue(ws: Workspace, channel: str, user: str, message_ts: str | None) -> str:
    token = secrets.token_urlsafe(12)
    ws.responses[token] = Target(channel, user, message_ts, ws.now())
    return token


def _target(ws: Workspace, token: str) -> Target:
    """Where the response_url answers; Slack's refusal when it may not be used again."""
    target = ws.responses.get(token)
    if target is None:
        raise SlackError("invalid_response_url", 404)
    for rule, spent in (
        (Rule.RESPONSE_URL_AGE, ws.now() - target.issued),
        (Rule.RESPONSE_URL_USES, target.uses + 1),
    ):
        if spent > limit(rule):
            raise SlackError(RULES[rule].error, RULES[rule].status)
    return target


def respond(ws: Workspace, token: str, body: Json) -> None:
    """A POST to a response_url, as Bolt's `respond()` sends it."""
    target = _target(ws, token)
    text, blocks = content(body)  # a body Slack refuses does not use the URL up
    target.uses += 1
    ws.calls.append(Call("response_url", dict(body), True, at=ws.now(), channel=target.channel))
    original = ws.find(target.channel, target.message_ts) if target.message_ts else None
    if body.get("delete_original") and target.message_ts:
        if original is not None:
            original.deleted = True
        ws.touch()
        return
    if body.get("replace_original") and original is not None:
        original.text, original.blocks = text, blocks
        original.edited += 1
        ws.touch()
        return
    in_channel = body.get("response_type") == "in_channel"
    ws.post(
        target.channel,
        BOT_USER,
        text,
        blocks,
        ephemeral_for=None if in_channel else target.user,
        via="response_url",
        thread_ts=body.get("thread_ts") or None,
    )

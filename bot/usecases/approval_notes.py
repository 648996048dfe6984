"""What an approval request says as it moves: its message redrawn to its state, replies in its
thread, and the requester's private notes (told in the thread if they left the channel)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core import messages as m
from bot.core.messages import Tone
from bot.core.records import Approval, MessageRef
from bot.core.text import Code, Said, say
from bot.usecases.context import Deps


def root_of(deps: Deps, approval: Approval) -> MessageRef:
    return approval.root(deps.config.channels.approvals)


def redraw(deps: Deps, conn: Any, approval: Approval, now: datetime) -> None:
    """The request message, redrawn to its state (buttons only while pending)."""
    message = m.ApprovalRequest(approval, deps.config.approvals.ttl_minutes)
    root = root_of(deps, approval)
    if root.known:
        deps.outbox.update(conn, root, message, now=now)


def reply(deps: Deps, conn: Any, approval: Approval, message: m.Message, now: datetime) -> None:
    """A reply in the request's thread."""
    root = root_of(deps, approval)
    if root.known:
        deps.outbox.post(conn, root.channel, message, now=now, thread=root)


def tell_requester(
    deps: Deps, conn: Any, approval: Approval, text: Said, tone: Tone, now: datetime
) -> None:
    note = m.Notice(text, tone)
    # If they left the channel they typed in, they are told in the request's thread instead.
    deps.outbox.ephemeral(
        conn,
        approval.requester_channel,
        approval.requester,
        note,
        now=now,
        or_in_thread=root_of(deps, approval),
    )


def what(approval: Approval) -> Said:
    return say(f"{approval.action} ", Code(approval.target))

"""Posting to Slack: the WebClient the bot uses, and the Outbox port: neutral messages rendered
and queued durably in the caller's transaction, for the drainer to send."""

from __future__ import annotations

from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy.engine import Connection

from bot.core.messages import Message, Notice, Tone
from bot.core.records import MessageRef
from bot.slack import blocks as render
from bot.slack.rows import OutboxRows


def make_web_client(token: str, base_url: str, retries: int = 3) -> WebClient:
    """A WebClient that waits out 429 (Retry-After) and retries 5xx and dropped connections."""
    client = WebClient(token=token, base_url=base_url, timeout=15)
    client.retry_handlers = [
        ConnectionErrorRetryHandler(max_retry_count=retries),
        RateLimitErrorRetryHandler(max_retry_count=retries),
        ServerErrorRetryHandler(max_retry_count=retries),
    ]
    return client


class Outbox:
    """Durable Slack writes: rows go in with the state change that caused them (one transaction)."""

    def __init__(self, rows: OutboxRows) -> None:
        self.rows = rows

    def post(
        self,
        conn: Connection,
        channel: str,
        message: Message,
        *,
        now: datetime,
        thread: MessageRef | None = None,
        fallback: str | None = None,
    ) -> int:
        return self.rows.enqueue(
            conn,
            channel=thread.channel if thread is not None else channel,
            payload=render.render(message),
            now=now,
            thread_outbox=None if thread is None or thread.ts else thread.outbox,
            thread_ts=thread.ts if thread is not None else None,
            fallback_channel=fallback,
        )

    def ephemeral(
        self,
        conn: Connection,
        channel: str,
        user: str,
        message: Message,
        *,
        now: datetime,
        or_in_thread: MessageRef | None = None,
    ) -> int:
        """Only `user` sees it (chat.postEphemeral); Slack keeps no ts for these. If Slack
        refuses it for good, the drainer tells them in `or_in_thread` instead."""
        thread = or_in_thread if or_in_thread is not None and or_in_thread.known else None
        return self.rows.enqueue(
            conn,
            channel=channel,
            payload={**render.render(message), "user": user},
            now=now,
            method="chat.postEphemeral",
            fallback_channel=thread.channel if thread else None,
            fallback_thread_outbox=thread.outbox if thread else None,
            fallback_thread_ts=(thread.ts or None) if thread else None,
        )

    def update(
        self, conn: Connection, target: MessageRef, message: Message, *, now: datetime
    ) -> int:
        return self.rows.enqueue(
            conn,
            channel=target.channel,
            payload=render.render(message),
            now=now,
            method="chat.update",
            target_outbox=None if target.ts else target.outbox,
            target_ts=target.ts,
        )

    def home(self, conn: Connection, user: str, message: Message, *, now: datetime) -> int:
        """One person's App Home view; rows of one user keep their order like a channel's."""
        return self.rows.enqueue(
            conn,
            channel=user,
            payload={"user_id": user, "view": render.render(message)},
            now=now,
            method="views.publish",
        )

    def tell(self, user: str, text: str, *, now: datetime) -> int:
        """A warning to `user` in their direct messages with the bot, in a transaction of its
        own: for what has no response_url to answer through (a click in the Home tab)."""
        with self.rows.begin() as conn:
            return self.post(conn, user, Notice(text, Tone.WARNING), now=now)

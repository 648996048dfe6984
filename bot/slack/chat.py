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

from bot.core.messages import Message
from bot.core.records import ThreadRoot
from bot.slack import blocks as render
from bot.storage.watch_store import WatchStore


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

    def __init__(self, watch: WatchStore) -> None:
        self.watch = watch

    def post(
        self,
        conn: Connection,
        channel: str,
        message: Message,
        *,
        now: datetime,
        thread_outbox: int | None = None,
        thread_ts: str | None = None,
        fallback: str | None = None,
    ) -> int:
        return self.watch.enqueue(
            conn,
            channel=channel,
            payload=render.render(message),
            now=now,
            thread_outbox=thread_outbox,
            thread_ts=thread_ts,
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
        or_in_thread: ThreadRoot | None = None,
    ) -> int:
        """Only `user` sees it (chat.postEphemeral); Slack keeps no ts for these. If Slack
        refuses it for good, the drainer tells them in `or_in_thread` instead."""
        thread = or_in_thread if or_in_thread is not None and or_in_thread.known else None
        return self.watch.enqueue(
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
        self,
        conn: Connection,
        channel: str,
        message: Message,
        *,
        now: datetime,
        target_outbox: int | None = None,
        target_ts: str | None = None,
    ) -> int:
        return self.watch.enqueue(
            conn,
            channel=channel,
            payload=render.render(message),
            now=now,
            method="chat.update",
            target_outbox=target_outbox,
            target_ts=target_ts,
        )

"""Posting to Slack: neutral messages rendered and sent with slack_sdk's WebClient, at once
(SlackChat) or durably, through the outbox, in the caller's transaction (Outbox)."""

from __future__ import annotations

from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy.engine import Connection

from bot.core.messages import Message
from bot.runtime.metrics import Metrics
from bot.slack import blocks as render
from bot.storage.watch_store import WatchStore
from bot.usecases.ports import ChatError


def make_web_client(token: str, base_url: str, retries: int = 3) -> WebClient:
    """A WebClient that waits out 429 (Retry-After) and retries 5xx and dropped connections."""
    client = WebClient(token=token, base_url=base_url, timeout=15)
    client.retry_handlers = [
        ConnectionErrorRetryHandler(max_retry_count=retries),
        RateLimitErrorRetryHandler(max_retry_count=retries),
        ServerErrorRetryHandler(max_retry_count=retries),
    ]
    return client


class SlackChat:
    """The Chat port on a real (or local) Slack."""

    def __init__(self, client: WebClient, metrics: Metrics | None = None) -> None:
        self.client = client
        self.metrics = metrics

    def _count(self, method: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.slack_posts.labels(method=method, outcome=outcome).inc()

    def _call(self, method: str, **kwargs: object) -> dict:
        try:
            response = self.client.api_call(method, json=kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "error"))
            self._count(method, error)
            raise ChatError(f"{method}: {error}") from None
        except (SlackClientError, OSError) as exc:
            self._count(method, "unreachable")
            raise ChatError(f"{method}: {exc.__class__.__name__}") from None
        self._count(method, "ok")
        return dict(response.data) if isinstance(response.data, dict) else {}

    def post(self, channel: str, message: Message, thread_ts: str | None = None) -> str:
        body = render.render(message)
        if thread_ts:
            body["thread_ts"] = thread_ts
        return str(self._call("chat.postMessage", channel=channel, **body)["ts"])

    def update(self, channel: str, ts: str, message: Message) -> None:
        self._call("chat.update", channel=channel, ts=ts, **render.render(message))

    def ephemeral(self, channel: str, user: str, message: Message) -> None:
        self._call("chat.postEphemeral", channel=channel, user=user, **render.render(message))


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
        self, conn: Connection, channel: str, user: str, message: Message, *, now: datetime
    ) -> int:
        """Only `user` sees it (chat.postEphemeral); Slack keeps no ts for these."""
        return self.watch.enqueue(
            conn,
            channel=channel,
            payload={**render.render(message), "user": user},
            now=now,
            method="chat.postEphemeral",
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

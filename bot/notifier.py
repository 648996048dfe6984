"""Posting to Slack: render neutral messages and send them with slack_sdk's WebClient."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot import render
from bot.messages import Message
from bot.metrics import Metrics
from bot.service.core import ChatError

log = logging.getLogger(__name__)


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

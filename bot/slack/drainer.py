"""The outbox drainer: sends what the outbox holds, in order per channel, paced, and records what
Slack accepted only after it accepted it."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.core.records import OutboxItem
from bot.runtime.metrics import Metrics
from bot.storage.watch_store import WatchStore

log = logging.getLogger(__name__)


class OutboxDrainer:
    """Sends what the outbox holds, in order per channel, about one message a second per channel.

    429 waits for Retry-After; 5xx and connection errors back off; a message is marked sent only
    after Slack accepted it. A message Slack refuses for good (say, an archived channel) is set
    aside with its error logged, so it cannot hold up the rest of its channel forever.
    """

    PERMANENT = frozenset(
        {
            "channel_not_found",
            "is_archived",
            "invalid_blocks",
            "msg_too_long",
            "not_in_channel",
            "message_not_found",
            "cant_update_message",
            "invalid_auth",
            "account_inactive",
        }
    )

    def __init__(
        self,
        client: WebClient,
        watch: WatchStore,
        metrics: Metrics | None = None,
        pace_seconds: float = 1.0,
        max_backoff_seconds: float = 300.0,
    ) -> None:
        self.client = client
        self.watch = watch
        self.metrics = metrics
        self.pace = timedelta(seconds=pace_seconds)
        self.max_backoff = max_backoff_seconds
        self._last_write: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def _count(self, method: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.slack_posts.labels(method=method, outcome=outcome).inc()

    def drain(self, now: datetime) -> int:
        """One pass; how many messages Slack accepted."""
        with self._lock:  # one drainer at a time per process: order per channel depends on it
            return self._drain(now)

    def _drain(self, now: datetime) -> int:
        held: set[str] = set()
        sent = 0
        for item in self.watch.pending():
            channel = item.channel
            if channel in held:
                continue
            waiting_for_parent = (item.thread_outbox is not None and not item.thread_ts) or (
                item.method == "chat.update" and not item.target_ts
            )
            last = self._last_write.get(channel)
            if (
                item.next_attempt_at > now
                or waiting_for_parent
                or (last is not None and now - last < self.pace)
            ):
                held.add(channel)  # later rows of this channel wait too: order is kept
                continue
            if self._send(item, now):
                sent += 1
            held.add(channel)
        if self.metrics is not None:
            self.metrics.outbox_depth.set(self.watch.depth())
        return sent

    def _send(self, item: OutboxItem, now: datetime) -> bool:
        args: dict[str, Any] = {"channel": item.channel, **item.payload}
        if item.method == "chat.update":
            args["ts"] = item.target_ts
        elif item.thread_ts:
            args["thread_ts"] = item.thread_ts
        self._last_write[item.channel] = now
        try:
            response = self.client.api_call(item.method, json=args)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            status = int(exc.response.status_code)
            self._count(item.method, error or str(status))
            if status == 429:
                wait = float(exc.response.headers.get("Retry-After", 1) or 1)
                self.watch.retry_later(item.id, now + timedelta(seconds=wait), "ratelimited")
                return False
            if status < 500 and error in self.PERMANENT:
                log.error("outbox %s: Slack refused it for good (%s); set aside", item.id, error)
                self.watch.mark_sent(item.id, "", now)
                self.watch.retry_later(item.id, now, f"refused: {error}")
                return False
            self._backoff(item, now, error or f"HTTP {status}")
            return False
        except (SlackClientError, OSError) as exc:
            self._count(item.method, "unreachable")
            self._backoff(item, now, exc.__class__.__name__)
            return False
        self._count(item.method, "ok")
        ts = str(response.get("ts") or item.target_ts or "")
        self.watch.mark_sent(item.id, ts, now)
        return True

    def _backoff(self, item: OutboxItem, now: datetime, error: str) -> None:
        delay = min(self.max_backoff, 2.0 ** min(item.attempts, 10))
        log.warning("outbox %s: %s; retrying in %.0fs", item.id, error, delay)
        self.watch.retry_later(item.id, now + timedelta(seconds=delay), error)

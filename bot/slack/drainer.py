"""The outbox drainer: sends what the outbox holds, in order per channel, paced, and records what
Slack accepted only after it accepted it.

Every post carries Slack message metadata naming its row (`tpubot_outbox`, `{"row": id}`). A row
claimed but not recorded (a crash between Slack's answer and the commit, or a lost answer) is
looked for in the channel's recent history once, when the token may read it
(`recover_from_history`), and recorded instead of posted again; otherwise it is posted again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.core.records import OutboxItem
from bot.runtime.metrics import Metrics
from bot.storage.watch_store import WatchStore

log = logging.getLogger(__name__)

EVENT_TYPE = "tpubot_outbox"


def outbox_metadata(row: int) -> dict[str, Any]:
    """The Slack message metadata that names the outbox row a message was sent for."""
    return {"event_type": EVENT_TYPE, "event_payload": {"row": row}}


def row_of(message: dict[str, Any]) -> int | None:
    """The outbox row a message from history was sent for, if it says."""
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != EVENT_TYPE:
        return None
    row = (metadata.get("event_payload") or {}).get("row")
    return row if isinstance(row, int) else None


class OutboxDrainer:
    """Sends what the outbox holds, in order per channel, about one message a second per channel.

    Slack allows a channel one message a second "with short bursts": each channel has a bucket of
    `burst` sends that refills at one per `pace_seconds`, so the incidents one tick finds go out
    together while a long run of them still averages one a second.

    429 waits for Retry-After; 5xx and connection errors back off; a message is marked sent only
    after Slack accepted it. A message Slack refuses for good (say, an archived channel) is set
    aside with its error logged, so it cannot hold up the rest of its channel forever.
    """

    NOT_THERE = frozenset({"not_in_channel", "channel_not_found"})
    # The drain job's start time jitters by a few ms around its interval: without this slack, a
    # channel whose bucket is 0.99 full would wait one whole extra interval.
    JITTER = 0.1
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
        burst: int = 3,
        max_backoff_seconds: float = 300.0,
        *,
        recover_from_history: bool = False,
        claim_grace_seconds: float = 30.0,
        lookback_seconds: float = 120.0,
    ) -> None:
        self.client = client
        self.watch = watch
        self.metrics = metrics
        self.pace = timedelta(seconds=pace_seconds)
        self.max_backoff = max_backoff_seconds
        self.burst = max(1, burst)
        self._bucket: dict[str, tuple[float, datetime]] = {}  # channel -> (sends left, when)
        self._lock = threading.Lock()
        self.recover_from_history = recover_from_history
        # A claim younger than this, not ours, may be a send in flight elsewhere (longer than
        # the client's timeout).
        self.claim_grace = timedelta(seconds=claim_grace_seconds)
        self.lookback = timedelta(seconds=lookback_seconds)
        self._settled: set[int] = set()  # rows whose send this drainer saw end

    def _count(self, method: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.slack_posts.labels(method=method, outcome=outcome).inc()

    def drain(self, now: datetime) -> int:
        """One pass; how many messages Slack accepted."""
        with self._lock:  # one drainer at a time per process: order per channel depends on it
            return self._drain(now)

    def _drain(self, now: datetime) -> int:
        items = self.watch.pending()
        claims = self.watch.claims()
        held: set[str] = set()
        if any(item.id in claims for item in items):
            held = self._settle_claims(items, claims, now)
            items = self.watch.pending()
        sent = 0
        for item in items:
            channel = item.channel
            if channel in held:
                continue
            waiting_for_parent = not item.parent_lost and (
                (item.thread_outbox is not None and not item.thread_ts)
                or (item.method == "chat.update" and not item.target_ts)
            )
            if item.next_attempt_at > now or waiting_for_parent or not self._may_send(channel, now):
                held.add(channel)  # later rows of this channel wait too: order is kept
                continue
            if self._send(item, now):
                sent += 1
            else:
                held.add(channel)
        if self.metrics is not None:
            self.metrics.outbox_depth.set(self.watch.depth())
        return sent

    def _level(self, channel: str, now: datetime) -> float:
        """Sends the channel's bucket holds now."""
        left, since = self._bucket.get(channel, (float(self.burst), now))
        return min(float(self.burst), left + (now - since) / self.pace)

    def _may_send(self, channel: str, now: datetime) -> bool:
        return self._level(channel, now) + self.JITTER >= 1

    def _send(self, item: OutboxItem, now: datetime) -> bool:
        if item.parent_lost and item.method == "chat.update":
            # The message to edit was never posted: nothing to edit, and nothing to wait for.
            self._set_aside(item, now, "the message it edits was never posted")
            return False
        args: dict[str, Any] = {"channel": item.channel, **item.payload}
        if item.method == "chat.update":
            args["ts"] = item.target_ts
        elif item.method == "chat.postMessage":
            args["metadata"] = outbox_metadata(item.id)
        if item.thread_ts and item.method != "chat.update":
            args["thread_ts"] = item.thread_ts
        self._bucket[item.channel] = (self._level(item.channel, now) - 1, now)
        self.watch.claim(item.id, now)
        try:
            response = self.client.api_call(item.method, json=args)
        except SlackApiError as exc:
            self._settled.add(item.id)
            error = str(exc.response.get("error", ""))
            status = int(exc.response.status_code)
            self._count(item.method, error or str(status))
            if status == 429:
                wait = float(exc.response.headers.get("Retry-After", 1) or 1)
                self.watch.retry_later(item.id, now + timedelta(seconds=wait), "ratelimited")
                # Back at one a second after Retry-After, not with a burst that asks for another.
                self._bucket[item.channel] = (0.0, now + timedelta(seconds=wait) - self.pace)
                self._settled.discard(item.id)
                return False
            if error in self.NOT_THERE and item.fallback_channel not in (None, item.channel):
                # Not invited where the user typed: tell the story where the bot always is.
                log.warning("outbox %s: %s in %s; moving it", item.id, error, item.channel)
                self.watch.reroute(item.id, str(item.fallback_channel))
                self._settled.discard(item.id)
                return False
            if status < 500 and error in self.PERMANENT:
                self._set_aside(item, now, error)
                self._settled.discard(item.id)
                return False
            # A 5xx may come after Slack posted it: the claim stays, to look before resending.
            self._backoff(item, now, error or f"HTTP {status}")
            return False
        except (SlackClientError, OSError) as exc:
            self._settled.add(item.id)
            self._count(item.method, "unreachable")
            self._backoff(item, now, exc.__class__.__name__)
            return False
        self._settled.add(item.id)
        self._count(item.method, "ok")
        ts = str(response.get("ts") or item.target_ts or "")
        self.watch.mark_sent(item.id, ts, now)
        self._settled.discard(item.id)
        return True

    def _set_aside(self, item: OutboxItem, now: datetime, error: str) -> None:
        log.error("outbox %s: Slack refused it for good (%s); set aside", item.id, error)
        self.watch.mark_sent(item.id, "", now)
        self.watch.retry_later(item.id, now, f"refused: {error}")

    def _backoff(self, item: OutboxItem, now: datetime, error: str) -> None:
        delay = min(self.max_backoff, 2.0 ** min(item.attempts, 10))
        log.warning("outbox %s: %s; retrying in %.0fs", item.id, error, delay)
        self.watch.retry_later(item.id, now + timedelta(seconds=delay), error, keep_claim=True)

    # ----- rows claimed but not recorded -----------------------------------------------------

    def _settle_claims(
        self, items: list[OutboxItem], claims: dict[int, datetime], now: datetime
    ) -> set[str]:
        """Record the claimed rows found in Slack; release the rest to be sent again. The
        channels whose claims cannot be judged yet are returned, to be held this pass."""
        held: set[str] = set()
        doubtful: list[OutboxItem] = []
        for item in items:
            claimed_at = claims.get(item.id)
            if claimed_at is None or item.channel in held:
                continue
            if item.next_attempt_at > now or (
                item.id not in self._settled and now - claimed_at < self.claim_grace
            ):
                held.add(item.channel)  # backing off, or being sent elsewhere right now
                continue
            doubtful.append(item)
        found: dict[int, str] = {}
        unreadable: set[str] = set()
        if self.recover_from_history:
            found, unreadable = self._find_in_slack(doubtful, claims)
            held |= unreadable
        for item in doubtful:
            if item.channel in unreadable:
                self._backoff(item, now, "history unreadable")  # the claim stays
                continue
            ts = found.get(item.id)
            if ts:
                log.info("outbox %s: already in Slack as %s; recorded, not sent again", item.id, ts)
                self.watch.mark_sent(item.id, ts, now)
            else:
                self.watch.release(item.id)
            self._settled.discard(item.id)
        return held

    def _find_in_slack(
        self, items: list[OutboxItem], claims: dict[int, datetime]
    ) -> tuple[dict[int, str], set[str]]:
        """The ts of each post found in its channel's (or thread's) recent history, read once per
        channel or thread; and the channels whose history could not be read just now."""
        places: dict[tuple[str, str | None], list[OutboxItem]] = {}
        for item in items:
            if item.method == "chat.postMessage":
                places.setdefault((item.channel, item.thread_ts), []).append(item)
        found: dict[int, str] = {}
        unreadable: set[str] = set()
        for (channel, thread_ts), group in places.items():
            if not self.recover_from_history:
                break  # refused (missing_scope): post again
            if channel in unreadable:
                continue
            oldest = min(claims[i.id] for i in group) - self.lookback
            wanted = {i.id for i in group}
            try:
                for message in self._history(channel, thread_ts, oldest):
                    row = row_of(message)
                    if row in wanted and row is not None:
                        found[row] = str(message.get("ts") or "")
            except _HistoryUnavailable:
                unreadable.add(channel)
        return found, unreadable

    def _history(
        self, channel: str, thread_ts: str | None, oldest: datetime, pages: int = 5
    ) -> Iterable[dict[str, Any]]:
        """Messages since `oldest`, with their metadata; gives up for good on missing_scope."""
        method = "conversations.replies" if thread_ts else "conversations.history"
        args: dict[str, Any] = {
            "channel": channel,
            "oldest": f"{oldest.timestamp():.6f}",
            "limit": 200,
            "include_all_metadata": True,
        }
        for _ in range(pages):
            try:
                if thread_ts:
                    response = self.client.conversations_replies(ts=thread_ts, **args)
                else:
                    response = self.client.conversations_history(**args)
            except SlackApiError as exc:
                self._history_refused(method, exc)
                return
            except (SlackClientError, OSError) as exc:
                self._count(method, "unreachable")
                log.warning("%s in %s: %s; will look again", method, channel, type(exc).__name__)
                raise _HistoryUnavailable from None
            self._count(method, "ok")
            yield from response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return
            args["cursor"] = cursor

    def _history_refused(self, method: str, exc: SlackApiError) -> None:
        error = str(exc.response.get("error", ""))
        self._count(method, error or str(exc.response.status_code))
        if exc.response.status_code == 429 or exc.response.status_code >= 500:
            raise _HistoryUnavailable from None
        if error == "missing_scope":
            self.recover_from_history = False
            log.warning(
                "slack.recover_from_history is on but the token lacks %s: posting again instead "
                "(at least once); add the scopes (docs/reliability.md) and reinstall the app",
                exc.response.get("needed", "the history scopes"),
            )
        else:  # not_in_channel, channel_not_found...: nothing to find there
            log.warning("%s: %s; posting again instead", method, error)


class _HistoryUnavailable(Exception):
    """History could not be read just now (rate limited, Slack down): look again later."""

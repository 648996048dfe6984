"""The outbox drainer: sends what the outbox holds, in order per channel, paced, and records what
Slack accepted only after it accepted it.

Every post carries Slack message metadata naming its row (`tpubot_outbox`, `{"row": id}`). A row
claimed but not recorded (a crash between Slack's answer and the commit, or a lost answer) is
looked for in the channel's recent history once, when the token may read it
(`recover_from_history`), and recorded instead of posted again; otherwise it is posted again.
"""

from __future__ import annotations

import enum
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.core.records import OutboxItem
from bot.runtime.metrics import Metrics
from bot.slack.blocks.notes import told_in_thread
from bot.slack.history import SentInHistory, outbox_metadata
from bot.slack.rows import OutboxRows

log = logging.getLogger(__name__)


class Sent(enum.Enum):
    """How one send ended, for the pass that made it."""

    OK = "ok"  # Slack took it
    HELD = "held"  # not now: later rows of its channel wait, to keep the order
    DONE = "done"  # not sent and never will be (set aside, moved): the channel goes on
    STOP = "stop"  # Slack refuses the token itself: nothing else can go this pass


# Slack errors that may pass (besides HTTP 429 and 5xx, and connection errors): its documented
# transient errors. Every other error is final for that message.
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# The token itself is refused: no message can go until it is fixed (a rotation, a reinstall), so
# none is set aside for it; the drainer pauses and retries with backoff, within the caps.
TOKEN_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)
NOT_THERE = frozenset({"not_in_channel", "channel_not_found"})


@dataclass(frozen=True)
class Caps:
    """When a row that keeps failing is given up on (set aside, logged, counted)."""

    max_attempts: int = 30
    max_age: timedelta = timedelta(hours=24)

    def exceeded(self, item: OutboxItem, now: datetime) -> str | None:
        if item.attempts >= self.max_attempts:
            return f"gave up after {item.attempts} attempts ({item.last_error or 'failed'})"
        if now - item.created_at > self.max_age:
            hours = self.max_age.total_seconds() / 3600
            return f"gave up: older than {hours:g} h ({item.last_error or 'not sent'})"
        return None


class OutboxDrainer:
    """Sends what the outbox holds, in order per channel, about one message a second per channel.

    Slack allows a channel one message a second "with short bursts": each channel has a bucket of
    `burst` sends that refills at one per `pace_seconds`, so the incidents one tick finds go out
    together while a long run of them still averages one a second.

    Only what can succeed later is retried: 429 waits for Retry-After; 5xx, connection errors and
    Slack's transient errors back off. Every other refusal sets the row aside at once (logged,
    counted), and so does a row past its attempt or age cap: nothing holds up a channel forever.
    Private notes are unordered: they never hold up their channel, nor wait behind it; one Slack
    refuses is told in its request's thread instead, with a mention, where it has one.
    """

    # The drain job's start time jitters by a few ms around its interval: without this slack, a
    # channel whose bucket is 0.99 full would wait one whole extra interval.
    JITTER = 0.1

    def __init__(
        self,
        client: WebClient,
        rows: OutboxRows,
        metrics: Metrics | None = None,
        pace_seconds: float = 1.0,
        burst: int = 3,
        max_backoff_seconds: float = 300.0,
        *,
        recover_from_history: bool = False,
        claim_grace_seconds: float = 30.0,
        lookback_seconds: float = 120.0,
        caps: Caps | None = None,
    ) -> None:
        self.client = client
        self.rows = rows
        self.metrics = metrics
        self.pace = timedelta(seconds=pace_seconds)
        self.max_backoff = max_backoff_seconds
        self.burst = max(1, burst)
        self.caps = caps or Caps()
        self._bucket: dict[str, tuple[float, datetime]] = {}  # channel -> (sends left, when)
        self._lock = threading.Lock()
        self.history = SentInHistory(
            client, self._count, recover_from_history, timedelta(seconds=lookback_seconds)
        )
        # A claim younger than this, not ours, may be a send in flight elsewhere (longer than
        # the client's timeout).
        self.claim_grace = timedelta(seconds=claim_grace_seconds)
        self._settled: set[int] = set()  # rows whose send this drainer saw end
        # While Slack refuses the token itself, nothing is sent until this time (then one try).
        self._paused_until: datetime | None = None
        self._token_refusals = 0

    def _count(self, method: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.slack_posts.labels(method=method, outcome=outcome).inc()

    def drain(self, now: datetime) -> int:
        """One pass; how many messages Slack accepted."""
        with self._lock:  # one drainer at a time per process: order per channel depends on it
            return self._drain(now)

    def _drain(self, now: datetime) -> int:
        if self._paused_until is not None and now < self._paused_until:
            return 0
        items = self.rows.pending(now)
        claims = self.rows.claims()
        held: set[str] = set()
        if any(item.id in claims for item in items):
            held = self._settle_claims(items, claims, now)
            items = self.rows.pending(now)
        sent = 0
        for item in items:
            if item.unordered:
                outcome = self._note(item, now)
            elif item.channel in held:
                continue
            else:
                outcome = self._next_in_channel(item, now)
                if outcome is Sent.HELD:
                    held.add(item.channel)  # later rows of this channel wait: order is kept
            sent += outcome is Sent.OK
            if outcome is Sent.STOP:
                break
        if self.metrics is not None:
            self.metrics.outbox_depth.set(self.rows.depth())
        return sent

    def _note(self, item: OutboxItem, now: datetime) -> Sent:
        """A private note: due ones only (pending() leaves out the rest), no channel pacing."""
        give_up = self.caps.exceeded(item, now)
        if give_up is not None:
            self._set_aside(item, now, give_up)
            return Sent.DONE
        return self._send(item, now)

    def _next_in_channel(self, item: OutboxItem, now: datetime) -> Sent:
        waiting_for_parent = not item.parent_lost and (
            (item.thread_outbox is not None and not item.thread_ts)
            or (item.method == "chat.update" and not item.target_ts)
        )
        if waiting_for_parent:
            return Sent.HELD
        if item.next_attempt_at > now:
            return Sent.HELD
        give_up = self.caps.exceeded(item, now)
        if give_up is not None:
            self._set_aside(item, now, give_up)
            return Sent.DONE
        if not self._may_send(item.channel, now):
            return Sent.HELD
        return self._send(item, now)

    def _level(self, channel: str, now: datetime) -> float:
        """Sends the channel's bucket holds now."""
        left, since = self._bucket.get(channel, (float(self.burst), now))
        return min(float(self.burst), left + (now - since) / self.pace)

    def _may_send(self, channel: str, now: datetime) -> bool:
        return self._level(channel, now) + self.JITTER >= 1

    def _args(self, item: OutboxItem) -> dict[str, Any]:
        if item.method == "views.publish":
            return dict(item.payload)  # user_id and view: a Home tab has no channel
        args: dict[str, Any] = {"channel": item.channel, **item.payload}
        if item.method == "chat.update":
            args["ts"] = item.target_ts
        elif item.method == "chat.postMessage":
            args["metadata"] = outbox_metadata(item.id)
        if item.thread_ts and item.method != "chat.update":
            args["thread_ts"] = item.thread_ts
        return args

    def _send(self, item: OutboxItem, now: datetime) -> Sent:
        if item.parent_lost and item.method == "chat.update":
            # The message to edit was never posted: nothing to edit, and nothing to wait for.
            self._set_aside(item, now, "the message it edits was never posted")
            return Sent.DONE
        if not item.unordered:
            self._bucket[item.channel] = (self._level(item.channel, now) - 1, now)
        self.rows.claim(item.id, now)
        try:
            response = self.client.api_call(item.method, json=self._args(item))
        except SlackApiError as exc:
            self._settled.add(item.id)
            outcome = self._refused(item, exc, now)
            if outcome is not Sent.HELD or int(exc.response.status_code) == 429:
                self._settled.discard(item.id)
            return outcome
        except (SlackClientError, OSError) as exc:
            self._settled.add(item.id)
            self._count(item.method, "unreachable")
            self._backoff(item, now, exc.__class__.__name__)
            return Sent.HELD
        self._settled.add(item.id)
        self._count(item.method, "ok")
        self._paused_until, self._token_refusals = None, 0
        ts = str(response.get("ts") or item.target_ts or "")
        self.rows.mark_sent(item.id, ts, now)
        self._settled.discard(item.id)
        return Sent.OK

    def _refused(self, item: OutboxItem, exc: SlackApiError, now: datetime) -> Sent:
        """Slack answered with an error: retry what may pass, set aside everything else."""
        error = str(exc.response.get("error", ""))
        status = int(exc.response.status_code)
        self._count(item.method, error or str(status))
        if status == 429:
            wait = float(exc.response.headers.get("Retry-After", 1) or 1)
            when = now + timedelta(seconds=wait)
            self.rows.retry_later(item.id, when, "ratelimited", counts=False)
            if not item.unordered:
                # Back at one a second after Retry-After, not with a burst that asks for another.
                self._bucket[item.channel] = (0.0, when - self.pace)
            return Sent.HELD
        if error in NOT_THERE and item.fallback_channel not in (None, item.channel):
            # Not invited where the user typed: tell the story where the bot always is.
            log.warning("outbox %s: %s in %s; moving it", item.id, error, item.channel)
            self.rows.reroute(item.id, str(item.fallback_channel))
            return Sent.DONE
        if error in TOKEN_REFUSED:
            self._token_refusals += 1
            pause = min(self.max_backoff, 2.0 ** min(self._token_refusals, 10))
            self._paused_until = now + timedelta(seconds=pause)
            log.error(
                "outbox: Slack refuses the bot token (%s); pausing the outbox for %.0fs",
                error,
                pause,
            )
            self.rows.retry_later(item.id, now, error, counts=False)
            return Sent.STOP
        if status >= 500 or error in TRANSIENT:
            # This may come after Slack posted it: the claim stays, to look before resending.
            self._backoff(item, now, error or f"HTTP {status}")
            return Sent.HELD
        self._set_aside(item, now, error or f"HTTP {status}")
        return Sent.DONE

    def _set_aside(self, item: OutboxItem, now: datetime, why: str) -> None:
        """Never to be sent: recorded with why, logged, counted; a private note's person is told
        in its request's thread instead, in the same transaction."""
        log.error("outbox %s (%s): set aside unsent: %s", item.id, item.method, why)
        if self.metrics is not None:
            reason = why.split(" ", 1)[0] if not why.startswith("gave up") else "gave up"
            self.metrics.outbox_set_aside.labels(method=item.method, reason=reason[:40]).inc()
        with self.rows.begin() as conn:
            self.rows.set_aside(item.id, now, why, conn=conn)
            person = str(item.payload.get("user") or "")
            thread = item.fallback_thread_outbox, item.fallback_thread_ts
            if item.unordered and person and item.fallback_channel and any(thread):
                self.rows.enqueue(
                    conn,
                    channel=item.fallback_channel,
                    payload=told_in_thread(item.payload, person, why),
                    now=now,
                    thread_outbox=item.fallback_thread_outbox,
                    thread_ts=item.fallback_thread_ts,
                )

    def _backoff(
        self, item: OutboxItem, now: datetime, error: str, keep_claim: bool = True
    ) -> None:
        delay = min(self.max_backoff, 2.0 ** min(item.attempts, 10))
        log.warning("outbox %s: %s; retrying in %.0fs", item.id, error, delay)
        self.rows.retry_later(item.id, now + timedelta(seconds=delay), error, keep_claim=keep_claim)

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
                if not item.unordered:
                    held.add(item.channel)  # backing off, or being sent elsewhere right now
                continue
            doubtful.append(item)
        found: dict[int, str] = {}
        unreadable: set[str] = set()
        if self.history.enabled:
            found, unreadable = self.history.find(doubtful, claims)
            held |= unreadable
        for item in doubtful:
            if item.channel in unreadable:
                self._backoff(item, now, "history unreadable")  # the claim stays
                continue
            ts = found.get(item.id)
            if ts:
                log.info("outbox %s: already in Slack as %s; recorded, not sent again", item.id, ts)
                self.rows.mark_sent(item.id, ts, now)
            else:
                self.rows.release(item.id)
            self._settled.discard(item.id)
        return held

"""Finding what the drainer already sent: every post carries Slack message metadata naming its
outbox row (`tpubot_outbox`, `{"row": id}`), and a row claimed but not recorded (a crash between
Slack's answer and the commit) is looked for in its channel's recent history, when the token may
read it (`slack.recover_from_history`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.core.records import OutboxItem

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


class SentInHistory:
    """Reads channels' (and threads') recent history for posts of given outbox rows; turns itself
    off for good when the token lacks the history scopes."""

    def __init__(
        self,
        client: WebClient,
        count: Callable[[str, str], None],
        enabled: bool,
        lookback: timedelta,
    ) -> None:
        self.client = client
        self.count = count  # (method, outcome): the drainer's Slack call metric
        self.enabled = enabled
        self.lookback = lookback

    def find(
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
            if not self.enabled:
                break  # refused (missing_scope): post again
            if channel in unreadable:
                continue
            oldest = min(claims[i.id] for i in group) - self.lookback
            wanted = {i.id for i in group}
            try:
                for message in self._read(channel, thread_ts, oldest):
                    row = row_of(message)
                    if row in wanted and row is not None:
                        found[row] = str(message.get("ts") or "")
            except _HistoryUnavailable:
                unreadable.add(channel)
        return found, unreadable

    def _read(
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
                self._refused(method, exc)
                return
            except (SlackClientError, OSError) as exc:
                self.count(method, "unreachable")
                log.warning("%s in %s: %s; will look again", method, channel, type(exc).__name__)
                raise _HistoryUnavailable from None
            self.count(method, "ok")
            yield from response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return
            args["cursor"] = cursor

    def _refused(self, method: str, exc: SlackApiError) -> None:
        error = str(exc.response.get("error", ""))
        self.count(method, error or str(exc.response.status_code))
        if exc.response.status_code == 429 or exc.response.status_code >= 500:
            raise _HistoryUnavailable from None
        if error == "missing_scope":
            self.enabled = False
            log.warning(
                "slack.recover_from_history is on but the token lacks %s: posting again instead "
                "(at least once); add the scopes (docs/reliability.md) and reinstall the app",
                exc.response.get("needed", "the history scopes"),
            )
        else:  # not_in_channel, channel_not_found...: nothing to find there
            log.warning("%s: %s; posting again instead", method, error)


class _HistoryUnavailable(Exception):
    """History could not be read just now (rate limited, Slack down): look again later."""

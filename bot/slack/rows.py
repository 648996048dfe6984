"""What the Slack side needs of the outbox's rows (bot.storage.outbox.OutboxStore is one): the
drainer and the Outbox port depend on this protocol, not on the store."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from bot.core.records import OutboxItem


class OutboxRows(Protocol):
    def begin(self) -> AbstractContextManager[Any]: ...
    def enqueue(
        self,
        conn: Any,
        *,
        channel: str,
        payload: Mapping[str, Any],
        now: datetime,
        method: str = "chat.postMessage",
        thread_outbox: int | None = None,
        thread_ts: str | None = None,
        target_outbox: int | None = None,
        target_ts: str | None = None,
        fallback_channel: str | None = None,
        fallback_thread_outbox: int | None = None,
        fallback_thread_ts: str | None = None,
    ) -> int: ...
    def pending(self, now: datetime, per_channel: int = 50) -> list[OutboxItem]: ...
    def claims(self) -> dict[int, datetime]: ...
    def claim(self, item_id: int, now: datetime) -> None: ...
    def release(self, item_id: int) -> None: ...
    def mark_sent(self, item_id: int, ts: str, now: datetime) -> None: ...
    def set_aside(self, item_id: int, now: datetime, why: str, conn: Any = None) -> None: ...
    def reroute(self, item_id: int, channel: str) -> None: ...
    def depth(self) -> int: ...
    def retry_later(
        self,
        item_id: int,
        when: datetime,
        error: str,
        *,
        keep_claim: bool = False,
        counts: bool = True,
    ) -> None: ...

"""The outbox's rows: Slack writes waiting to be sent, in order, with their threads and targets.

A row is claimed just before it is sent; a row claimed but never recorded as sent may be in Slack
already (the process died between Slack's answer and the commit, or the answer was lost).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.core.records import OutboxItem
from bot.storage.schema import outbox


class OutboxStore:
    """Enqueue inside the caller's transaction; the drainer reads, marks sent, or retries later."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # ----- outbox ----------------------------------------------------------------------------

    def enqueue(
        self,
        conn: Connection,
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
    ) -> int:
        result = conn.execute(
            sa.insert(outbox).values(
                channel=channel,
                method=method,
                payload=dict(payload),
                thread_outbox=thread_outbox,
                thread_ts=thread_ts,
                target_outbox=target_outbox,
                target_ts=target_ts,
                fallback_channel=fallback_channel,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
                last_error="",
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def pending(self, limit: int = 500) -> list[OutboxItem]:
        """Unsent rows in order, with thread/target ts filled in from rows already sent."""
        thread = outbox.alias("thread_row")
        target = outbox.alias("target_row")
        query = (
            sa.select(
                outbox,
                thread.c.ts.label("thread_row_ts"),
                thread.c.sent_at.label("thread_row_sent"),
                thread.c.channel.label("thread_row_channel"),
                target.c.ts.label("target_row_ts"),
                target.c.sent_at.label("target_row_sent"),
                target.c.channel.label("target_row_channel"),
            )
            .select_from(
                outbox.outerjoin(thread, thread.c.id == outbox.c.thread_outbox).outerjoin(
                    target, target.c.id == outbox.c.target_outbox
                )
            )
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self.begin() as conn:
            rows = conn.execute(query).all()
        items = []
        for r in rows:
            data = {c.name: getattr(r, c.name) for c in outbox.c if c.name != "claimed_at"}
            data["thread_ts"] = data["thread_ts"] or r.thread_row_ts
            data["target_ts"] = data["target_ts"] or r.target_row_ts
            # A reply or an edit follows its message wherever it went (a fallback channel)...
            data["channel"] = r.thread_row_channel or r.target_row_channel or data["channel"]
            # ...and knows when that message was set aside: there is no ts to wait for.
            data["parent_lost"] = bool(
                (r.thread_row_sent is not None and not r.thread_row_ts)
                or (r.target_row_sent is not None and not r.target_row_ts)
            )
            items.append(OutboxItem(**data))
        return items

    def mark_sent(self, item_id: int, ts: str, now: datetime) -> None:
        with self.begin() as conn:
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == item_id, outbox.c.sent_at.is_(None))
                .values(sent_at=now, ts=ts)
            )

    def retry_later(
        self, item_id: int, when: datetime, error: str, *, keep_claim: bool = False
    ) -> None:
        """Try again at `when`; `keep_claim` when the send may have reached Slack all the same."""
        values: dict[str, Any] = {
            "next_attempt_at": when,
            "attempts": outbox.c.attempts + 1,
            "last_error": error,
        }
        if not keep_claim:
            values["claimed_at"] = None
        with self.begin() as conn:
            conn.execute(sa.update(outbox).where(outbox.c.id == item_id).values(**values))

    def reroute(self, item_id: int, channel: str) -> None:
        """Send the row to `channel` instead (its replies and edits follow it there)."""
        with self.begin() as conn:
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == item_id)
                .values(channel=channel, fallback_channel=None, claimed_at=None)
            )

    def claim(self, item_id: int, now: datetime) -> None:
        """Mark the row as being sent, just before sending it."""
        with self.begin() as conn:
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == item_id, outbox.c.sent_at.is_(None))
                .values(claimed_at=now)
            )

    def release(self, item_id: int) -> None:
        """The row was looked for and is not in Slack: it is unclaimed, to be sent again."""
        with self.begin() as conn:
            conn.execute(sa.update(outbox).where(outbox.c.id == item_id).values(claimed_at=None))

    def claims(self) -> dict[int, datetime]:
        """Rows claimed but not recorded as sent, and when they were claimed."""
        query = sa.select(outbox.c.id, outbox.c.claimed_at).where(
            outbox.c.sent_at.is_(None), outbox.c.claimed_at.is_not(None)
        )
        with self.begin() as conn:
            return {int(r.id): r.claimed_at for r in conn.execute(query).all()}

    def sent_ts(self, item_id: int) -> str | None:
        with self.begin() as conn:
            return conn.execute(sa.select(outbox.c.ts).where(outbox.c.id == item_id)).scalar()

    def depth(self) -> int:
        with self.begin() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(outbox.c.sent_at.is_(None))
                ).scalar_one()
            )

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
from bot.storage.schema import approvals, digests, incidents, operations, outbox, within

EPHEMERAL = "chat.postEphemeral"


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
        fallback_thread_outbox: int | None = None,
        fallback_thread_ts: str | None = None,
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
                fallback_thread_outbox=fallback_thread_outbox,
                fallback_thread_ts=fallback_thread_ts,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
                last_error="",
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def pending(self, now: datetime, per_channel: int = 50) -> list[OutboxItem]:
        """Unsent rows in order, with thread/target ts filled in from rows already sent.

        Each channel's first `per_channel` rows (where a reply or an edit goes with its parent),
        and each channel's due private notes apart: a channel stuck behind a row being retried
        never hides another channel's rows, and notes never wait behind messages."""
        thread = outbox.alias("thread_row")
        target = outbox.alias("target_row")
        where = sa.func.coalesce(thread.c.channel, target.c.channel, outbox.c.channel)
        note = outbox.c.method == EPHEMERAL
        rank = (
            sa.func.row_number()
            .over(partition_by=(where, note), order_by=outbox.c.id)
            .label("rank_in_channel")
        )
        inner = (
            sa.select(
                outbox,
                thread.c.ts.label("thread_row_ts"),
                thread.c.sent_at.label("thread_row_sent"),
                thread.c.channel.label("thread_row_channel"),
                target.c.ts.label("target_row_ts"),
                target.c.sent_at.label("target_row_sent"),
                target.c.channel.label("target_row_channel"),
                rank,
            )
            .select_from(
                outbox.outerjoin(thread, thread.c.id == outbox.c.thread_outbox).outerjoin(
                    target, target.c.id == outbox.c.target_outbox
                )
            )
            .where(outbox.c.sent_at.is_(None), sa.or_(~note, outbox.c.next_attempt_at <= now))
            .subquery()
        )
        query = sa.select(inner).where(inner.c.rank_in_channel <= per_channel).order_by(inner.c.id)
        with self.begin() as conn:
            rows = conn.execute(query).all()
        return [self._item(r) for r in rows]

    @staticmethod
    def _item(r: Any) -> OutboxItem:
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
        return OutboxItem(**data)

    def mark_sent(self, item_id: int, ts: str, now: datetime) -> None:
        with self.begin() as conn:
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == item_id, outbox.c.sent_at.is_(None))
                .values(sent_at=now, ts=ts)
            )

    def retry_later(
        self,
        item_id: int,
        when: datetime,
        error: str,
        *,
        keep_claim: bool = False,
        counts: bool = True,
    ) -> None:
        """Try again at `when`; `keep_claim` when the send may have reached Slack all the same;
        `counts` toward the row's attempt cap (a rate limit's wait does not)."""
        values: dict[str, Any] = {
            "next_attempt_at": when,
            "attempts": outbox.c.attempts + (1 if counts else 0),
            "last_error": error,
        }
        if not keep_claim:
            values["claimed_at"] = None
        with self.begin() as conn:
            conn.execute(sa.update(outbox).where(outbox.c.id == item_id).values(**values))

    def set_aside(
        self, item_id: int, now: datetime, why: str, conn: Connection | None = None
    ) -> None:
        """Slack will never take this row: record it as done, unsent (no ts), with why."""
        with within(self.engine, conn) as c:
            c.execute(
                sa.update(outbox)
                .where(outbox.c.id == item_id, outbox.c.sent_at.is_(None))
                .values(sent_at=now, ts="", claimed_at=None, last_error=why[:2000])
            )

    def prune(self, before: datetime) -> int:
        """Delete rows done (sent or set aside) before `before`, except those something still
        points at: a root that an incident, digest, request or operation replies to or edits,
        and the parent of a row not sent yet. How many went."""
        waiting = outbox.alias("waiting")
        kept = sa.union(
            sa.select(incidents.c.root_outbox.label("id")),
            sa.select(digests.c.root_outbox),
            sa.select(approvals.c.root_outbox),
            sa.select(operations.c.thread_outbox),
            sa.select(operations.c.message_outbox),
            sa.select(waiting.c.thread_outbox).where(waiting.c.sent_at.is_(None)),
            sa.select(waiting.c.target_outbox).where(waiting.c.sent_at.is_(None)),
            sa.select(waiting.c.fallback_thread_outbox).where(waiting.c.sent_at.is_(None)),
        ).subquery()
        referenced = sa.select(kept.c.id).where(kept.c.id.is_not(None))
        with self.begin() as conn:
            result = conn.execute(
                sa.delete(outbox).where(
                    outbox.c.sent_at.is_not(None),
                    outbox.c.sent_at < before,
                    outbox.c.id.not_in(referenced),
                )
            )
        return int(result.rowcount or 0)

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

"""Idle notices in the store: one root per route and sweep, and the TPUs each names until they
are busy again, stopped, gone or kept."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.core.records import IdleMember
from bot.storage.schema import idle_members, idle_notices, within


class IdleStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_notice(
        self,
        conn: Connection,
        notice_id: str,
        channel: str,
        now: datetime,
        members: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """A notice in `channel` naming `members` (TPU name -> what it says of it)."""
        conn.execute(
            sa.insert(idle_notices).values(
                id=notice_id, channel=channel, opened_at=now, status="open"
            )
        )
        conn.execute(
            sa.insert(idle_members),
            [
                {"notice_id": notice_id, "tpu": tpu, "since": now, "shown": dict(shown)}
                for tpu, shown in members.items()
            ],
        )

    def set_root(self, conn: Connection, notice_id: str, outbox_id: int) -> None:
        conn.execute(
            sa.update(idle_notices)
            .where(idle_notices.c.id == notice_id)
            .values(root_outbox=outbox_id)
        )

    def members(
        self,
        *,
        notice_id: str | None = None,
        unsettled: bool = False,
        conn: Connection | None = None,
    ) -> list[IdleMember]:
        """Members of open notices (or of one notice), optionally only those still idle."""
        query = sa.select(
            idle_members, idle_notices.c.channel, idle_notices.c.root_outbox
        ).select_from(
            idle_members.join(idle_notices, idle_notices.c.id == idle_members.c.notice_id)
        )
        if notice_id is not None:
            query = query.where(idle_members.c.notice_id == notice_id)
        else:
            query = query.where(idle_notices.c.status == "open")
        if unsettled:
            query = query.where(idle_members.c.settled_at.is_(None))
        with within(self.engine, conn) as c:
            rows = c.execute(query.order_by(idle_members.c.id)).all()
        return [
            IdleMember(
                notice_id=r.notice_id,
                tpu=r.tpu,
                since=r.since,
                shown=r.shown,
                channel=r.channel,
                root_outbox=r.root_outbox,
                settled_at=r.settled_at,
                settled=r.settled,
            )
            for r in rows
        ]

    def settle(self, conn: Connection, notice_id: str, tpu: str, why: str, now: datetime) -> bool:
        """Mark a member no longer idle (once); True if this call did."""
        result = conn.execute(
            sa.update(idle_members)
            .where(
                idle_members.c.notice_id == notice_id,
                idle_members.c.tpu == tpu,
                idle_members.c.settled_at.is_(None),
            )
            .values(settled_at=now, settled=why[:500])
        )
        return bool(result.rowcount)

    def resolve(self, conn: Connection, notice_id: str, now: datetime) -> bool:
        """Close a notice whose every member is settled; True if this call did."""
        result = conn.execute(
            sa.update(idle_notices)
            .where(idle_notices.c.id == notice_id, idle_notices.c.status == "open")
            .values(status="resolved", resolved_at=now)
        )
        return bool(result.rowcount)

"""Durable state on SQLAlchemy Core: SQLite by default, PostgreSQL when several replicas share it.

Every state change that races (two approvers, two replicas) is a compare-and-set UPDATE whose
rowcount says who won.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.core.liveness import Heartbeat
from bot.core.records import AuditEntry, TrackedOperation
from bot.storage.approvals import ApprovalRows
from bot.storage.schema import (
    MIGRATIONS,
    audit,
    leases,
    make_engine,
    normalize_url,
    operations,
    schema_version,
    within,
)
from bot.storage.schema import metadata as schema_metadata


class Store(ApprovalRows):
    """The bot's durable state. Thread-safe: each call uses its own pooled connection."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(url)
        self.migrate()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def migrate(self) -> None:
        """Create or upgrade the schema; safe when several replicas start at once."""
        with self._tx() as conn:
            if self.is_postgres:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(727001)"))
            schema_metadata.create_all(conn, tables=[schema_version], checkfirst=True)
            current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
            version = int(current or 0)
            for step in MIGRATIONS[version:]:
                step(conn)
            if version < len(MIGRATIONS):
                conn.execute(sa.delete(schema_version))
                conn.execute(sa.insert(schema_version).values(version=len(MIGRATIONS)))

    def schema_version(self) -> int:
        with self._tx() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0)

    def ping(self) -> None:
        with self._tx() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    # ----- operations ------------------------------------------------------------------------

    def add_operation(self, op: TrackedOperation, conn: Connection | None = None) -> None:
        row = {col.name: getattr(op, col.name) for col in operations.c}
        with within(self.engine, conn) as c:
            c.execute(sa.insert(operations).values(**row))

    @staticmethod
    def _operation(row: Any) -> TrackedOperation:
        return TrackedOperation(**dict(row._mapping))

    def get_operation(self, name: str, conn: Connection | None = None) -> TrackedOperation | None:
        with within(self.engine, conn) as c:
            row = c.execute(sa.select(operations).where(operations.c.name == name)).first()
        return self._operation(row) if row else None

    def open_operations(self) -> list[TrackedOperation]:
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(operations)
                .where(operations.c.done.is_(False))
                .order_by(operations.c.created_at)
            ).all()
        return [self._operation(r) for r in rows]

    def operations_for(self, target: str, limit: int = 10) -> list[TrackedOperation]:
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(operations)
                .where(operations.c.target == target)
                .order_by(operations.c.created_at.desc())
                .limit(limit)
            ).all()
        return [self._operation(r) for r in rows]

    def operation_targets_since(self, since: datetime) -> set[str]:
        """Nodes with an operation of the bot's open, or ended after `since`."""
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(operations.c.target).where(
                    sa.or_(operations.c.done.is_(False), operations.c.ended_at >= since)
                )
            ).all()
        return {r.target for r in rows}

    def update_operation(self, name: str, conn: Connection | None = None, **values: Any) -> None:
        statement = sa.update(operations).where(operations.c.name == name).values(**values)
        with within(self.engine, conn) as c:
            c.execute(statement)

    def finish_operation(
        self,
        name: str,
        *,
        ended_at: datetime,
        error_code: int | None,
        error_message: str,
        conn: Connection | None = None,
    ) -> bool:
        """Compare-and-set open -> done; False when another caller finished it first."""
        statement = (
            sa.update(operations)
            .where(operations.c.name == name, operations.c.done.is_(False))
            .values(
                done=True, ended_at=ended_at, error_code=error_code, error_message=error_message
            )
        )
        with within(self.engine, conn) as c:
            return c.execute(statement).rowcount == 1

    # ----- leader lease ----------------------------------------------------------------------

    def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the lease if it is ours or has expired: one conditional UPDATE, which
        the database serializes (a row lock on PostgreSQL), so two replicas never both win."""
        with self._tx() as conn:
            result = conn.execute(
                sa.update(leases)
                .where(
                    leases.c.name == name,
                    sa.or_(leases.c.holder == holder, leases.c.expires_at <= now),
                )
                .values(holder=holder, expires_at=now + ttl)
            )
            return result.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        with self._tx() as conn:
            conn.execute(
                sa.update(leases)
                .where(leases.c.name == name, leases.c.holder == holder)
                .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC))
            )

    def beat(self, replica: str, boot: str, now: datetime, ttl: timedelta) -> str | None:
        """This replica's heartbeat (a row of the leases table, `replica:NAME`, held by its
        boot). Returns the boot it replaced when that one was still beating: another live
        process with the same replica name, or this replica's previous boot just killed."""
        name = f"replica:{replica}"
        with self._tx() as conn:
            row = conn.execute(sa.select(leases).where(leases.c.name == name)).first()
            if row is None:
                conn.execute(sa.insert(leases).values(name=name, holder=boot, expires_at=now + ttl))
                return None
            conn.execute(
                sa.update(leases)
                .where(leases.c.name == name)
                .values(holder=boot, expires_at=now + ttl)
            )
        fresh_other = row.holder != boot and row.expires_at > now
        return str(row.holder) if fresh_other else None

    def heartbeat(self, replica: str) -> Heartbeat | None:
        with self._tx() as conn:
            row = conn.execute(
                sa.select(leases).where(leases.c.name == f"replica:{replica}")
            ).first()
        return Heartbeat(row.holder, row.expires_at) if row is not None else None

    def lease_holder(self, name: str, now: datetime) -> str | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(leases).where(leases.c.name == name)).first()
        return row.holder if row is not None and row.expires_at > now else None

    # ----- audit -----------------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> None:
        with self._tx() as conn:
            conn.execute(
                sa.insert(audit).values(
                    at=entry.at,
                    user=entry.user,
                    action=entry.action,
                    target=entry.target,
                    outcome=entry.outcome,
                    detail=entry.detail[:4000],
                )
            )

    def prune_audit(self, before: datetime) -> int:
        """Delete audit entries older than `before`; how many went."""
        with self._tx() as conn:
            result = conn.execute(sa.delete(audit).where(audit.c.at < before))
        return int(result.rowcount or 0)

    def latest_audit(self, limit: int = 20) -> list[AuditEntry]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(audit).order_by(audit.c.id.desc()).limit(limit)).all()
        return [
            AuditEntry(
                at=r.at,
                user=r.user,
                action=r.action,
                target=r.target,
                outcome=r.outcome,
                detail=r.detail,
            )
            for r in rows
        ]

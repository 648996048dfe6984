"""Durable state on SQLAlchemy Core: SQLite by default, PostgreSQL when several replicas share it.

Every state change that races (two approvers, two replicas) is a compare-and-set UPDATE whose
rowcount says who won.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.models import Approval, ApprovalStatus, AuditEntry, TrackedOperation


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version", metadata, sa.Column("version", sa.Integer, nullable=False)
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(512), nullable=False),
    sa.Column("requester", sa.String(64), nullable=False),
    sa.Column("requester_channel", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("node_state", sa.String(32), nullable=False, default=""),
    sa.Column("node_create_time", UTCDateTime, nullable=True),
    sa.Column("node_version", sa.String(64), nullable=False, default=""),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False, default=""),
    sa.Column("message_ts", sa.String(32), nullable=False, default=""),
    sa.Column("decided_by", sa.String(64), nullable=False, default=""),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("outcome", sa.Text, nullable=False, default=""),
    sa.Column("operation", sa.String(512), nullable=False, default=""),
)

operations = sa.Table(
    "operations",
    metadata,
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("target", sa.String(512), nullable=False, index=True),
    sa.Column("verb", sa.String(32), nullable=False),
    sa.Column("requester", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("thread_ts", sa.String(32), nullable=False),
    sa.Column("message_ts", sa.String(32), nullable=False, default=""),
    sa.Column("approval_id", sa.String(64), nullable=False, default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False, default=False, index=True),
    sa.Column("error_code", sa.Integer, nullable=True),
    sa.Column("error_message", sa.Text, nullable=False, default=""),
    sa.Column("warned", sa.Boolean, nullable=False, default=False),
    sa.Column("ended_at", UTCDateTime, nullable=True),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("user", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(512), nullable=False),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default=""),
)

# Each step brings the schema from version i to i + 1; never edit a released step.
MIGRATIONS: list[Callable[[Connection], None]] = [
    lambda conn: metadata.create_all(conn, tables=[approvals, operations, audit], checkfirst=True),
]


def normalize_url(url: str) -> str:
    """`postgresql://` means the psycopg (3) driver, which is what we install."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets readers run beside the one writer; the scheduler and listeners overlap.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Store:
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
            metadata.create_all(conn, tables=[schema_version], checkfirst=True)
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

    # ----- approvals -------------------------------------------------------------------------

    def add_approval(self, approval: Approval) -> None:
        row = {col.name: getattr(approval, col.name) for col in approvals.c}
        row["status"] = approval.status.value
        row["params"] = dict(approval.params)
        with self._tx() as conn:
            conn.execute(sa.insert(approvals).values(**row))

    @staticmethod
    def _approval(row: Any) -> Approval:
        data = dict(row._mapping)
        data["status"] = ApprovalStatus(data["status"])
        return Approval(**data)

    def get_approval(self, approval_id: str) -> Approval | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(approvals).where(approvals.c.id == approval_id)).first()
        return self._approval(row) if row else None

    def set_approval_message(self, approval_id: str, channel: str, ts: str) -> None:
        with self._tx() as conn:
            conn.execute(
                sa.update(approvals)
                .where(approvals.c.id == approval_id)
                .values(channel=channel, message_ts=ts)
            )

    def transition_approval(
        self,
        approval_id: str,
        *,
        from_status: ApprovalStatus,
        to_status: ApprovalStatus,
        now: datetime,
        user: str | None = None,
        outcome: str | None = None,
        operation: str | None = None,
        unexpired: bool = False,
    ) -> Approval | None:
        """Compare-and-set: the updated approval if it was `from_status`, else None (lost race)."""
        values: dict[str, Any] = {"status": to_status.value}
        if user is not None:
            values.update(decided_by=user, decided_at=now)
        if outcome is not None:
            values["outcome"] = outcome
        if operation is not None:
            values["operation"] = operation
        condition = sa.and_(approvals.c.id == approval_id, approvals.c.status == from_status.value)
        if unexpired:
            condition = sa.and_(condition, approvals.c.expires_at > now)
        with self._tx() as conn:
            result = conn.execute(sa.update(approvals).where(condition).values(**values))
            if result.rowcount != 1:
                return None
            row = conn.execute(sa.select(approvals).where(approvals.c.id == approval_id)).one()
        return self._approval(row)

    def expired_approvals(self, now: datetime) -> list[Approval]:
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(approvals)
                .where(approvals.c.status == ApprovalStatus.PENDING.value)
                .where(approvals.c.expires_at <= now)
                .order_by(approvals.c.expires_at)
            ).all()
        return [self._approval(r) for r in rows]

    def count_approvals(self, status: ApprovalStatus) -> int:
        with self._tx() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(approvals.c.status == status.value)
                ).scalar_one()
            )

    # ----- operations ------------------------------------------------------------------------

    def add_operation(self, op: TrackedOperation) -> None:
        row = {col.name: getattr(op, col.name) for col in operations.c}
        with self._tx() as conn:
            conn.execute(sa.insert(operations).values(**row))

    @staticmethod
    def _operation(row: Any) -> TrackedOperation:
        return TrackedOperation(**dict(row._mapping))

    def get_operation(self, name: str) -> TrackedOperation | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(operations).where(operations.c.name == name)).first()
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

    def update_operation(self, name: str, **values: Any) -> None:
        with self._tx() as conn:
            conn.execute(sa.update(operations).where(operations.c.name == name).values(**values))

    def finish_operation(
        self, name: str, *, ended_at: datetime, error_code: int | None, error_message: str
    ) -> TrackedOperation | None:
        """Compare-and-set open -> done; None when another caller finished it first."""
        with self._tx() as conn:
            result = conn.execute(
                sa.update(operations)
                .where(operations.c.name == name, operations.c.done.is_(False))
                .values(
                    done=True,
                    ended_at=ended_at,
                    error_code=error_code,
                    error_message=error_message,
                )
            )
            if result.rowcount != 1:
                return None
            row = conn.execute(sa.select(operations).where(operations.c.name == name)).one()
        return self._operation(row)

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

"""Durable state on SQLAlchemy Core: SQLite by default, PostgreSQL when several replicas share it.

Every state change that races (two approvers, two replicas) is a compare-and-set UPDATE whose
rowcount says who won.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.core.models import (
    Approval,
    ApprovalStatus,
    AuditEntry,
    Incident,
    OutboxItem,
    TrackedOperation,
)
from bot.core.watching.diff import Snapshot


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

snapshots = sa.Table(
    "node_snapshots",
    metadata,
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("project", sa.String(128), nullable=False, index=True),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("health", sa.String(32), nullable=False),
    sa.Column("accelerator_type", sa.String(32), nullable=False, default=""),
    sa.Column("symptoms", sa.JSON, nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("node", sa.String(512), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default=""),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("root_outbox", sa.Integer, nullable=True),
    sa.Column("digest_id", sa.String(64), nullable=True),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("last_event_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("acked_by", sa.String(64), nullable=False, default=""),
    sa.Column("muted_until", UTCDateTime, nullable=True),
    sa.Column("flapping", sa.Boolean, nullable=False, default=False),
    sa.Column("accelerator_type", sa.String(32), nullable=False, default=""),
)

digests = sa.Table(
    "digests",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("project", sa.String(128), nullable=False),
    sa.Column("zone", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("root_outbox", sa.Integer, nullable=True),
    sa.Column("opened_at", UTCDateTime, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(64), nullable=False, index=True),
    sa.Column("method", sa.String(32), nullable=False),  # chat.postMessage or chat.update
    sa.Column("payload", sa.JSON, nullable=False),  # rendered text and blocks
    sa.Column("thread_outbox", sa.Integer, nullable=True),  # a reply to that row's message
    sa.Column("thread_ts", sa.String(32), nullable=True),
    sa.Column("target_outbox", sa.Integer, nullable=True),  # an edit of that row's message
    sa.Column("target_ts", sa.String(32), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("sent_at", UTCDateTime, nullable=True, index=True),
    sa.Column("ts", sa.String(32), nullable=True),
    sa.Column("last_error", sa.Text, nullable=False, default=""),
)

watch_state = sa.Table(
    "watch_state",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)


def _create_leases(conn: Connection) -> None:
    metadata.create_all(conn, tables=[leases], checkfirst=True)
    # The row exists from the start, so taking the lease is always a single conditional UPDATE.
    conn.execute(
        sa.insert(leases).values(
            name="scheduler", holder="", expires_at=datetime(1970, 1, 1, tzinfo=UTC)
        )
    )


# Each step brings the schema from version i to i + 1; never edit a released step.
MIGRATIONS: list[Callable[[Connection], None]] = [
    lambda conn: metadata.create_all(conn, tables=[approvals, operations, audit], checkfirst=True),
    lambda conn: metadata.create_all(
        conn, tables=[snapshots, incidents, digests, outbox, watch_state], checkfirst=True
    ),
    _create_leases,
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


@contextmanager
def _within(engine: Engine, conn: Connection | None) -> Iterator[Connection]:
    """The caller's transaction when given one (so its writes commit together), else our own."""
    if conn is not None:
        yield conn
        return
    with engine.begin() as own:
        yield own


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

    def add_operation(self, op: TrackedOperation, conn: Connection | None = None) -> None:
        row = {col.name: getattr(op, col.name) for col in operations.c}
        with _within(self.engine, conn) as c:
            c.execute(sa.insert(operations).values(**row))

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
        with _within(self.engine, conn) as c:
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
        with _within(self.engine, conn) as c:
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


class WatchStore:
    """The watcher's state: snapshots, incidents, digests, the outbox. Shares the Store's engine."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # ----- snapshots -------------------------------------------------------------------------

    def load_snapshots(self) -> dict[str, Snapshot]:
        with self.begin() as conn:
            rows = conn.execute(sa.select(snapshots)).all()
        return {
            r.name: Snapshot(
                name=r.name,
                state=r.state,
                health=r.health,
                accelerator_type=r.accelerator_type,
                symptoms=frozenset(tuple(s) for s in r.symptoms),
                labels=tuple(tuple(kv) for kv in r.labels),
            )
            for r in rows
        }

    def save_snapshots(
        self, conn: Connection, changed: Iterable[Snapshot], removed: Iterable[str]
    ) -> None:
        names = list(removed)
        if names:
            conn.execute(sa.delete(snapshots).where(snapshots.c.name.in_(names)))
        rows = [
            {
                "name": s.name,
                "project": s.project,
                "state": s.state,
                "health": s.health,
                "accelerator_type": s.accelerator_type,
                "symptoms": sorted(list(x) for x in s.symptoms),
                "labels": [list(kv) for kv in s.labels],
            }
            for s in changed
        ]
        if rows:
            conn.execute(
                sa.delete(snapshots).where(snapshots.c.name.in_([r["name"] for r in rows]))
            )
            conn.execute(sa.insert(snapshots), rows)

    # ----- incidents -------------------------------------------------------------------------

    @staticmethod
    def _incident(row: Any) -> Incident:
        return Incident(**dict(row._mapping))

    def open_incidents(self) -> dict[str, Incident]:
        with self.begin() as conn:
            rows = conn.execute(sa.select(incidents).where(incidents.c.status == "open")).all()
        return {r.node: self._incident(r) for r in rows}

    def incident(self, incident_id: str) -> Incident | None:
        with self.begin() as conn:
            row = conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).first()
        return self._incident(row) if row else None

    def incidents_of_digest(self, digest_id: str) -> list[Incident]:
        with self.begin() as conn:
            rows = conn.execute(
                sa.select(incidents)
                .where(incidents.c.digest_id == digest_id)
                .order_by(incidents.c.node)
            ).all()
        return [self._incident(r) for r in rows]

    def recent_opens(self, since: datetime) -> dict[str, int]:
        """How many incidents each node opened since `since` (for flapping)."""
        with self.begin() as conn:
            rows = conn.execute(
                sa.select(incidents.c.node, sa.func.count())
                .where(incidents.c.opened_at >= since)
                .group_by(incidents.c.node)
            ).all()
        return {node: int(count) for node, count in rows}

    def add_incident(self, conn: Connection, incident: Incident) -> None:
        conn.execute(sa.insert(incidents).values(**incident.__dict__))

    def update_incident(self, conn: Connection | None, incident_id: str, **values: Any) -> None:
        statement = sa.update(incidents).where(incidents.c.id == incident_id).values(**values)
        with _within(self.engine, conn) as c:
            c.execute(statement)

    def add_digest(self, conn: Connection, **values: Any) -> None:
        conn.execute(sa.insert(digests).values(**values))

    def digest(self, digest_id: str) -> Any:
        with self.begin() as conn:
            return conn.execute(sa.select(digests).where(digests.c.id == digest_id)).first()

    def set_root(self, conn: Connection, table: str, row_id: str, outbox_id: int) -> None:
        target = incidents if table == "incidents" else digests
        conn.execute(sa.update(target).where(target.c.id == row_id).values(root_outbox=outbox_id))

    def count_open(self) -> int:
        with self.begin() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(incidents.c.status == "open")
                ).scalar_one()
            )

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
                target.c.ts.label("target_row_ts"),
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
            data = {c.name: getattr(r, c.name) for c in outbox.c}
            data["thread_ts"] = data["thread_ts"] or r.thread_row_ts
            data["target_ts"] = data["target_ts"] or r.target_row_ts
            items.append(OutboxItem(**data))
        return items

    def mark_sent(self, item_id: int, ts: str, now: datetime) -> None:
        with self.begin() as conn:
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == item_id, outbox.c.sent_at.is_(None))
                .values(sent_at=now, ts=ts)
            )

    def retry_later(self, item_id: int, when: datetime, error: str) -> None:
        with self.begin() as conn:
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == item_id)
                .values(next_attempt_at=when, attempts=outbox.c.attempts + 1, last_error=error)
            )

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

    # ----- small persistent values -----------------------------------------------------------

    def get(self, key: str, default: str = "") -> str:
        with self.begin() as conn:
            value = conn.execute(
                sa.select(watch_state.c.value).where(watch_state.c.key == key)
            ).scalar()
        return default if value is None else str(value)

    def put(self, conn: Connection | None, key: str, value: str) -> None:
        with _within(self.engine, conn) as c:
            c.execute(sa.delete(watch_state).where(watch_state.c.key == key))
            c.execute(sa.insert(watch_state).values(key=key, value=value))

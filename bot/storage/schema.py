"""The schema: tables, the migrations that build them, and the engine (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


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
    # Added by migration 4 (the approval state machine).
    sa.Column("root_outbox", sa.Integer, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("attempt_at", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=False, default="", server_default=""),
    # Added by migration 5: which replica (and which boot of it) claimed the running attempt, so
    # an attempt whose owner is known dead is taken over at once.
    sa.Column("attempt_owner", sa.String(200), nullable=False, default="", server_default=""),
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
    # Added by migration 4: threads whose root is still in the outbox.
    sa.Column("thread_outbox", sa.Integer, nullable=True),
    sa.Column("message_outbox", sa.Integer, nullable=True),
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
    # Added by migration 4: the announced maintenance window, in words.
    sa.Column("maintenance", sa.Text, nullable=False, default="", server_default=""),
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
    # Added by migration 4: the node's state as the last tick saw it.
    sa.Column("latest", sa.Text, nullable=False, default="", server_default=""),
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
    # Added by migration 4: a digest resolves, and is acknowledged or muted, as a whole.
    sa.Column("status", sa.String(16), nullable=False, default="open", server_default="open"),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("acked_by", sa.String(64), nullable=False, default="", server_default=""),
    sa.Column("muted_until", UTCDateTime, nullable=True),
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
    # Added by migration 4. Set just before a send and cleared by a refusal: claimed but not
    # sent means the send may have reached Slack (a crash or a lost answer); the drainer then
    # looks before sending again.
    sa.Column("claimed_at", UTCDateTime, nullable=True),
    # Added by migration 4: where a post goes when the bot is not in its channel.
    sa.Column("fallback_channel", sa.String(64), nullable=True),
    # Added by migration 5: for a private note (an ephemeral), the thread where its person is
    # told instead, with a mention, if Slack refuses the note for good (they left the channel).
    sa.Column("fallback_thread_outbox", sa.Integer, nullable=True),
    sa.Column("fallback_thread_ts", sa.String(32), nullable=True),
)

watch_state = sa.Table(
    "watch_state",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    # Added by migration 5: when the value was written (long listing queries expire by it).
    sa.Column("updated_at", UTCDateTime, nullable=True),
)

# Added by migration 6: idle notices (one root per route and sweep) and the TPUs they name.
idle_notices = sa.Table(
    "idle_notices",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("root_outbox", sa.Integer, nullable=True),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
)

idle_members = sa.Table(
    "idle_members",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("notice_id", sa.String(64), nullable=False, index=True),
    sa.Column("tpu", sa.String(512), nullable=False, index=True),
    sa.Column("since", UTCDateTime, nullable=False),
    sa.Column("shown", sa.JSON, nullable=False),  # what the notice says of it (IdleTpu)
    sa.Column("settled_at", UTCDateTime, nullable=True),
    sa.Column("settled", sa.Text, nullable=False, default=""),  # why it is no longer idle
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


def add_missing_columns(conn: Connection, table: sa.Table, names: list[str]) -> None:
    """Additive migration: ALTER TABLE ADD COLUMN for each of `names` the table lacks. A fresh
    database got them from create_all already; an old one gets them here. Old replicas keep
    working during a rolling upgrade because every added column is nullable or has a default."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    for name in names:
        if name in present:
            continue
        column = table.c[name]
        ddl = f"ALTER TABLE {table.name} ADD COLUMN {name} {column.type.compile(conn.dialect)}"
        if column.server_default is not None:
            ddl += f" DEFAULT '{column.server_default.arg}' NOT NULL"  # type: ignore[attr-defined]
        conn.execute(sa.text(ddl))


def _step_4(conn: Connection) -> None:
    """The approval state machine, outbox claims and fallbacks, alerts that tell the truth."""
    add_missing_columns(
        conn,
        approvals,
        ["root_outbox", "attempts", "next_attempt_at", "attempt_at", "last_error"],
    )
    add_missing_columns(conn, operations, ["thread_outbox", "message_outbox"])
    add_missing_columns(conn, outbox, ["claimed_at", "fallback_channel"])
    add_missing_columns(conn, incidents, ["latest"])
    add_missing_columns(conn, snapshots, ["maintenance"])
    add_missing_columns(conn, digests, ["status", "resolved_at", "acked_by", "muted_until"])


def _step_5(conn: Connection) -> None:
    """Attempt owners (crash takeover by liveness), notes told in a thread instead, value ages."""
    add_missing_columns(conn, approvals, ["attempt_owner"])
    add_missing_columns(conn, outbox, ["fallback_thread_outbox", "fallback_thread_ts"])
    add_missing_columns(conn, watch_state, ["updated_at"])


def _step_6(conn: Connection) -> None:
    """Idle notices and the TPUs they name."""
    metadata.create_all(conn, tables=[idle_notices, idle_members], checkfirst=True)


# Each step brings the schema from version i to i + 1; never edit a released step.
MIGRATIONS: list[Callable[[Connection], None]] = [
    lambda conn: metadata.create_all(conn, tables=[approvals, operations, audit], checkfirst=True),
    lambda conn: metadata.create_all(
        conn, tables=[snapshots, incidents, digests, outbox, watch_state], checkfirst=True
    ),
    _create_leases,
    _step_4,
    _step_5,
    _step_6,
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
def within(engine: Engine, conn: Connection | None) -> Iterator[Connection]:
    """The caller's transaction when given one (so its writes commit together), else our own."""
    if conn is not None:
        yield conn
        return
    with engine.begin() as own:
        yield own

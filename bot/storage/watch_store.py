"""The watcher's state: snapshots, incidents, digests and its own health."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.core.records import Digest, Incident, IncidentStatus, WatcherStatus
from bot.core.watching.diff import Snapshot
from bot.storage.idle_store import IdleStore
from bot.storage.outbox import OutboxStore
from bot.storage.schema import digests, incidents, snapshots, within
from bot.storage.store import Store
from bot.storage.values import Values


class WatchStore:
    """The watcher's state: snapshots, incidents, digests and its own health. It shares the
    Store's engine with the outbox rows and the small values, which it holds beside it (one
    transaction, `begin()`, covers a tick's state and the messages it queues)."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self.outbox = OutboxStore(store.engine)
        self.values = Values(store.engine)
        self.idle = IdleStore(store.engine)

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
                maintenance=r.maintenance,
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
                "maintenance": s.maintenance,
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
        data = dict(row._mapping)
        data["status"] = IncidentStatus(data["status"])
        return Incident(**data)

    def open_incidents(self) -> dict[str, Incident]:
        with self.begin() as conn:
            rows = conn.execute(sa.select(incidents).where(incidents.c.status == "open")).all()
        return {r.node: self._incident(r) for r in rows}

    def incident(self, incident_id: str) -> Incident | None:
        with self.begin() as conn:
            row = conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).first()
        return self._incident(row) if row else None

    def incidents_of_digest(self, digest_id: str, conn: Connection | None = None) -> list[Incident]:
        with within(self.engine, conn) as c:
            rows = c.execute(
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
        with within(self.engine, conn) as c:
            c.execute(statement)

    def add_digest(self, conn: Connection, **values: Any) -> None:
        conn.execute(sa.insert(digests).values(**values))

    def digest(self, digest_id: str, conn: Connection | None = None) -> Digest | None:
        with within(self.engine, conn) as c:
            row = c.execute(sa.select(digests).where(digests.c.id == digest_id)).first()
        if row is None:
            return None
        data = dict(row._mapping)
        data["status"] = IncidentStatus(data["status"])
        return Digest(**data)

    def update_digest(self, conn: Connection | None, digest_id: str, **values: Any) -> None:
        statement = sa.update(digests).where(digests.c.id == digest_id).values(**values)
        with within(self.engine, conn) as c:
            c.execute(statement)

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

    # ----- the watcher's own health ---------------------------------------------------------

    def status(self) -> WatcherStatus:
        """The last good poll and the TPU API's state, as the watcher left them."""
        last = self.values.get(_LAST_POLL)
        return WatcherStatus(
            last_poll=datetime.fromisoformat(last) if last else None,
            api_failures=int(self.values.get(_FAILURES, "0") or 0),
            degraded=self.values.get(_DEGRADED, "0") == "1",
        )

    def set_status(self, conn: Connection | None, status: WatcherStatus) -> None:
        if status.last_poll is not None:
            self.values.put(conn, _LAST_POLL, status.last_poll.isoformat())
        self.values.put(conn, _FAILURES, str(status.api_failures))
        self.values.put(conn, _DEGRADED, "1" if status.degraded else "0")

    def prune_outbox(self, before: datetime) -> int:
        return self.outbox.prune(before)

    # ----- small opaque values (the snapshots' version, a two-step action's second step) ----

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)

    def put(self, conn: Connection | None, key: str, value: str) -> None:
        self.values.put(conn, key, value)

    def keeps(self) -> dict[str, datetime]:
        """TPUs people chose to keep (not idle-swept), and until when."""
        return {
            key[len(_KEEP) :]: datetime.fromisoformat(value)
            for key, value in self.values.items(_KEEP).items()
        }

    def keep(self, conn: Connection | None, tpu: str, until: datetime) -> None:
        self.values.put(conn, f"{_KEEP}{tpu}", until.isoformat(), until)


_LAST_POLL, _FAILURES, _DEGRADED = "last_poll", "api_failures", "degraded"
_KEEP = "keep:"

"""The watcher's state: snapshots, incidents, digests and small values; the outbox's rows too."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.core.records import Digest, Incident, IncidentStatus
from bot.core.watching.diff import Snapshot
from bot.storage.outbox import OutboxStore
from bot.storage.schema import digests, incidents, snapshots, watch_state, within
from bot.storage.store import Store


class WatchStore(OutboxStore):
    """The watcher's state: snapshots, incidents, digests, the outbox. Shares the Store's engine."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.engine)

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

    # ----- small persistent values -----------------------------------------------------------

    def get(self, key: str, default: str = "") -> str:
        with self.begin() as conn:
            value = conn.execute(
                sa.select(watch_state.c.value).where(watch_state.c.key == key)
            ).scalar()
        return default if value is None else str(value)

    def put(
        self, conn: Connection | None, key: str, value: str, now: datetime | None = None
    ) -> None:
        """Keep `value` under `key`; `now` dates it, for values that expire (prune_values)."""
        with within(self.engine, conn) as c:
            c.execute(sa.delete(watch_state).where(watch_state.c.key == key))
            c.execute(sa.insert(watch_state).values(key=key, value=value, updated_at=now))

    def prune_values(self, prefix: str, before: datetime) -> int:
        """Delete the values under `prefix` written before `before` (or never dated)."""
        with self.begin() as conn:
            result = conn.execute(
                sa.delete(watch_state).where(
                    watch_state.c.key.startswith(prefix, autoescape=True),
                    sa.or_(watch_state.c.updated_at.is_(None), watch_state.c.updated_at < before),
                )
            )
        return int(result.rowcount or 0)

"""Small values the bot keeps under a key (the `watch_state` table): opaque text, optionally
dated so a kind of them can expire."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.storage.schema import watch_state, within


class Values:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, key: str, default: str = "") -> str:
        with self.engine.begin() as conn:
            value = conn.execute(
                sa.select(watch_state.c.value).where(watch_state.c.key == key)
            ).scalar()
        return default if value is None else str(value)

    def items(self, prefix: str) -> dict[str, str]:
        """Every value whose key starts with `prefix`."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(watch_state.c.key, watch_state.c.value).where(
                    watch_state.c.key.startswith(prefix, autoescape=True)
                )
            ).all()
        return {str(r.key): str(r.value) for r in rows}

    def put(
        self, conn: Connection | None, key: str, value: str, now: datetime | None = None
    ) -> None:
        """Keep `value` under `key`; `now` dates it, for values that expire (prune_values)."""
        with within(self.engine, conn) as c:
            c.execute(sa.delete(watch_state).where(watch_state.c.key == key))
            c.execute(sa.insert(watch_state).values(key=key, value=value, updated_at=now))

    def prune_values(self, prefix: str, before: datetime) -> int:
        """Delete the values under `prefix` written before `before` (or never dated)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.delete(watch_state).where(
                    watch_state.c.key.startswith(prefix, autoescape=True),
                    sa.or_(watch_state.c.updated_at.is_(None), watch_state.c.updated_at < before),
                )
            )
        return int(result.rowcount or 0)

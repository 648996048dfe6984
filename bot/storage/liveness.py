"""Which replicas are alive: each keeps a heartbeat in the store; an attempt claimed by a
replica known dead (core.liveness) is taken over at once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.core.liveness import Replica, why_dead
from bot.storage.store import Store

log = logging.getLogger(__name__)


class ReplicaLiveness:
    """This replica's heartbeat, and the others' as the store has them."""

    def __init__(self, store: Store, replica: Replica, ttl: timedelta) -> None:
        self.store = store
        self.replica = replica
        self.ttl = ttl
        self._beats = 0

    def me(self) -> str:
        return self.replica.token

    def beat(self, now: datetime) -> None:
        replaced = self.store.beat(self.replica.name, self.replica.boot, now, self.ttl)
        self._beats += 1
        if replaced is not None and self._beats > 1:
            # Our own row was taken by a live boot in between: two processes share one name,
            # and each would take the other's attempts for a dead boot's.
            log.error(
                "replica name %r is used by another live process (boot %s): give each replica "
                "its own TPUBOT_REPLICA_ID",
                self.replica.name,
                replaced,
            )

    def why_dead(self, owner: str, now: datetime) -> str | None:
        """Why the replica that claimed an attempt (`owner`, a token) is known dead, if it is."""
        claimed_by = Replica.parse(owner)
        if claimed_by is None:
            return None
        beat = (
            None if claimed_by.name == self.replica.name else self.store.heartbeat(claimed_by.name)
        )
        return why_dead(claimed_by, self.replica, beat, now)

"""Leadership among replicas: the one holding the lease runs the scheduled jobs."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from bot.storage.store import Store

log = logging.getLogger(__name__)


def default_holder() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Lease:
    """Holds the `scheduler` lease while it can renew it; renews at a third of its lifetime, so a
    dead leader's lease runs out and a standby takes over within two lease periods."""

    def __init__(
        self,
        store: Store,
        ttl_seconds: float = 15.0,
        holder: str | None = None,
        name: str = "scheduler",
    ) -> None:
        self.store = store
        self.ttl = timedelta(seconds=ttl_seconds)
        self.holder = holder or default_holder()
        self.name = name
        self._held_until: datetime | None = None
        self.took_over = False  # set when the lease was just taken, for the caller to act on

    def held(self, now: datetime) -> bool:
        """True while this replica leads; takes or renews the lease when that is due."""
        if self._held_until is not None and now < self._held_until - 2 * self.ttl / 3:
            return True
        was_leader = self._held_until is not None and now < self._held_until
        if self.store.take_lease(self.name, self.holder, now, self.ttl):
            if not was_leader:
                log.info("leader: %s took the %s lease", self.holder, self.name)
                self.took_over = True
            self._held_until = now + self.ttl
            return True
        if was_leader:
            log.warning("leader: %s lost the %s lease", self.holder, self.name)
        self._held_until = None
        return False

    def release(self) -> None:
        """On a clean shutdown: let a standby take over at its next try, not after expiry."""
        if self._held_until is not None:
            self.store.release_lease(self.name, self.holder)
            self._held_until = None

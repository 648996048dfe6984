"""Pure: whether the replica that claimed an attempt is known to be dead.

Each process is a replica `name` (stable across its restarts: the pod or host name, or
TPUBOT_REPLICA_ID) in one `boot` (new at every start). Replicas keep a heartbeat; an attempt
whose owner is this replica's earlier boot, or whose owner's heartbeat lapsed or was taken over
by a later boot, is known dead and is taken over at once instead of after a fixed timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

_SEP = "#"


@dataclass(frozen=True)
class Replica:
    name: str
    boot: str

    @property
    def token(self) -> str:
        """How an attempt records its owner."""
        return f"{self.name}{_SEP}{self.boot}"

    @classmethod
    def parse(cls, token: str) -> Replica | None:
        name, sep, boot = token.rpartition(_SEP)
        return cls(name, boot) if sep and name and boot else None


@dataclass(frozen=True)
class Heartbeat:
    """The last beat of a replica name: which boot beat, and until when it counts."""

    boot: str
    expires_at: datetime


def why_dead(owner: Replica, me: Replica, beat: Heartbeat | None, now: datetime) -> str | None:
    """Why `owner` is known dead (None: alive, or not known to be dead)."""
    if owner == me:
        return None
    if owner.name == me.name:
        return "its replica has restarted (this is a later boot of it)"
    if beat is None:
        return None  # a replica that keeps no heartbeat (an older version): the timeout decides
    if beat.boot != owner.boot:
        return "its replica has restarted since"
    if beat.expires_at <= now:
        return "its replica's heartbeat lapsed"
    return None

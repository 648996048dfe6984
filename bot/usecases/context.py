"""What every use case is handed: the ports bundled (Deps) and who is acting (Actor)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.config import BotConfig
from bot.core.models import ProjectScope
from bot.core.policy import Role
from bot.core.records import AuditEntry
from bot.core.text import Said
from bot.usecases.catalog import Catalog
from bot.usecases.ports import (
    Carrier,
    ComputeApi,
    Directory,
    Liveness,
    OutboxPort,
    Store,
    TpuApi,
    UsageApi,
    WatchStore,
)

log = logging.getLogger("bot.usecases")


@dataclass(frozen=True)
class Actor:
    """Who is acting, where, and with which role (resolved on the server, never from a payload)."""

    user: str
    channel: str
    role: Role


class NoLiveness:
    """Without heartbeats nothing is known dead: cut-off attempts wait for the timeout."""

    def me(self) -> str:
        return ""

    def why_dead(self, owner: str, now: datetime) -> str | None:
        return None


class PlainCarrier:
    """Buttons carry any text as it is (what tests on fakes use; the bot's is bot.slack.carry)."""

    def carry(self, text: str, now: datetime) -> str:
        return text

    def recall(self, carried: str) -> str | None:
        return carried

    def prune(self, before: datetime) -> int:
        return 0


@dataclass
class Deps:
    config: BotConfig
    tpu: TpuApi
    store: Store
    directory: Directory
    watch: WatchStore
    outbox: OutboxPort
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)
    catalog: Catalog = field(default_factory=Catalog)
    liveness: Liveness = field(default_factory=NoLiveness)
    carrier: Carrier = field(default_factory=PlainCarrier)
    # Compute Engine's TPU VMs (None: no project's TPUs come from there).
    compute: ComputeApi | None = None
    usage: UsageApi | None = None  # Cloud Monitoring; None: usage is not read

    @property
    def scopes(self) -> list[ProjectScope]:
        return [ProjectScope(p.id, p.locations) for p in self.config.projects]

    @property
    def tpu_scopes(self) -> list[ProjectScope]:
        """The projects whose Cloud TPU API nodes the bot reads (`sources` has tpu)."""
        return [ProjectScope(p.id, p.locations) for p in self.config.projects if "tpu" in p.sources]

    @property
    def compute_scopes(self) -> list[ProjectScope]:
        """The projects whose Compute Engine TPUs the bot reads (none without a client)."""
        if self.compute is None:
            return []
        found = [p for p in self.config.projects if "compute" in p.sources]
        return [ProjectScope(p.id, p.locations) for p in found]

    def audit(
        self, now: datetime, user: str, action: str, target: str, outcome: str, detail: Said = ""
    ) -> None:
        self.store.audit(AuditEntry(now, user, action, target, outcome, str(detail)))
        log.info("audit user=%s action=%s target=%s outcome=%s", user, action, target, outcome)

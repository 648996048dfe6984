"""What the use cases need from the outside world (ports), and small shared helpers."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.config import BotConfig
from bot.core.messages import Message
from bot.core.models import (
    AcceleratorType,
    AuditEntry,
    Node,
    NodeListing,
    NodeSpec,
    Operation,
    TensorFlowVersion,
)
from bot.core.policy import Role
from bot.storage.store import Store
from bot.storage.watch_store import WatchStore
from bot.tpu.client import ProjectScope

log = logging.getLogger("bot.usecases")


class TpuApi(Protocol):
    """The part of TpuClient the use cases call (a fake can stand in for it)."""

    def list_nodes(self, project: str, locations: Sequence[str] = ("-",)) -> NodeListing: ...
    def get_node(self, name: str) -> Node: ...
    def create_node(
        self, project: str, zone: str, node_id: str, spec: NodeSpec, request_id: str | None = None
    ) -> Operation: ...
    def delete_node(self, name: str, request_id: str | None = None) -> Operation: ...
    def stop_node(self, name: str) -> Operation: ...
    def start_node(self, name: str) -> Operation: ...
    def reimage_node(self, name: str, tensorflow_version: str) -> Operation: ...
    def get_operation(self, name: str) -> Operation: ...
    def list_operations(self, project: str, location: str = "-") -> list[Operation]: ...
    def list_accelerator_types(self, project: str, zone: str) -> list[AcceleratorType]: ...
    def list_tensorflow_versions(self, project: str, zone: str) -> list[TensorFlowVersion]: ...
    def resolve(self, text: str, scopes: Sequence[ProjectScope]) -> Node: ...


class ChatError(Exception):
    """Slack refused or could not be reached after the client's own retries."""


class Chat(Protocol):
    """Posting neutral messages to Slack; the implementation renders them."""

    def post(self, channel: str, message: Message, thread_ts: str | None = None) -> str: ...
    def update(self, channel: str, ts: str, message: Message) -> None: ...
    def ephemeral(self, channel: str, user: str, message: Message) -> None: ...


class OutboxPort(Protocol):
    """Durable Slack writes, enqueued inside the caller's transaction."""

    def post(
        self,
        conn: Any,
        channel: str,
        message: Message,
        *,
        now: datetime,
        thread_outbox: int | None = None,
        thread_ts: str | None = None,
    ) -> int: ...
    def update(
        self,
        conn: Any,
        channel: str,
        message: Message,
        *,
        now: datetime,
        target_outbox: int | None = None,
        target_ts: str | None = None,
    ) -> int: ...


class Directory(Protocol):
    """Which Slack user groups a user is in."""

    def groups_of(self, user: str) -> set[str]: ...


@dataclass(frozen=True)
class Actor:
    """Who is acting, where, and with which role (resolved on the server, never from a payload)."""

    user: str
    channel: str
    role: Role


@dataclass
class Deps:
    config: BotConfig
    tpu: TpuApi
    store: Store
    chat: Chat
    directory: Directory
    watch: WatchStore
    outbox: OutboxPort
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)

    @property
    def scopes(self) -> list[ProjectScope]:
        return [ProjectScope(p.id, p.locations) for p in self.config.projects]

    def audit(
        self, now: datetime, user: str, action: str, target: str, outcome: str, detail: str = ""
    ) -> None:
        self.store.audit(AuditEntry(now, user, action, target, outcome, detail))
        log.info("audit user=%s action=%s target=%s outcome=%s", user, action, target, outcome)

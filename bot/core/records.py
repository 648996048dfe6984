"""What the bot remembers of its own work: approval requests, its operations, the audit log,
incidents and the outbox's rows. Pure data; the store keeps them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class ApprovalStatus(enum.StrEnum):
    """pending -> approved -> executing -> executed | failed | refused; pending -> denied |
    expired. Every step is a compare-and-set in the store, so each happens once."""

    PENDING = "pending"
    APPROVED = "approved"  # an approver said yes; waiting to be carried out (or retried)
    EXECUTING = "executing"  # claimed by one replica, which is calling the API now
    DENIED = "denied"
    EXPIRED = "expired"
    EXECUTED = "executed"  # the API accepted the action
    REFUSED = "refused"  # approved, but the node changed meanwhile
    FAILED = "failed"  # approved, but the API refused, or kept failing past the retry window

    @property
    def decided(self) -> bool:
        """No longer waiting for an approver (so the request shows no buttons)."""
        return self is not ApprovalStatus.PENDING

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset(
    {
        ApprovalStatus.DENIED,
        ApprovalStatus.EXPIRED,
        ApprovalStatus.EXECUTED,
        ApprovalStatus.REFUSED,
        ApprovalStatus.FAILED,
    }
)


@dataclass(frozen=True)
class Approval:
    """A request to run a destructive action, waiting for (or decided by) an approver."""

    id: str
    action: str
    target: str  # full node name (for create: the name to be)
    requester: str
    requester_channel: str
    created_at: datetime
    expires_at: datetime
    status: ApprovalStatus = ApprovalStatus.PENDING
    reason: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    node_state: str = ""  # what the requester saw
    node_create_time: datetime | None = None
    node_version: str = ""
    request_id: str = ""  # the API requestId used when it runs, the same on every retry
    channel: str = ""
    message_ts: str = ""
    decided_by: str = ""
    decided_at: datetime | None = None
    outcome: str = ""
    operation: str = ""
    root_outbox: int | None = None  # the request message's outbox row (its ts may not be known)
    attempts: int = 0  # API attempts so far
    next_attempt_at: datetime | None = None  # approved: when to (re)try
    attempt_at: datetime | None = None  # executing: when the current attempt was claimed
    last_error: str = ""
    attempt_owner: str = ""  # executing: which replica (and boot) claimed it (core.liveness)

    def root(self, default_channel: str) -> MessageRef:
        """The request message (in its channel; `default_channel` for the oldest rows)."""
        return MessageRef(
            self.channel or default_channel, self.root_outbox, self.message_ts or None
        )


@dataclass(frozen=True)
class TrackedOperation:
    """An operation the bot started, and where its story is told."""

    name: str
    target: str
    verb: str
    requester: str
    channel: str
    thread_ts: str
    created_at: datetime
    message_ts: str = ""
    approval_id: str = ""
    done: bool = False
    error_code: int | None = None
    error_message: str = ""
    warned: bool = False
    ended_at: datetime | None = None
    thread_outbox: int | None = None  # the thread's root row, while its ts is not known yet
    message_outbox: int | None = None  # the first message's row, edited when it ends

    @property
    def thread(self) -> MessageRef:
        """Where its story is told (a ts, once known, wins over the row)."""
        if self.thread_ts:
            return MessageRef(self.channel, ts=self.thread_ts)
        return MessageRef(self.channel, self.thread_outbox)

    @property
    def message(self) -> MessageRef:
        """Its first message, redrawn when it ends."""
        return MessageRef(self.channel, self.message_outbox, self.message_ts or None)


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    user: str
    action: str
    target: str
    outcome: str
    detail: str = ""


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


GONE = "gone"  # an incident's `latest` when its TPU no longer exists: nothing left to act on


@dataclass(frozen=True)
class Incident:
    """A node's trouble, told in one thread until it is resolved."""

    id: str
    node: str
    kind: str
    channel: str
    opened_at: datetime
    last_event_at: datetime
    status: IncidentStatus = IncidentStatus.OPEN
    detail: str = ""
    root_outbox: int | None = None
    digest_id: str | None = None
    resolved_at: datetime | None = None
    acked_by: str = ""
    muted_until: datetime | None = None
    flapping: bool = False
    accelerator_type: str = ""
    latest: str = ""  # how the node is now, as the last tick saw it (the root says it), or GONE

    @property
    def root(self) -> MessageRef:
        return MessageRef(self.channel, self.root_outbox)


@dataclass(frozen=True)
class Digest:
    """A storm: many nodes of one zone in trouble in one tick, told as one message and thread.
    It resolves when its last node does; acknowledging or muting it does so for every node."""

    id: str
    project: str  # the projects involved, comma-separated
    zone: str
    channel: str
    opened_at: datetime
    root_outbox: int | None = None
    status: IncidentStatus = IncidentStatus.OPEN
    resolved_at: datetime | None = None
    acked_by: str = ""
    muted_until: datetime | None = None

    @property
    def root(self) -> MessageRef:
        return MessageRef(self.channel, self.root_outbox)


@dataclass(frozen=True)
class IdleMember:
    """A TPU an idle notice named: since when, what the notice said of it (`shown`), and, once
    it is no longer idle, when and why (busy again, stopped, gone, kept)."""

    notice_id: str
    tpu: str
    since: datetime
    shown: Mapping[str, Any]
    channel: str = ""
    root_outbox: int | None = None
    settled_at: datetime | None = None
    settled: str = ""

    @property
    def root(self) -> MessageRef:
        return MessageRef(self.channel, self.root_outbox)


@dataclass(frozen=True)
class WatcherStatus:
    """The watcher's own health, kept between ticks and read by /healthz."""

    last_poll: datetime | None = None  # the last tick that listed every project it meant to
    api_failures: int = 0  # polls in a row the TPU API failed
    degraded: bool = False  # people were told monitoring is degraded


@dataclass(frozen=True)
class MessageRef:
    """A message the bot posted, or will: its channel, and its outbox row (while Slack has not
    taken it yet) or its ts. The root of a thread, or a message to edit: one value, not a pair."""

    channel: str
    outbox: int | None = None
    ts: str | None = None

    @property
    def known(self) -> bool:
        return self.outbox is not None or bool(self.ts)


@dataclass(frozen=True)
class OutboxItem:
    """A Slack write waiting in the store; thread/target refer to other rows until they are sent."""

    id: int
    channel: str
    method: str
    payload: Mapping[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    thread_outbox: int | None = None
    thread_ts: str | None = None
    target_outbox: int | None = None
    target_ts: str | None = None
    sent_at: datetime | None = None
    ts: str | None = None
    last_error: str = ""
    fallback_channel: str | None = None
    parent_lost: bool = False  # the message it replies to or edits was set aside, never sent
    # A private note's other way to its person: a reply in this thread (of fallback_channel).
    fallback_thread_outbox: int | None = None
    fallback_thread_ts: str | None = None

    @property
    def unordered(self) -> bool:
        """A private note (chat.postEphemeral) has no place in its channel's order: it never
        holds up the channel's messages, and they never hold it up."""
        return self.method == "chat.postEphemeral"

"""Neutral messages: what the bot has to say, before `render` turns it into Slack blocks."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.capacity import CapacityProblem, capacity_problem
from bot.core.compute_messages import InstanceDetail, ReservationList, SliceList
from bot.core.instances import FlexRequest, Instance
from bot.core.models import Node
from bot.core.operations import Operation
from bot.core.queued import QueuedResource
from bot.core.records import Approval, AuditEntry, Digest, Incident, TrackedOperation
from bot.core.text import Said
from bot.core.usage_messages import UsageDetail, UsageLine, UsageMessage

NODES_PER_PAGE = 10  # node cards per listing page: 10 cards and their buttons fit Block Kit's 50
QUEUED_PER_PAGE = 10
RESOURCE_EXHAUSTED = 8  # google.rpc.Code of stockouts and exhausted quotas


class Tone(enum.StrEnum):
    """How a short message should look."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Notice:
    """A short plain answer."""

    text: Said
    tone: Tone = Tone.INFO


@dataclass(frozen=True)
class Usage:
    problem: Said
    usage: str
    hint: Said = ""


@dataclass(frozen=True)
class HelpText:
    topic: str | None = None


@dataclass(frozen=True)
class Refusal:
    reason: Said


@dataclass(frozen=True)
class Identity:
    """`/tpu whoami`: who you are to the bot. `granted` holds each role you have with the config
    entry that grants it (your id, one of your user groups, or "*")."""

    user: str
    role: str  # the highest, which decides
    granted: Sequence[tuple[str, str]]
    scopes: Sequence[tuple[str, Sequence[str]]]  # (project, its zones; "-" = every zone)


def no_such_page(total: int, page: int, size: int) -> Notice | None:
    """The answer to a page past the end of a listing (None: the page exists)."""
    if page * size >= total and total:
        return Notice(f"There is no page {page + 1}: only {-(-total // size)}.", Tone.WARNING)
    return None


@dataclass(frozen=True)
class NodeCandidates:
    """A reference that named no node or several; the candidates to try."""

    message: Said
    candidates: Sequence[str] = ()
    command: str = "get"


@dataclass(frozen=True)
class NodePage:
    """One page of a TPU listing (nodes and instances together, trouble first), with the query
    that makes the next page."""

    nodes: Sequence[Node | Instance]
    total: int
    page: int
    page_size: int
    query: str  # `/tpu` text that lists these, without page=
    unreachable: Sequence[str] = ()
    summary: Sequence[tuple[str, int]] = ()  # (state or health, count) over all matches
    usage: Mapping[str, UsageLine] = field(default_factory=dict)  # by name, when Monitoring is read

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class NodeDetail:
    node: Node
    operations: Sequence[TrackedOperation] = ()
    usage: UsageDetail | None = None  # its utilization, when Cloud Monitoring is read


@dataclass(frozen=True)
class ApprovalRequest:
    """The request message in the approvals channel, in whatever state it is."""

    approval: Approval
    ttl_minutes: int = 30


@dataclass(frozen=True)
class ApprovalQueued:
    """What the requester is told when their action waits for approval."""

    approval: Approval
    approvals_channel: str


@dataclass(frozen=True)
class OperationStarted:
    verb: str
    target: str
    operation: str
    requester: str
    approved_by: str = ""


@dataclass(frozen=True)
class OperationUpdate:
    """An operation's progress or end, told in its thread."""

    tracked: TrackedOperation
    operation: Operation | None = None
    warning: str = ""


@dataclass(frozen=True)
class OperationList:
    operations: Sequence[Operation]
    node: str | None = None


@dataclass(frozen=True)
class CatalogList:
    zone: str
    kind: str  # "accelerator types" or "TensorFlow versions"
    values: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class AuditList:
    entries: Sequence[AuditEntry]


@dataclass(frozen=True)
class ReimagePicker:
    node: Node
    versions: Sequence[str]


@dataclass(frozen=True)
class RecreatePicker:
    """A v2 TPU VM has no reimage: offer to recreate it on another runtime version."""

    node: Node
    versions: Sequence[str]
    why: str = ""


@dataclass(frozen=True)
class QueuedPage:
    """One page of requests for capacity: queued resources and flex-start requests together
    (waiting, failed and suspended first)."""

    queued: Sequence[QueuedResource | FlexRequest]
    total: int
    page: int
    page_size: int
    query: str  # `/tpu` text that lists these, without page=
    now: datetime
    unreachable: Sequence[str] = ()
    summary: Sequence[tuple[str, int]] = ()

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class QueuedDetail:
    """One queued resource, with the nodes it made as they are now."""

    queued: QueuedResource
    now: datetime
    nodes: Sequence[Node] = ()


@dataclass(frozen=True)
class IncidentRoot:
    """The root message of a node's incident, open or resolved."""

    incident: Incident
    now: datetime


@dataclass(frozen=True)
class IncidentEvent:
    """A change of a node with an open incident, told in its thread."""

    node: str
    kind: str
    detail: str = ""
    resolved_after_seconds: float | None = None


@dataclass(frozen=True)
class DigestRoot:
    """One message for a storm: many nodes of one zone in trouble in the same tick, redrawn as
    they recover ("3 still down") until the last one does."""

    digest: Digest
    members: Sequence[Incident]
    now: datetime


@dataclass(frozen=True)
class DigestBatch:
    """One tick's changes of a storm's nodes, in the digest's thread."""

    events: Sequence[IncidentEvent]


@dataclass(frozen=True)
class WatchNotice:
    """Monitoring degraded or restored, a node gone: a one-off message."""

    text: Said
    tone: Tone = Tone.WARNING


Message = (
    Notice
    | Usage
    | HelpText
    | Refusal
    | Identity
    | NodeCandidates
    | NodePage
    | NodeDetail
    | ApprovalRequest
    | ApprovalQueued
    | OperationStarted
    | OperationUpdate
    | OperationList
    | CatalogList
    | AuditList
    | ReimagePicker
    | RecreatePicker
    | QueuedPage
    | QueuedDetail
    | IncidentRoot
    | IncidentEvent
    | DigestRoot
    | DigestBatch
    | WatchNotice
    | InstanceDetail
    | SliceList
    | ReservationList
    | UsageMessage
)


_ZONE_IN_MESSAGE = re.compile(r'zone "([a-z0-9-]+)"')
_QUOTA_NAME = re.compile(r"[Qq]uota (?:limit |metric )?'([^']+)'")


def capacity_advice(message: str, zone: str = "") -> str | None:
    """A RESOURCE_EXHAUSTED message, said as what the person can do about it; None when it is not
    a stockout, a quota or a reservation problem."""
    problem = capacity_problem(message)
    named = _ZONE_IN_MESSAGE.search(message)
    where = zone or (named.group(1) if named else "this zone")
    if problem is CapacityProblem.STOCKOUT:
        return f"no capacity in {where} right now: try another zone, a queued resource, or spot"
    if problem is CapacityProblem.QUOTA:
        found = _QUOTA_NAME.search(message)
        quota = f" {found.group(1)}" if found else ""
        return (
            f"the project's quota{quota} is exhausted: request more or free capacity; "
            "FAILED/SUSPENDED queued resources still hold quota"
        )
    if problem is CapacityProblem.RESERVATION:
        return (
            f"the reservation cannot be used in {where} (missing, full or not shared with the "
            "project): check its name, or ask without it"
        )
    return None

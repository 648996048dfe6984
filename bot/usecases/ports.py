"""What the use cases need from the outside world: the ports (protocols) and their errors.

Adapters (`bot.tpu`, `bot.slack`, `bot.storage`) implement these structurally; tests put small
fakes behind them. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.core.instances import (
    CapacityListing,
    FlexRequest,
    Instance,
    InstanceListing,
    SystemEvent,
)
from bot.core.messages import Message
from bot.core.models import (
    AcceleratorType,
    Node,
    NodeListing,
    NodeSpec,
    ProjectScope,
    TensorFlowVersion,
)
from bot.core.operations import Operation
from bot.core.queued import QueuedListing, QueuedResource, QueuedResourceRequest
from bot.core.records import (
    Approval,
    ApprovalStatus,
    AuditEntry,
    Digest,
    IdleMember,
    Incident,
    MessageRef,
    TrackedOperation,
    WatcherStatus,
)
from bot.core.usage import Metric, TpuKind, UsageListing
from bot.core.watching.diff import Snapshot
from bot.core.watching.instances import InstanceChanges
from bot.core.watching.listing import NodeChanges

# ----- TPU API ---------------------------------------------------------------------------------

RETRYABLE_STATUSES = frozenset(
    {"UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED", "DEADLINE_EXCEEDED", "INTERNAL", "UNKNOWN"}
)


class TpuError(Exception):
    """An API failure with Google's message; `retryable` says whether trying again could help."""

    status = "UNKNOWN"

    def __init__(self, message: str, *, http: int = 0, status: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http = http
        if status:
            self.status = status

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_STATUSES or self.http == 429 or self.http >= 500


class NotFound(TpuError):
    status = "NOT_FOUND"


class AlreadyExists(TpuError):
    status = "ALREADY_EXISTS"


class PermissionDenied(TpuError):
    status = "PERMISSION_DENIED"


class Unauthenticated(TpuError):
    status = "UNAUTHENTICATED"


class FailedPrecondition(TpuError):
    status = "FAILED_PRECONDITION"


class InvalidArgument(TpuError):
    status = "INVALID_ARGUMENT"


class ResourceExhausted(TpuError):
    status = "RESOURCE_EXHAUSTED"


class NotSupported(TpuError):
    """The project's API version has no such method (reimage on v2; queued resources and
    labels on v1alpha1). The message says what to do instead."""

    status = "UNIMPLEMENTED"


class Throttled(TpuError):
    """The bot's own budget of API requests for commands is spent for now (the watcher keeps
    its own): nothing was sent. `retry_after` says when there is room again."""

    status = "UNAVAILABLE"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, http=429)
        self.retry_after = retry_after


class Unavailable(TpuError):
    """The API could not be reached or answered 5xx after every retry."""

    status = "UNAVAILABLE"


class TpuApi(Protocol):
    """The Cloud TPU API as the use cases see it (the adapter hides the API version)."""

    def list_nodes(self, project: str, locations: Sequence[str] = ("-",)) -> NodeListing: ...
    def list_node_changes(
        self,
        project: str,
        locations: Sequence[str] = ("-",),
        known: Mapping[str, int] | None = None,
        wanted: Collection[str] = (),
    ) -> NodeChanges:
        """The watcher's listing: the requests of `list_nodes`, but models only for nodes whose
        fingerprint differs from `known` (or that are `wanted`); see `NodeChanges`."""
        ...

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
    # What v2 adds. On a v1alpha1 project: versions are TensorFlow versions, the queued
    # resource listing is empty, the other calls raise NotSupported.
    def label_node(self, name: str, labels: Mapping[str, str]) -> Operation: ...
    def list_runtime_versions(self, project: str, zone: str) -> list[TensorFlowVersion]: ...
    def list_queued_resources(
        self, project: str, locations: Sequence[str] = ("-",)
    ) -> QueuedListing: ...
    def get_queued_resource(self, name: str) -> QueuedResource: ...
    def create_queued_resource(
        self,
        project: str,
        zone: str,
        queued_id: str,
        request: QueuedResourceRequest,
        request_id: str | None = None,
    ) -> Operation: ...
    def delete_queued_resource(
        self, name: str, *, force: bool = False, request_id: str | None = None
    ) -> Operation: ...
    def reset_queued_resource(self, name: str) -> Operation: ...


# ----- Compute Engine (TPU VM instances and the capacity around them) -------------------------


class ComputeApi(Protocol):
    """Compute Engine's TPU VMs as the use cases see them: instances, the groups that hold them
    (a slice is one), flex-start requests, reservations, and zone operations. Errors are the
    TPU API's (`TpuError` and its kinds); names are full resource names (`projects/P/zones/Z/...`).
    """

    def list_instances(self, project: str, locations: Sequence[str] = ("-",)) -> InstanceListing:
        """One filtered aggregated list (and its pages): every TPU instance in `locations`."""
        ...

    def list_instance_changes(
        self,
        project: str,
        locations: Sequence[str] = ("-",),
        known: Mapping[str, int] | None = None,
        wanted: Collection[str] = (),
    ) -> InstanceChanges:
        """The watcher's listing: the requests of `list_instances`, read further only for the
        instances whose fingerprint differs from `known` (or that are `wanted`)."""
        ...

    def get_instance(self, name: str) -> Instance: ...
    def stop_instance(self, name: str, request_id: str | None = None) -> Operation: ...
    def start_instance(self, name: str, request_id: str | None = None) -> Operation: ...
    def delete_instance(self, name: str, request_id: str | None = None) -> Operation: ...
    def set_instance_labels(
        self,
        name: str,
        labels: Mapping[str, str],
        fingerprint: str,
        request_id: str | None = None,
    ) -> Operation: ...
    def report_host_faulty(
        self, name: str, body: Mapping[str, Any], request_id: str | None = None
    ) -> Operation:
        """Report an instance's host as faulty (the VM moves to another host)."""
        ...

    def perform_maintenance(self, name: str, request_id: str | None = None) -> Operation:
        """Start the pending maintenance of an instance or of a reservation sub-block now."""
        ...

    def system_events(self, project: str, zone: str) -> list[SystemEvent]:
        """What the service did to the zone's instances on its own (preemptions, host errors)."""
        ...

    def get_operation(self, name: str) -> Operation: ...
    def list_operations(self, project: str, zone: str, target: str = "") -> list[Operation]: ...
    def list_capacity(self, project: str, locations: Sequence[str] = ("-",)) -> CapacityListing:
        """The project's instance groups (with their hosts), flex-start requests and
        reservations (with blocks and sub-blocks)."""
        ...

    def get_flex_request(self, name: str) -> FlexRequest: ...
    def cancel_flex_request(self, name: str, request_id: str | None = None) -> Operation: ...
    def delete_flex_request(self, name: str, request_id: str | None = None) -> Operation: ...
    def create_flex_request(
        self, name: str, body: Mapping[str, Any], request_id: str | None = None
    ) -> Operation: ...


# ----- Cloud Monitoring ------------------------------------------------------------------------


class UsageApi(Protocol):
    """How busy a project's TPUs were (bot.tpu.monitoring.MonitoringClient). A kind of TPU it
    cannot read is reported unknown in the listing: never idle."""

    def usage(
        self,
        project: str,
        window: timedelta,
        now: datetime,
        *,
        step: timedelta | None = None,
        metrics: Collection[Metric] = (Metric.DUTY_CYCLE,),
        kinds: Collection[TpuKind] | None = None,
        ids: Collection[str] = (),
    ) -> UsageListing: ...


class IdleRows(Protocol):
    """Idle notices and the TPUs they name (bot.storage.idle_store.IdleStore)."""

    def add_notice(
        self,
        conn: Any,
        notice_id: str,
        channel: str,
        now: datetime,
        members: Mapping[str, Mapping[str, Any]],
    ) -> None: ...
    def set_root(self, conn: Any, notice_id: str, outbox_id: int) -> None: ...
    def members(
        self, *, notice_id: str | None = None, unsettled: bool = False, conn: Any = None
    ) -> list[IdleMember]: ...
    def settle(self, conn: Any, notice_id: str, tpu: str, why: str, now: datetime) -> bool: ...
    def resolve(self, conn: Any, notice_id: str, now: datetime) -> bool: ...


# ----- Slack -----------------------------------------------------------------------------------


class ChatError(Exception):
    """Slack refused or could not be reached after the client's own retries."""


class OutboxPort(Protocol):
    """Durable Slack writes, enqueued inside the caller's transaction (`conn`). A message refers
    to another (a reply in its thread, an edit of it) by a MessageRef, whose ts may not be known
    yet: the drainer sends it once its parent is in Slack."""

    def post(
        self,
        conn: Any,
        channel: str,
        message: Message,
        *,
        now: datetime,
        thread: MessageRef | None = None,
        fallback: str | None = None,
    ) -> int:
        """A new message (a reply in `thread`, if given: then in the thread's channel)."""
        ...

    def ephemeral(
        self,
        conn: Any,
        channel: str,
        user: str,
        message: Message,
        *,
        now: datetime,
        or_in_thread: MessageRef | None = None,
    ) -> int:
        """Only `user` sees it; if Slack refuses that for good (they left the channel), they are
        told in `or_in_thread` instead, with a mention."""
        ...

    def update(self, conn: Any, target: MessageRef, message: Message, *, now: datetime) -> int:
        """`target` redrawn as `message`."""
        ...

    def home(self, conn: Any, user: str, message: Message, *, now: datetime) -> int:
        """`user`'s App Home tab, drawn as `message` (views.publish)."""
        ...


class Carrier(Protocol):
    """Puts a command's text on a button: text that fits travels as it is; longer text is kept
    by the bot and the button carries a key (Slack limits what a button's value holds)."""

    def carry(self, text: str, now: datetime) -> str: ...
    def recall(self, carried: str) -> str | None:
        """What came back from a button -> the command's text; None when the kept text is gone
        (pruned)."""
        ...

    def prune(self, before: datetime) -> int:
        """Forget kept texts older than `before`; how many."""
        ...


class Directory(Protocol):
    """Which Slack user groups a user is in."""

    def groups_of(self, user: str) -> set[str]: ...


class Liveness(Protocol):
    """Which replica this is, and whether the one that claimed an attempt is known dead."""

    def me(self) -> str: ...
    def why_dead(self, owner: str, now: datetime) -> str | None: ...


# ----- storage ---------------------------------------------------------------------------------


class Store(Protocol):
    """Approvals, the bot's operations and the audit log. Transitions are compare-and-set; `conn`
    joins the caller's transaction (`WatchStore.begin()`), so a step and its messages commit
    together."""

    def add_approval(self, approval: Approval, conn: Any = None) -> None: ...
    def get_approval(self, approval_id: str, conn: Any = None) -> Approval | None: ...
    def set_approval(self, approval_id: str, conn: Any = None, **values: Any) -> None: ...
    def transition_approval(
        self,
        approval_id: str,
        *,
        from_status: ApprovalStatus,
        to_status: ApprovalStatus,
        now: datetime,
        user: str | None = None,
        outcome: str | None = None,
        operation: str | None = None,
        unexpired: bool = False,
        expect_attempt_at: datetime | None = None,
        conn: Any = None,
        **values: Any,
    ) -> Approval | None: ...
    def expired_approvals(self, now: datetime) -> list[Approval]: ...
    def approvals_to_resume(self, now: datetime, stale_before: datetime) -> list[Approval]: ...
    def pending_approvals(self) -> list[Approval]: ...
    def executing_approvals(self) -> list[Approval]: ...
    def pending_request(self, action: str, target: str) -> Approval | None: ...
    def add_operation(self, op: TrackedOperation, conn: Any = None) -> None: ...
    def get_operation(self, name: str, conn: Any = None) -> TrackedOperation | None: ...
    def open_operations(self) -> list[TrackedOperation]: ...
    def operations_for(self, target: str, limit: int = 10) -> list[TrackedOperation]: ...
    def operation_targets_since(self, since: datetime) -> set[str]: ...
    def update_operation(self, name: str, conn: Any = None, **values: Any) -> None: ...
    def finish_operation(
        self,
        name: str,
        *,
        ended_at: datetime,
        error_code: int | None,
        error_message: str,
        conn: Any = None,
    ) -> bool: ...
    def audit(self, entry: AuditEntry) -> None: ...
    def latest_audit(self, limit: int = 20) -> list[AuditEntry]: ...
    def prune_audit(self, before: datetime) -> int: ...


class WatchStore(Protocol):
    """The watcher's state. `begin()` opens the transaction that outbox rows join."""

    def begin(self) -> AbstractContextManager[Any]: ...
    def load_snapshots(self) -> dict[str, Snapshot]: ...
    def save_snapshots(
        self, conn: Any, changed: Iterable[Snapshot], removed: Iterable[str]
    ) -> None: ...
    def open_incidents(self) -> dict[str, Incident]: ...
    def incident(self, incident_id: str) -> Incident | None: ...
    def recent_opens(self, since: datetime) -> dict[str, int]: ...
    def add_incident(self, conn: Any, incident: Incident) -> None: ...
    def update_incident(self, conn: Any, incident_id: str, **values: Any) -> None: ...
    def add_digest(self, conn: Any, **values: Any) -> None: ...
    def digest(self, digest_id: str, conn: Any = None) -> Digest | None: ...
    def update_digest(self, conn: Any, digest_id: str, **values: Any) -> None: ...
    def incidents_of_digest(self, digest_id: str, conn: Any = None) -> list[Incident]: ...
    def set_root(self, conn: Any, table: str, row_id: str, outbox_id: int) -> None: ...
    @property
    def idle(self) -> IdleRows: ...
    def keeps(self) -> dict[str, datetime]: ...
    def count_open(self) -> int: ...
    def keep(self, conn: Any, tpu: str, until: datetime) -> None: ...
    def status(self) -> WatcherStatus: ...
    def set_status(self, conn: Any, status: WatcherStatus) -> None: ...
    # Small opaque values: the snapshots' version, a two-step action's second step.
    def get(self, key: str, default: str = "") -> str: ...
    def put(self, conn: Any, key: str, value: str) -> None: ...
    def prune_outbox(self, before: datetime) -> int:
        """Delete outbox rows done before `before` that nothing points at any more."""
        ...

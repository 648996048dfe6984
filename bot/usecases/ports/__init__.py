"""What the use cases need from the outside world: the ports (protocols) and their errors. Here
the Google APIs' (Cloud TPU, Compute Engine, Cloud Monitoring) and the error tree; Slack's in
`chat`, the database's in `storage`, all importable from here.

Adapters (`bot.tpu`, `bot.slack`, `bot.storage`) implement these structurally; tests put small
fakes behind them. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.core.instances import (
    CapacityListing,
    FlexRequest,
    Instance,
    InstanceListing,
    SystemEvent,
)
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
from bot.core.usage import Metric, TpuKind, UsageListing
from bot.core.watching.instances import InstanceChanges
from bot.core.watching.listing import NodeChanges

# Slack's and the database's ports, importable from here like the rest.
from bot.usecases.ports.chat import Carrier as Carrier
from bot.usecases.ports.chat import ChatError as ChatError
from bot.usecases.ports.chat import Directory as Directory
from bot.usecases.ports.chat import Liveness as Liveness
from bot.usecases.ports.chat import OutboxPort as OutboxPort
from bot.usecases.ports.storage import IdleRows as IdleRows
from bot.usecases.ports.storage import Store as Store
from bot.usecases.ports.storage import WatchStore as WatchStore

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

"""TpuClient: the Cloud TPU API behind the `TpuApi` port, v1alpha1 or v2 per project.

The API version lives here (and in the emulator) only: each call goes to the service of the
version configured for its project (`apis`, default v2, which sees every node whichever version
made it). httplib2 is not thread-safe, so every request gets a fresh authorized Http with a
timeout (`transport.py`); retries are the library's own.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from google.auth.credentials import Credentials

from bot.core import noderef, scope
from bot.core.budget import RequestBudget
from bot.core.models import (
    AcceleratorType,
    Location,
    Node,
    NodeListing,
    NodeSpec,
    ProjectScope,
    TensorFlowVersion,
)
from bot.core.names import NodeName
from bot.core.operations import Operation
from bot.core.queued import QueuedListing, QueuedResource, QueuedResourceRequest
from bot.core.watching.listing import NodeChanges
from bot.tpu.base import VersionApi
from bot.tpu.errors import error_from_http
from bot.tpu.transport import CallObserver, Transport, make_credentials
from bot.tpu.v1alpha1 import V1Alpha1Api
from bot.tpu.v2 import V2Api
from bot.usecases.ports import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    NotSupported,
    PermissionDenied,
    ResourceExhausted,
    TpuError,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "AlreadyExists",
    "CallObserver",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "NotSupported",
    "PermissionDenied",
    "ProjectScope",
    "ResourceExhausted",
    "TpuClient",
    "TpuError",
    "Unauthenticated",
    "Unavailable",
    "error_from_http",
    "make_credentials",
]

API_VERSIONS = ("v2", "v1alpha1")


def _project_of(name: str) -> str:
    parts = name.split("/")
    if len(parts) < 2 or parts[0] != "projects":
        raise InvalidArgument(f"not a resource name: {name!r}")
    return parts[1]


class TpuClient:
    """Thread-safe client for the Cloud TPU API. Build once; share between threads."""

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials | None = None,
        *,
        apis: Mapping[str, str] | None = None,
        default_api: str = "v2",
        timeout: float = 30.0,
        retries: int = 4,
        backoff_seconds: float = 1.0,
        page_size: int = 1000,
        sleep: Callable[[float], None] = time.sleep,
        request_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        observer: CallObserver | None = None,
        budget: RequestBudget | None = None,
    ) -> None:
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.timeout, self.retries, self.page_size = timeout, retries, page_size
        for version in (default_api, *(apis or {}).values()):
            if version not in API_VERSIONS:
                raise ValueError(f"unknown TPU API version {version!r} (v2 or v1alpha1)")
        self._apis = dict(apis or {})
        self._default_api = default_api
        self._new_request_id = request_id
        transport = Transport(
            self.endpoint,
            credentials or make_credentials(self.endpoint),
            timeout=timeout,
            retries=retries,
            backoff_seconds=backoff_seconds,
            sleep=sleep,
            observer=observer,
            budget=budget,
        )
        self.v1alpha1 = V1Alpha1Api(transport, page_size)
        self.v2 = V2Api(transport, page_size)

    def api_of(self, project: str) -> str:
        """The API version this client speaks to `project`."""
        return self._apis.get(project, self._default_api)

    def _api(self, project: str) -> VersionApi:
        return self.v2 if self.api_of(project) == "v2" else self.v1alpha1

    def _by_name(self, name: str) -> VersionApi:
        return self._api(_project_of(name))

    def _v2_only(self, project: str, what: str) -> V2Api:
        if self.api_of(project) != "v2":
            raise NotSupported(
                f"{what} needs the TPU API v2; project {project} is configured with "
                f"api: {self.api_of(project)}."
            )
        return self.v2

    # ----- nodes -----------------------------------------------------------------------------

    def list_nodes(self, project: str, locations: Sequence[str] = ("-",)) -> NodeListing:
        """Every node of a project in the given zones (`-` = all, one paginated call)."""
        return self._api(project).list_nodes(project, locations)

    def list_node_changes(
        self,
        project: str,
        locations: Sequence[str] = ("-",),
        known: Mapping[str, int] | None = None,
        wanted: Collection[str] = (),
    ) -> NodeChanges:
        """The watcher's listing: the same requests as `list_nodes`, models only for nodes whose
        fingerprint differs from `known` (or that are `wanted`); see `NodeChanges`."""
        changes = self._api(project).list_node_changes(project, locations, known or {}, wanted)
        return dataclasses.replace(changes, has_queues=self.api_of(project) == "v2")

    def get_node(self, name: str) -> Node:
        return self._by_name(name).get_node(name)

    def create_node(
        self, project: str, zone: str, node_id: str, spec: NodeSpec, request_id: str | None = None
    ) -> Operation:
        return self._api(project).create_node(
            project, zone, node_id, spec, request_id or self._new_request_id()
        )

    def delete_node(self, name: str, request_id: str | None = None) -> Operation:
        return self._by_name(name).delete_node(name, request_id or self._new_request_id())

    def stop_node(self, name: str) -> Operation:
        return self._by_name(name).stop_node(name)

    def start_node(self, name: str) -> Operation:
        return self._by_name(name).start_node(name)

    def reimage_node(self, name: str, tensorflow_version: str) -> Operation:
        """v1alpha1 only: a v2 TPU VM is deleted and recreated with the runtime version."""
        project = _project_of(name)
        if self.api_of(project) == "v2":
            raise NotSupported(
                "Reimage does not exist in the TPU API v2: delete the node and create it again "
                f"with runtime version {tensorflow_version}."
            )
        return self.v1alpha1.reimage_node(name, tensorflow_version)

    def label_node(self, name: str, labels: Mapping[str, str]) -> Operation:
        """Replace a node's labels (v2 nodes.patch, updateMask=labels)."""
        return self._v2_only(_project_of(name), "Changing labels").label_node(name, labels)

    def guest_attributes(self, name: str, query_path: str = "") -> list[dict[str, Any]]:
        v2 = self._v2_only(_project_of(name), "Guest attributes")
        return v2.guest_attributes(name, query_path)

    # ----- operations ------------------------------------------------------------------------

    def get_operation(self, name: str) -> Operation:
        return self._by_name(name).get_operation(name)

    def list_operations(self, project: str, location: str = "-") -> list[Operation]:
        return self._api(project).list_operations(project, location)

    def cancel_operation(self, name: str) -> None:
        self._by_name(name).cancel_operation(name)

    # ----- catalog ---------------------------------------------------------------------------

    def list_locations(self, project: str) -> list[Location]:
        return self._api(project).list_locations(project)

    def list_accelerator_types(self, project: str, zone: str) -> list[AcceleratorType]:
        return self._api(project).list_accelerator_types(project, zone)

    def list_runtime_versions(self, project: str, zone: str) -> list[TensorFlowVersion]:
        """The software versions a zone offers: runtime versions (v2) or TensorFlow versions."""
        return self._api(project).list_software_versions(project, zone)

    # The use cases' name for the same list.
    list_tensorflow_versions = list_runtime_versions

    # ----- queued resources (v2) -------------------------------------------------------------

    def list_queued_resources(
        self, project: str, locations: Sequence[str] = ("-",)
    ) -> QueuedListing:
        """A project's queued resources; none for a v1alpha1 project (it has no such thing)."""
        if self.api_of(project) != "v2":
            return QueuedListing(())
        return self.v2.list_queued_resources(project, locations)

    def get_queued_resource(self, name: str) -> QueuedResource:
        return self._v2_only(_project_of(name), "Queued resources").get_queued_resource(name)

    def create_queued_resource(
        self,
        project: str,
        zone: str,
        queued_id: str,
        request: QueuedResourceRequest,
        request_id: str | None = None,
    ) -> Operation:
        v2 = self._v2_only(project, "Queued resources")
        rid = request_id or self._new_request_id()
        return v2.create_queued_resource(project, zone, queued_id, request, rid)

    def delete_queued_resource(
        self, name: str, *, force: bool = False, request_id: str | None = None
    ) -> Operation:
        v2 = self._v2_only(_project_of(name), "Queued resources")
        return v2.delete_queued_resource(name, request_id or self._new_request_id(), force)

    def reset_queued_resource(self, name: str) -> Operation:
        return self._v2_only(_project_of(name), "Queued resources").reset_queued_resource(name)

    # ----- references ------------------------------------------------------------------------

    def resolve(self, text: str, scopes: Sequence[ProjectScope]) -> Node:
        """What a person typed -> the one node it names, among the projects the bot manages."""
        ref = noderef.parse_ref(text)
        scope.require(ref.project, ref.zone, scopes)  # before any call: nothing outside is read
        qualified: NodeName | None = ref.qualified
        if qualified is not None:
            try:
                return self.get_node(qualified.full)
            except NotFound:
                pass  # fall through to a listing, which can suggest what was meant
        candidates: list[Node] = []
        partial = False
        for where in scopes:
            if ref.project is not None and where.project != ref.project:
                continue
            listing = self.list_nodes(where.project, where.locations)
            candidates.extend(listing.nodes)
            partial = partial or not listing.complete
        return noderef.resolve(ref, candidates, partial=partial)

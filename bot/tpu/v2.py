"""The v2 API (TPU VMs and queued resources): runtime versions, labels patch, no reimage.

Node create and delete take no requestId in v2: the node id and ALREADY_EXISTS are the
idempotency. When an attempt of ours may already have been applied (the library retried the
call, or the caller retries with the request id it used before), a create refused with
ALREADY_EXISTS, or a delete refused because the node is busy or gone, answers with that node's
latest create (delete) operation instead of failing. The memory of request ids is this
process's only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.core.models import NodeSpec, RuntimeVersion
from bot.core.names import NodeName
from bot.core.operations import Operation
from bot.core.queued import QueuedListing, QueuedResource, QueuedResourceRequest
from bot.tpu import wire_v2
from bot.tpu.base import VersionApi
from bot.usecases.ports import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    TpuError,
)


class V2Api(VersionApi):
    version = "v2"
    prefix = "v2."
    wire = wire_v2

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._attempted: OrderedDict[str, str] = OrderedDict()  # request id -> "verb target"
        self._lock = threading.Lock()

    def _seen_before(self, request_id: str, key: str) -> bool:
        """Remember this attempt; True if the same request id already tried `key`."""
        with self._lock:
            seen = self._attempted.get(request_id) == key
            self._attempted[request_id] = key
            while len(self._attempted) > 1000:
                self._attempted.popitem(last=False)
        return seen

    def _mutate(
        self,
        method: str,
        request: Any,
        target: str,
        verb: str,
        request_id: str,
        refusals: tuple[type[TpuError], ...],
    ) -> Operation:
        """Run a create or delete; if an attempt of ours may already have been applied and
        the service refuses the repeat, answer with the operation that attempt started."""
        retry = self._seen_before(request_id, f"{verb} {target}")
        http = self.transport.http()
        try:
            return self.operation(self.transport.execute(self.key(method), request, http=http))
        except refusals:
            if not (retry or http.sent > 1):
                raise
            own = self._latest_operation(target, verb)
            if own is None:
                raise
            return own

    def _latest_operation(self, target: str, verb: str) -> Operation | None:
        """The latest `verb` operation on `target`: ours, when our retry was refused."""
        name = NodeName.parse(target)
        ops = [
            op
            for op in self.list_operations(name.project, name.zone)
            if op.verb == verb and op.target == target
        ]
        ops.sort(key=lambda op: op.create_time or datetime.min.replace(tzinfo=UTC))
        return ops[-1] if ops else None

    def create_node(
        self, project: str, zone: str, node_id: str, spec: NodeSpec, request_id: str
    ) -> Operation:
        parent = f"projects/{project}/locations/{zone}"
        request = self.nodes.create(parent=parent, nodeId=node_id, body=wire_v2.node_body(spec))
        target = f"{parent}/nodes/{node_id}"
        return self._mutate("nodes.create", request, target, "create", request_id, (AlreadyExists,))

    def delete_node(self, name: str, request_id: str) -> Operation:
        request = self.nodes.delete(name=name)
        refusals = (FailedPrecondition, NotFound)
        return self._mutate("nodes.delete", request, name, "delete", request_id, refusals)

    def list_operations(self, project: str, location: str = "-") -> list[Operation]:
        """Operations; across every zone an unreachable one is left out rather than failing."""
        collection = self.operations
        request = collection.list(
            name=f"projects/{project}/locations/{location}",
            pageSize=self.page_size,
            **({"returnPartialSuccess": True} if location == "-" else {}),
        )
        return [
            self.operation(item)
            for page in self.transport.pages(self.key("operations.list"), collection, request)
            for item in page.get("operations", [])
        ]

    def label_node(self, name: str, labels: Mapping[str, str]) -> Operation:
        """Replace the node's labels (patch with updateMask=labels)."""
        request = self.nodes.patch(name=name, updateMask="labels", body={"labels": dict(labels)})
        return self.operation(self.execute("nodes.patch", request))

    def guest_attributes(self, name: str, query_path: str = "") -> list[dict[str, Any]]:
        body = {"queryPath": query_path} if query_path else {}
        request = self.nodes.getGuestAttributes(name=name, body=body)
        return list(self.execute("nodes.getGuestAttributes", request).get("guestAttributes", []))

    def list_software_versions(self, project: str, zone: str) -> list[RuntimeVersion]:
        collection = self.locations.runtimeVersions()
        request = collection.list(parent=f"projects/{project}/locations/{zone}")
        return [
            RuntimeVersion(name=item["name"], version=item.get("version", ""))
            for page in self.transport.pages(self.key("runtimeVersions.list"), collection, request)
            for item in page.get("runtimeVersions", [])
        ]

    # ----- queued resources ------------------------------------------------------------------

    @property
    def queued(self) -> Any:
        return self.locations.queuedResources()

    def list_queued_resources(
        self, project: str, locations: Sequence[str] = ("-",)
    ) -> QueuedListing:
        found: list[QueuedResource] = []
        unreachable: tuple[str, ...] = ()
        pages = self.zonal_pages("queuedResources.list", self.queued, project, locations)
        for page in pages:
            found.extend(wire_v2.queued_from_api(q) for q in page.data.get("queuedResources", []))
            unreachable = page.unreachable or unreachable
        return QueuedListing(tuple(found), unreachable)

    def get_queued_resource(self, name: str) -> QueuedResource:
        data = self.execute("queuedResources.get", self.queued.get(name=name))
        return wire_v2.queued_from_api(data)

    def create_queued_resource(
        self,
        project: str,
        zone: str,
        queued_id: str,
        request: QueuedResourceRequest,
        request_id: str,
    ) -> Operation:
        call = self.queued.create(
            parent=f"projects/{project}/locations/{zone}",
            queuedResourceId=queued_id,
            requestId=request_id,
            body=wire_v2.queued_body(request),
        )
        return self.operation(self.execute("queuedResources.create", call))

    def delete_queued_resource(self, name: str, request_id: str, force: bool) -> Operation:
        call = self.queued.delete(name=name, requestId=request_id, force=force)
        return self.operation(self.execute("queuedResources.delete", call))

    def reset_queued_resource(self, name: str) -> Operation:
        call = self.queued.reset(name=name, body={})
        return self.operation(self.execute("queuedResources.reset", call))

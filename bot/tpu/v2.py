"""The v2 API (TPU VMs and queued resources): runtime versions, labels patch, no reimage.

Node create and delete take no requestId in v2: the node id and ALREADY_EXISTS are the
idempotency. A create whose first attempt may have been applied (the library retried it, or the
caller retries with the request id it used before) and then meets ALREADY_EXISTS adopts the
create operation of that node instead of failing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.models import NodeSpec, Operation, RuntimeVersion
from bot.core.queued import QueuedListing, QueuedResource, QueuedResourceRequest
from bot.tpu import wire_v2
from bot.tpu.base import VersionApi
from bot.usecases.ports import AlreadyExists, Unavailable


class V2Api(VersionApi):
    version = "v2"
    prefix = "v2."
    wire = wire_v2

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._attempted: OrderedDict[str, str] = OrderedDict()  # request id -> node name
        self._lock = threading.Lock()

    def _seen_before(self, request_id: str, name: str) -> bool:
        """Remember this create attempt; True if the same request id already tried `name`."""
        with self._lock:
            seen = self._attempted.get(request_id) == name
            self._attempted[request_id] = name
            while len(self._attempted) > 1000:
                self._attempted.popitem(last=False)
        return seen

    def create_node(
        self, project: str, zone: str, node_id: str, spec: NodeSpec, request_id: str
    ) -> Operation:
        parent = f"projects/{project}/locations/{zone}"
        name = f"{parent}/nodes/{node_id}"
        retry = self._seen_before(request_id, name)
        request = self.nodes.create(parent=parent, nodeId=node_id, body=wire_v2.node_body(spec))
        http = self.transport.http()
        try:
            return self.operation(
                self.transport.execute(self.key("nodes.create"), request, http=http)
            )
        except AlreadyExists:
            if not (retry or http.sent > 1):
                raise
            own = self._create_operation(project, zone, name)
            if own is None:
                raise
            return own

    def _create_operation(self, project: str, zone: str, name: str) -> Operation | None:
        """The latest create operation of `name`: ours, when our retry met ALREADY_EXISTS."""
        ops = [
            op
            for op in self.list_operations(project, zone)
            if op.verb == "create" and op.target == name
        ]
        return ops[-1] if ops else None

    def delete_node(self, name: str, request_id: str) -> Operation:
        return self.operation(self.execute("nodes.delete", self.nodes.delete(name=name)))

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
        unreachable: list[str] = []
        for location in locations:
            parent = f"projects/{project}/locations/{location}"
            collection = self.queued
            request = collection.list(parent=parent, pageSize=self.page_size)
            key = self.key("queuedResources.list")
            try:
                for page in self.transport.pages(key, collection, request):
                    found.extend(
                        wire_v2.queued_from_api(q) for q in page.get("queuedResources", [])
                    )
                    unreachable.extend(page.get("unreachable", []))
            except Unavailable:
                if location == "-":
                    raise
                unreachable.append(parent)
        return QueuedListing(tuple(found), tuple(dict.fromkeys(unreachable)))

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

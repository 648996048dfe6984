"""What both API versions do the same way: nodes list/get/stop/start, operations, catalog.

A subclass names its version, its metrics prefix and its wire module.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from bot.core.models import (
    AcceleratorType,
    Location,
    Node,
    NodeListing,
    NodeSpec,
    TensorFlowVersion,
)
from bot.core.operations import Operation
from bot.core.watching.diff import Snapshot, snapshot_of
from bot.core.watching.listing import NodeChanges
from bot.tpu.transport import Transport
from bot.usecases.ports import Unavailable


@dataclass(frozen=True)
class Page:
    """One page of a list call; the closing one carries the zones that did not answer."""

    data: dict[str, Any]
    unreachable: tuple[str, ...]
    closing: bool = False  # no answer of the API's: the listing's end


class VersionApi:
    """One API version's service behind the neutral methods."""

    version = ""
    prefix = ""  # metrics/stats key prefix: "" for v1alpha1, "v2." for v2
    wire: ModuleType

    def __init__(self, transport: Transport, page_size: int) -> None:
        self.transport = transport
        self.page_size = page_size
        self.service: Any = transport.build(self.version)

    def key(self, method: str) -> str:
        return self.prefix + method

    def execute(self, method: str, request: Any) -> dict[str, Any]:
        return self.transport.execute(self.key(method), request)

    @property
    def locations(self) -> Any:
        return self.service.projects().locations()

    @property
    def nodes(self) -> Any:
        return self.locations.nodes()

    @property
    def operations(self) -> Any:
        return self.locations.operations()

    def node(self, data: dict[str, Any]) -> Node:
        return self.wire.node_from_api(data)

    def operation(self, data: dict[str, Any]) -> Operation:
        return self.wire.operation_from_api(data)

    # ----- nodes -----------------------------------------------------------------------------

    def zonal_pages(
        self, method: str, collection: Any, project: str, locations: Sequence[str]
    ) -> Iterator[Page]:
        """Every page of a zonal list call over `locations` (`-` = all, one paginated call).
        Zones the API names as unreachable, or that cannot be answered when asked one by one,
        are collected in the last page's `unreachable` (a listing that is partial, never a
        failure); a wildcard listing that cannot be answered at all fails."""
        unreachable: list[str] = []
        for location in locations:
            parent = f"projects/{project}/locations/{location}"
            request = collection.list(parent=parent, pageSize=self.page_size)
            try:
                for page in self.transport.pages(self.key(method), collection, request):
                    unreachable.extend(page.get("unreachable", []))
                    yield Page(page, ())
            except Unavailable:
                if location == "-":
                    raise
                unreachable.append(parent)
        yield Page({}, tuple(dict.fromkeys(unreachable)), closing=True)

    def list_nodes(self, project: str, locations: Sequence[str] = ("-",)) -> NodeListing:
        """Every node in the given zones; unreachable zones make the listing partial."""
        nodes: list[Node] = []
        unreachable: tuple[str, ...] = ()
        for page in self.zonal_pages("nodes.list", self.nodes, project, locations):
            nodes.extend(self.node(item) for item in page.data.get("nodes", []))
            unreachable = page.unreachable or unreachable
        return NodeListing(nodes=tuple(nodes), unreachable=unreachable)

    def list_node_changes(
        self,
        project: str,
        locations: Sequence[str],
        known: Mapping[str, int],
        wanted: Collection[str] = (),
    ) -> NodeChanges:
        """The same listing (same requests), but a model only for a node whose fingerprint is
        not the one in `known`, or whose name is `wanted`; raw pages are dropped page by page."""
        nodes: list[Node | Snapshot] = []
        unchanged: list[str] = []
        prints: dict[str, int] = {}
        unreachable: tuple[str, ...] = ()
        in_queues: list[str] = []
        pages = spot = 0
        fingerprint = self.wire.fingerprint
        for page in self.zonal_pages("nodes.list", self.nodes, project, locations):
            pages += 0 if page.closing else 1
            unreachable = page.unreachable or unreachable
            for item in page.data.get("nodes", []):
                name = str(item["name"])
                scheduling = item.get("schedulingConfig")
                if scheduling and (scheduling.get("spot") or scheduling.get("preemptible")):
                    spot += 1
                if item.get("queuedResource"):
                    in_queues.append(name)
                prints[name] = mark = fingerprint(item)
                if known.get(name) == mark and name not in wanted:
                    unchanged.append(name)
                elif name in wanted:
                    nodes.append(self.node(item))
                else:
                    nodes.append(snapshot_of(self.node(item)))
        return NodeChanges(
            tuple(nodes),
            tuple(unchanged),
            prints,
            unreachable,
            pages,
            spot,
            in_queues=tuple(in_queues),
        )

    def create_node(
        self, project: str, zone: str, node_id: str, spec: NodeSpec, request_id: str
    ) -> Operation:
        raise NotImplementedError

    def delete_node(self, name: str, request_id: str) -> Operation:
        raise NotImplementedError

    def list_software_versions(self, project: str, zone: str) -> list[TensorFlowVersion]:
        raise NotImplementedError

    def get_node(self, name: str) -> Node:
        return self.node(self.execute("nodes.get", self.nodes.get(name=name)))

    def stop_node(self, name: str) -> Operation:
        return self.operation(self.execute("nodes.stop", self.nodes.stop(name=name, body={})))

    def start_node(self, name: str) -> Operation:
        return self.operation(self.execute("nodes.start", self.nodes.start(name=name, body={})))

    # ----- operations ------------------------------------------------------------------------

    def get_operation(self, name: str) -> Operation:
        return self.operation(self.execute("operations.get", self.operations.get(name=name)))

    def list_operations(self, project: str, location: str = "-") -> list[Operation]:
        collection = self.operations
        request = collection.list(
            name=f"projects/{project}/locations/{location}", pageSize=self.page_size
        )
        return [
            self.operation(item)
            for page in self.transport.pages(self.key("operations.list"), collection, request)
            for item in page.get("operations", [])
        ]

    def cancel_operation(self, name: str) -> None:
        self.execute("operations.cancel", self.operations.cancel(name=name))

    # ----- catalog ---------------------------------------------------------------------------

    def list_locations(self, project: str) -> list[Location]:
        collection = self.locations
        request = collection.list(name=f"projects/{project}", pageSize=self.page_size)
        return [
            Location(
                name=item["name"],
                location_id=item.get("locationId", ""),
                display_name=item.get("displayName", ""),
            )
            for page in self.transport.pages(self.key("locations.list"), collection, request)
            for item in page.get("locations", [])
        ]

    def list_accelerator_types(self, project: str, zone: str) -> list[AcceleratorType]:
        collection = self.locations.acceleratorTypes()
        request = collection.list(parent=f"projects/{project}/locations/{zone}")
        return [
            AcceleratorType(name=item["name"], type=item.get("type", ""))
            for page in self.transport.pages(self.key("acceleratorTypes.list"), collection, request)
            for item in page.get("acceleratorTypes", [])
        ]

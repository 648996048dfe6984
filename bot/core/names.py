"""Resource names, once: the node name pattern, the id rule, and the short form people read
(nodes, queued resources, instances, their groups, resize requests and reservations alike)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

NODE_NAME = re.compile(r"^projects/([^/]+)/locations/([^/]+)/nodes/([^/]+)$")
# Node ids as the API accepts them: RFC 1035 labels.
NODE_ID = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class NodeName:
    """The parts of a full node resource name."""

    project: str
    zone: str
    node_id: str

    @property
    def full(self) -> str:
        return f"projects/{self.project}/locations/{self.zone}/nodes/{self.node_id}"

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.zone}"

    @property
    def short(self) -> str:
        return f"{self.zone}/{self.node_id}"

    @property
    def display(self) -> str:
        return f"{self.project}/{self.zone}/{self.node_id}"

    @classmethod
    def parse(cls, name: str) -> NodeName:
        match = NODE_NAME.match(name)
        if not match:
            raise ValueError(f"not a node resource name: {name!r}")
        return cls(*match.groups())


class Kind(enum.StrEnum):
    """The collections of zonal resources the bot names (a new kind is a new member)."""

    NODE = "nodes"
    QUEUED_RESOURCE = "queuedResources"
    OPERATION = "operations"
    INSTANCE = "instances"
    INSTANCE_GROUP = "instanceGroupManagers"
    RESIZE_REQUEST = "resizeRequests"  # within an instance group
    RESERVATION = "reservations"
    RESERVATION_BLOCK = "reservationBlocks"  # within a reservation
    SUB_BLOCK = "reservationSubBlocks"  # within a reservation block

    @property
    def placement(self) -> str:
        """The path word before the zone: `locations` for nodes and queued resources, `zones`
        for instances and the capacity around them."""
        return "locations" if self in _LOCATED else "zones"


_LOCATED = frozenset({Kind.NODE, Kind.QUEUED_RESOURCE, Kind.OPERATION})
ZONES = "zones"

# projects/P/<placement>/Z/[<collection>/ID/...]<collection>/ID: the `locations` of nodes and
# queued resources, the `zones` of instances; a resize request or a sub-block sits within its
# parents (`instanceGroupManagers/M/resizeRequests/R`).
RESOURCE_NAME = re.compile(
    r"^projects/([^/]+)/(locations|zones)/([^/]+)/((?:[A-Za-z]+/[^/]+/){0,2})([A-Za-z]+)/([^/]+)$"
)


@dataclass(frozen=True)
class ResourceName:
    """Any zonal resource, once: its project, zone, collection and id. Every full name the bot
    reads is parsed here and nowhere else."""

    project: str
    zone: str
    kind: str  # the collection: nodes, queuedResources, operations, instances...
    id: str
    placement: str = "locations"
    # The parents between the zone and this resource, outermost first: (collection, id) pairs.
    within: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        project: str,
        zone: str,
        kind: Kind,
        id: str,
        within: tuple[tuple[str, str], ...] = (),
        placement: str | None = None,
    ) -> ResourceName:
        return cls(project, zone, kind.value, id, placement or kind.placement, within)

    @property
    def full(self) -> str:
        inner = "".join(f"/{collection}/{id}" for collection, id in self.within)
        return f"{self.parent}{inner}/{self.kind}/{self.id}"

    @property
    def parent(self) -> str:
        """`projects/P/<placement>/Z`: where the resource's zonal collections are."""
        return f"projects/{self.project}/{self.placement}/{self.zone}"

    @property
    def owner(self) -> ResourceName | None:
        """The resource this one sits within (a resize request's group), if any."""
        if not self.within:
            return None
        (collection, id), rest = self.within[-1], self.within[:-1]
        return ResourceName(self.project, self.zone, collection, id, self.placement, rest)

    @property
    def display(self) -> str:
        """`P/Z/ID` (`P/Z/PARENT/ID` within a parent): what people read and type."""
        inner = "".join(f"{id}/" for _, id in self.within)
        return f"{self.project}/{self.zone}/{inner}{self.id}"

    @property
    def in_zones(self) -> bool:
        """Named under `zones/` (an instance and the capacity around it)."""
        return self.placement == ZONES

    @property
    def is_instance(self) -> bool:
        return self.kind == Kind.INSTANCE and self.in_zones

    @property
    def is_queued_resource(self) -> bool:
        return self.kind == Kind.QUEUED_RESOURCE

    @property
    def is_node(self) -> bool:
        return self.kind == Kind.NODE

    def sibling(self, kind: Kind, id: str | None = None) -> ResourceName:
        """The resource of `kind` in the same project and zone (with the same id by default)."""
        return ResourceName.of(self.project, self.zone, kind, self.id if id is None else id)

    @classmethod
    def parse(cls, name: str) -> ResourceName:
        match = RESOURCE_NAME.match(name)
        if not match:
            raise ValueError(f"not a zonal resource name: {name!r}")
        project, placement, zone, inner, kind, id = match.groups()
        parts = inner.strip("/").split("/") if inner else []
        within = tuple(zip(parts[::2], parts[1::2], strict=True))
        return cls(project, zone, kind, id, placement, within)

    @classmethod
    def find(cls, name: str) -> ResourceName | None:
        """`parse`, or None for anything that is not a zonal resource name."""
        try:
            return cls.parse(name)
        except ValueError:
            return None


def zone_of(name: str) -> str:
    """The zone a full resource name is in ("" if it names none)."""
    found = ResourceName.find(name)
    return found.zone if found else ""


def project_of(name: str) -> str:
    found = ResourceName.find(name)
    return found.project if found else ""


def short_name(name: str) -> str:
    """`projects/P/locations/Z/nodes/N` -> `P/Z/N` (what people type); anything else unchanged."""
    found = ResourceName.find(name)
    return found.display if found else name


class Named:
    """A resource known by its full name (`name`), and the parts of that name: mixed into the
    models named by a ResourceName (instances, groups, requests, reservations)."""

    name: str

    @property
    def ref(self) -> ResourceName:
        return ResourceName.parse(self.name)

    @property
    def project(self) -> str:
        return self.ref.project

    @property
    def zone(self) -> str:
        return self.ref.zone

    @property
    def id(self) -> str:
        return self.ref.id

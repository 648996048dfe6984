"""Resource names, once: the node name pattern, the id rule, and the short form people read
(nodes and queued resources alike)."""

from __future__ import annotations

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


RESOURCE_NAME = re.compile(r"^projects/([^/]+)/locations/([^/]+)/([A-Za-z]+)/([^/]+)$")


@dataclass(frozen=True)
class ResourceName:
    """Any zonal resource the bot watches: a node or a queued resource."""

    project: str
    zone: str
    kind: str  # the collection: nodes, queuedResources
    id: str

    @property
    def display(self) -> str:
        return f"{self.project}/{self.zone}/{self.id}"

    @property
    def is_queued_resource(self) -> bool:
        return self.kind == "queuedResources"

    @classmethod
    def parse(cls, name: str) -> ResourceName:
        match = RESOURCE_NAME.match(name)
        if not match:
            raise ValueError(f"not a zonal resource name: {name!r}")
        return cls(*match.groups())


def short_name(name: str) -> str:
    """`projects/P/locations/Z/nodes/N` -> `P/Z/N` (what people type); anything else unchanged."""
    try:
        return ResourceName.parse(name).display
    except ValueError:
        return name

"""Pure: what a person types (`name`, `zone/name`, `project/zone/name`, full name) -> a node."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bot.core.names import NODE_ID, NODE_NAME, NodeName, ResourceName
from bot.core.text import Code, Said, say

_PART = re.compile(r"^[a-z0-9][-a-z0-9.:]*$")
# A TPU VM instance's full name reads like a node's: `projects/P/zones/Z/instances/N`.
_INSTANCE_NAME = re.compile(r"^projects/([^/]+)/zones/([^/]+)/instances/([^/]+)$")

REF_HELP = say(
    "NODE is ",
    Code("name"),
    ", ",
    Code("zone/name"),
    ", ",
    Code("project/zone/name"),
    " or ",
    Code("projects/P/locations/Z/nodes/N"),
)


class NodeRefError(Exception):
    """The reference does not name exactly one node; `candidates` are full names to offer."""

    def __init__(self, message: Said, candidates: Sequence[str] = ()) -> None:
        super().__init__(str(message))
        self.message = message
        self.candidates = tuple(candidates)


class InvalidNodeRef(NodeRefError):
    pass


class UnknownNode(NodeRefError):
    pass


class AmbiguousNode(NodeRefError):
    pass


@dataclass(frozen=True)
class NodeRef:
    node_id: str
    zone: str | None = None
    project: str | None = None

    @property
    def text(self) -> str:
        """Back to the form a person types."""
        return "/".join(p for p in (self.project, self.zone, self.node_id) if p)

    @property
    def qualified(self) -> NodeName | None:
        if self.project and self.zone:
            return NodeName(self.project, self.zone, self.node_id)
        return None

    def matches(self, name: NodeName) -> bool:
        return (
            name.node_id == self.node_id
            and (self.zone is None or name.zone == self.zone)
            and (self.project is None or name.project == self.project)
        )


def _name_of(item: Named) -> NodeName:
    parsed = ResourceName.parse(item.name)
    return NodeName(parsed.project, parsed.zone, parsed.id)


def parse_ref(text: str, kind: str = "node") -> NodeRef:
    """What a person typed -> a reference (`kind` names what it refers to in errors)."""
    text = text.strip()
    match = NODE_NAME.match(text) or _INSTANCE_NAME.match(text)
    parts = list(match.groups())[::-1] if match else text.split("/")[::-1]
    if not text or len(parts) > 3 or not all(parts):
        raise InvalidNodeRef(say(Code(text), f" is not a {kind} reference. ", REF_HELP, "."))
    node_id, *rest = parts
    if not NODE_ID.match(node_id):
        raise InvalidNodeRef(
            say(
                Code(node_id),
                f" is not a {kind} name: lowercase letters, digits and hyphens, ",
                "starting with a letter.",
            )
        )
    for part in rest:
        if not _PART.match(part):
            raise InvalidNodeRef(say(Code(part), " is not a zone or project id. ", REF_HELP, "."))
    zone = rest[0] if rest else None
    project = rest[1] if len(rest) > 1 else None
    return NodeRef(node_id=node_id, zone=zone, project=project)


class Named(Protocol):
    """Anything with a full zonal resource name: a node, an instance..."""

    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


def resolve(ref: NodeRef, nodes: Iterable[T], partial: bool = False) -> T:
    """Pick the one TPU `ref` names from a listing (nodes, instances, or both); errors list the
    candidates to try."""
    listing = list(nodes)
    names = [_name_of(n) for n in listing]
    found = [node for node, name in zip(listing, names, strict=True) if ref.matches(name)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        shown = sorted(_name_of(n).display for n in found)
        raise AmbiguousNode(
            say(
                Code(ref.node_id),
                f" names {len(found)} nodes; say which one with zone/name ",
                "or project/zone/name.",
            ),
            shown,
        )
    ids = sorted({n.node_id for n in names})
    close = set(difflib.get_close_matches(ref.node_id, ids, n=5, cutoff=0.6))
    close |= {i for i in ids if ref.node_id in i}
    suggestions = sorted(n.display for n in names if n.node_id in close)[:10]
    where = f" in {ref.zone}" if ref.zone else ""
    note = " Some zones did not answer, so the node may be there." if partial else ""
    hint = " Did you mean one of these?" if suggestions else ""
    raise UnknownNode(say("No node ", Code(ref.node_id), f"{where}.{note}{hint}"), suggestions)

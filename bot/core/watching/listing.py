"""Pure: what a light node listing answers - models only for the nodes that may have changed.

The TPU adapter reduces each listed node to a fingerprint of the fields the watcher reads (state,
health, accelerator type, labels, symptoms, maintenance). A node whose fingerprint equals the one
it had last tick is named in `unchanged` and never becomes a model; the others (and the ones the
caller asked for by name) are in `nodes`. Fingerprints are opaque and live in memory only: a
mismatch means "look closer" (the snapshot comparison decides), never "changed".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.models import Node


@dataclass(frozen=True)
class NodeChanges:
    nodes: tuple[Node, ...] = ()  # new, changed, or wanted by name
    unchanged: tuple[str, ...] = ()  # listed, same fingerprint as last tick, not wanted
    fingerprints: dict[str, int] = field(default_factory=dict)  # every listed node's
    unreachable: tuple[str, ...] = ()  # locations that did not answer
    pages: int = 0  # requests the listing took
    spot: int = 0  # listed nodes that are spot or preemptible
    has_queues: bool = True  # the project's API lists queued resources (a request of its own)

    @property
    def listed(self) -> int:
        return len(self.nodes) + len(self.unchanged)

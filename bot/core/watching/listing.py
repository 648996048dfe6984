"""Pure: what a light node listing answers - models only for the nodes that may have changed.

The TPU adapter reduces each listed node to a fingerprint of the fields the watcher reads (state,
health, accelerator type, labels, symptoms, maintenance). A node whose fingerprint equals the one
it had last tick is named in `unchanged` and never becomes a model; the others (and the ones the
caller asked for by name) are in `nodes`: a snapshot for a node that changed (its model is
built and dropped node by node, so a first tick never holds the whole fleet as models), the model
for a node asked for by name. Fingerprints are opaque and live in memory only: a
mismatch means "look closer" (the snapshot comparison decides), never "changed".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.models import Node
from bot.core.watching.diff import Snapshot


@dataclass(frozen=True)
class NodeChanges:
    # New or changed: their snapshots (the model is dropped at once); wanted by name: models.
    nodes: tuple[Node | Snapshot, ...] = ()
    unchanged: tuple[str, ...] = ()  # listed, same fingerprint as last tick, not wanted
    fingerprints: dict[str, int] = field(default_factory=dict)  # every listed node's
    unreachable: tuple[str, ...] = ()  # locations that did not answer
    pages: int = 0  # requests the listing took
    spot: int = 0  # listed nodes that are spot or preemptible
    has_queues: bool = True  # the project's API lists queued resources (a request of its own)
    in_queues: tuple[str, ...] = ()  # listed nodes a queued resource made (changed or not)

    @property
    def listed(self) -> int:
        return len(self.nodes) + len(self.unchanged)

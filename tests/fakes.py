"""Small fakes behind the use cases' ports (`bot.usecases.ports`), for tests that call the use
cases directly: an in-memory TPU API with scripted failures, an outbox that records the neutral
messages it is handed, and a directory of user groups. Storage is the real Store on SQLite."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.core import messages as m
from bot.core import noderef
from bot.core.models import (
    AcceleratorType,
    Node,
    NodeListing,
    NodeName,
    NodeSpec,
    NodeState,
    ProjectScope,
    TensorFlowVersion,
)
from bot.core.operations import Operation
from bot.core.records import Approval, ApprovalStatus, MessageRef
from bot.core.watching.diff import snapshot_of
from bot.core.watching.listing import NodeChanges
from bot.storage.store import Store
from bot.usecases.ports import AlreadyExists, FailedPrecondition, NotFound


class Crash(BaseException):
    """The process died here (raised through every `except Exception`, like a SIGKILL would
    stop the code)."""


@dataclass
class _Script:
    error: BaseException
    times: int
    after_apply: bool


class FakeTpu:
    """In-memory nodes and operations implementing `TpuApi`. `fail(method, error, times)` makes
    the next calls of a method raise; with `after_apply` the call takes effect first (the
    response was lost). `calls` counts every call by method name."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.nodes: dict[str, Node] = {}
        self.operations: dict[str, Operation] = {}
        self.calls: Counter[str] = Counter()
        self.types: dict[str, list[str]] = {}  # zone -> accelerator types offered
        self.versions: dict[str, list[str]] = {}  # zone -> versions offered
        self._scripts: dict[str, list[_Script]] = {}
        self._by_request: dict[str, str] = {}
        self._lock = threading.Lock()

    # ----- set up ---------------------------------------------------------------------------

    def add_node(self, name: str, **values: Any) -> Node:
        defaults: dict[str, Any] = {
            "accelerator_type": "v3-8",
            "tensorflow_version": "2.12.0",
            "state": NodeState.READY,
            "create_time": datetime(2026, 1, 1, tzinfo=self.clock().tzinfo),
        }
        node = Node(name=name, **{**defaults, **values})
        self.nodes[name] = node
        zone = NodeName.parse(name).zone
        self.types.setdefault(zone, ["v2-8", "v3-8", "v3-32"])
        self.versions.setdefault(zone, ["2.12.0", "2.15.0"])
        return node

    def fail(
        self, method: str, error: BaseException, times: int = 1, *, after_apply: bool = False
    ) -> None:
        self._scripts.setdefault(method, []).append(_Script(error, times, after_apply))

    def heal(self, method: str | None = None) -> None:
        """Forget scripted failures (of one method, or all)."""
        if method is None:
            self._scripts.clear()
        else:
            self._scripts.pop(method, None)

    def _gate(self, method: str) -> BaseException | None:
        """Count the call; raise a scripted failure, or return one to raise after applying."""
        with self._lock:
            self.calls[method] += 1
            scripts = self._scripts.get(method, [])
            if not scripts:
                return None
            script = scripts[0]
            script.times -= 1
            if script.times <= 0:
                scripts.pop(0)
        if script.after_apply:
            return script.error
        raise script.error

    def _operation(self, verb: str, target: str) -> Operation:
        ref = NodeName.parse(target)
        number = len(self.operations) + 1
        name = f"projects/{ref.project}/locations/{ref.zone}/operations/operation-{number:04d}"
        op = Operation(name, done=False, verb=verb, target=target, create_time=self.clock())
        self.operations[name] = op
        return op

    def _mutate(self, method: str, apply: Callable[[], Operation]) -> Operation:
        lost = self._gate(method)
        with self._lock:
            op = apply()
        if lost is not None:
            raise lost
        return op

    def _node(self, name: str) -> Node:
        node = self.nodes.get(name)
        if node is None:
            raise NotFound(f"Resource '{name}' was not found", http=404)
        return node

    def _transition(self, name: str, verb: str, need: NodeState, to: NodeState) -> Operation:
        node = self._node(name)
        if node.state is not need:
            raise FailedPrecondition(
                f"Node {name} is {node.state.value}; {verb} needs {need.value}", http=400
            )
        self.nodes[name] = replace(node, state=to)
        return self._operation(verb, name)

    # ----- TpuApi ---------------------------------------------------------------------------

    def list_nodes(self, project: str, locations: Sequence[str] = ("-",)) -> NodeListing:
        self._gate("list_nodes")
        return NodeListing(
            [
                n
                for n in self.nodes.values()
                if n.project == project and ("-" in locations or n.zone in locations)
            ]
        )

    def list_node_changes(
        self,
        project: str,
        locations: Sequence[str] = ("-",),
        known: Mapping[str, int] | None = None,
        wanted: Collection[str] = (),
    ) -> NodeChanges:
        """The light listing, honestly: a node whose snapshot is what `known` remembers is
        unchanged (unless wanted); the others come as models."""
        listing = self.list_nodes(project, locations)
        prints = {n.name: hash(snapshot_of(n)) for n in listing.nodes}
        known = known or {}
        changed = [
            n for n in listing.nodes if known.get(n.name) != prints[n.name] or n.name in wanted
        ]
        return NodeChanges(
            tuple(changed),
            tuple(n.name for n in listing.nodes if n not in changed),
            prints,
            tuple(listing.unreachable),
            pages=1,
            spot=sum(1 for n in listing.nodes if n.spot or n.preemptible),
            in_queues=tuple(n.name for n in listing.nodes if n.queued_resource),
        )

    def get_node(self, name: str) -> Node:
        self._gate("get_node")
        return self._node(name)

    def create_node(
        self, project: str, zone: str, node_id: str, spec: NodeSpec, request_id: str | None = None
    ) -> Operation:
        name = NodeName(project, zone, node_id).full

        def apply() -> Operation:
            if request_id and request_id in self._by_request:
                return self.operations[self._by_request[request_id]]
            if name in self.nodes:
                raise AlreadyExists(f"Node {name} already exists", http=409)
            self.nodes[name] = Node(
                name, spec.accelerator_type, spec.tensorflow_version, NodeState.CREATING
            )
            op = self._operation("create", name)
            if request_id:
                self._by_request[request_id] = op.name
            return op

        return self._mutate("create_node", apply)

    def delete_node(self, name: str, request_id: str | None = None) -> Operation:
        def apply() -> Operation:
            if request_id and request_id in self._by_request:
                return self.operations[self._by_request[request_id]]
            node = self._node(name)
            self.nodes[name] = replace(node, state=NodeState.DELETING)
            op = self._operation("delete", name)
            if request_id:
                self._by_request[request_id] = op.name
            return op

        return self._mutate("delete_node", apply)

    def stop_node(self, name: str) -> Operation:
        return self._mutate(
            "stop_node",
            lambda: self._transition(name, "stop", NodeState.READY, NodeState.STOPPING),
        )

    def start_node(self, name: str) -> Operation:
        return self._mutate(
            "start_node",
            lambda: self._transition(name, "start", NodeState.STOPPED, NodeState.STARTING),
        )

    def reimage_node(self, name: str, tensorflow_version: str) -> Operation:
        return self._mutate(
            "reimage_node",
            lambda: self._transition(name, "reimage", NodeState.READY, NodeState.REIMAGING),
        )

    def get_operation(self, name: str) -> Operation:
        self._gate("get_operation")
        op = self.operations.get(name)
        if op is None:
            raise NotFound(f"Operation '{name}' was not found", http=404)
        return op

    def list_operations(self, project: str, location: str = "-") -> list[Operation]:
        self._gate("list_operations")
        return [
            op
            for op in self.operations.values()
            if op.project == project and location in ("-", op.zone)
        ]

    def list_accelerator_types(self, project: str, zone: str) -> list[AcceleratorType]:
        self._gate("list_accelerator_types")
        if zone not in self.types:
            raise NotFound(f"Location {zone} was not found", http=404)
        prefix = f"projects/{project}/locations/{zone}/acceleratorTypes/"
        return [AcceleratorType(prefix + t, t) for t in self.types[zone]]

    def list_tensorflow_versions(self, project: str, zone: str) -> list[TensorFlowVersion]:
        self._gate("list_tensorflow_versions")
        if zone not in self.versions:
            raise NotFound(f"Location {zone} was not found", http=404)
        prefix = f"projects/{project}/locations/{zone}/tensorflowVersions/"
        return [TensorFlowVersion(prefix + v, v) for v in self.versions[zone]]

    def resolve(self, text: str, scopes: Sequence[ProjectScope]) -> Node:
        self._gate("resolve")
        ref = noderef.parse_ref(text)
        qualified = ref.qualified
        if qualified is not None and qualified.full in self.nodes:
            return self.nodes[qualified.full]
        projects = {s.project for s in scopes}
        candidates = [n for n in self.nodes.values() if n.project in projects]
        return noderef.resolve(ref, candidates, partial=False)


@dataclass(frozen=True)
class Sent:
    """One outbox row as the use case asked for it."""

    row: int
    kind: str  # post | ephemeral | update
    channel: str
    message: m.Message
    thread_outbox: int | None = None
    thread_ts: str | None = None
    target_outbox: int | None = None
    target_ts: str | None = None
    user: str = ""
    or_in_thread: MessageRef | None = None  # an ephemeral's other way to its person


@dataclass
class RecordingOutbox:
    """`OutboxPort` that records the neutral messages instead of rendering and queueing them."""

    sent: list[Sent] = field(default_factory=list)

    def _add(self, kind: str, channel: str, message: m.Message, **where: Any) -> int:
        row = len(self.sent) + 1
        self.sent.append(Sent(row, kind, channel, message, **where))
        return row

    def post(
        self,
        conn: Any,
        channel: str,
        message: m.Message,
        *,
        now: datetime,
        thread: MessageRef | None = None,
        fallback: str | None = None,
    ) -> int:
        where = thread.channel if thread is not None else channel
        outbox = thread.outbox if thread is not None else None
        ts = thread.ts if thread is not None else None
        return self._add("post", where, message, thread_outbox=outbox, thread_ts=ts)

    def ephemeral(
        self,
        conn: Any,
        channel: str,
        user: str,
        message: m.Message,
        *,
        now: datetime,
        or_in_thread: MessageRef | None = None,
    ) -> int:
        return self._add("ephemeral", channel, message, user=user, or_in_thread=or_in_thread)

    def update(self, conn: Any, target: MessageRef, message: m.Message, *, now: datetime) -> int:
        return self._add(
            "update", target.channel, message, target_outbox=target.outbox, target_ts=target.ts
        )

    def home(self, conn: Any, user: str, message: m.Message, *, now: datetime) -> int:
        return self._add("home", user, message, user=user)

    # ----- reading --------------------------------------------------------------------------

    def thread(self, root: int) -> list[m.Message]:
        """Replies posted in the thread of outbox row `root`."""
        return [s.message for s in self.sent if s.kind == "post" and s.thread_outbox == root]

    def edits(self, root: int) -> list[m.Message]:
        """Edits of outbox row `root`, oldest first."""
        return [s.message for s in self.sent if s.kind == "update" and s.target_outbox == root]

    def told(self, user: str) -> list[m.Message]:
        """Ephemeral notes to `user`."""
        return [s.message for s in self.sent if s.kind == "ephemeral" and s.user == user]


@dataclass
class FakeDirectory:
    """User -> the Slack user groups they are in."""

    groups: dict[str, set[str]] = field(default_factory=dict)

    def groups_of(self, user: str) -> set[str]:
        return set(self.groups.get(user, set()))


class FlakyStore(Store):
    """The real Store, whose next transition to a chosen status fails once (the database went
    away at that step)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._failing: dict[ApprovalStatus, Exception] = {}

    def fail_transition(self, to_status: ApprovalStatus, error: Exception) -> None:
        self._failing[to_status] = error

    def transition_approval(
        self, approval_id: str, *, to_status: ApprovalStatus, **kwargs: Any
    ) -> Approval | None:
        error = self._failing.pop(to_status, None)
        if error is not None:
            raise error
        return super().transition_approval(approval_id, to_status=to_status, **kwargs)

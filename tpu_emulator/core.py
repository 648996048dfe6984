"""The emulator's state and what every resource shares: time, names, lookups, operations.

Time is injected (`clock`) and nothing runs in the background: every call first advances the
world to `clock()` (finishing operations and moving queued resources on), so tests move time
instead of waiting. One re-entrant lock guards everything; critical sections are short.
"""

from __future__ import annotations

import bisect
import heapq
import ipaddress
import random
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tpu_emulator import catalog
from tpu_emulator.errors import ApiError, Json
from tpu_emulator.faults import Faults
from tpu_emulator.model import Node, Op, QueuedResource
from tpu_emulator.paging import page

Clock = Callable[[], datetime]

_LOCATION = re.compile(r"^projects/([^/]+)/locations/([^/]+)$")
_NODE = re.compile(r"^projects/([^/]+)/locations/([^/]+)/nodes/([^/]+)$")
_QUEUED = re.compile(r"^projects/([^/]+)/locations/([^/]+)/queuedResources/([^/]+)$")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Core:
    """State and shared helpers; the resource mixins add the API methods."""

    def __init__(
        self, *, clock: Clock, op_seconds: float, seed: int, fleet: tuple[int, int, bool]
    ) -> None:
        self.clock = clock
        self.op_seconds = op_seconds
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._seed_value = seed
        self._fleet_args = fleet
        self._init_state()

    def _init_state(self) -> None:
        self.faults = Faults()
        self.stats: Counter[str] = Counter()
        self._nodes: dict[str, Node] = {}
        self._names: dict[str, list[str]] = {}  # project -> sorted full node names
        self._ops: dict[str, Op] = {}
        self._forgotten: set[str] = set()
        self._op_names: dict[str, list[str]] = {}  # project -> sorted operation names
        self._pending: list[tuple[datetime, str]] = []  # (due, operation name)
        self._busy: dict[str, str] = {}  # resource name -> running operation name
        self._request_ids: dict[tuple[str, str], str] = {}
        self._cidrs: dict[tuple[str, str], set[str]] = {}
        self._free_cidrs = catalog.cidr_blocks("10.128.0.0")
        self._queued: dict[str, QueuedResource] = {}
        self._queued_names: dict[str, list[str]] = {}  # project -> sorted queued resource names
        self._queued_due: list[tuple[datetime, str]] = []  # (due, queued resource name)
        self._waiting: set[str] = set()  # queued resources WAITING_FOR_RESOURCES

    # ----- time ------------------------------------------------------------------------------

    def _advance(self) -> None:
        """Bring the world to now: due operations and queued-resource steps, in time order."""
        now = self.clock()
        while True:
            op_due = self._pending[0][0] if self._pending else None
            qr_due = self._queued_due[0][0] if self._queued_due else None
            if op_due is not None and op_due <= now and (qr_due is None or op_due <= qr_due):
                due, name = heapq.heappop(self._pending)
                op = self._ops.get(name)
                if op is not None and not op.done:
                    self._finish(op, due)
            elif qr_due is not None and qr_due <= now:
                due, name = heapq.heappop(self._queued_due)
                qr = self._queued.get(name)
                if qr is not None and qr.due == due:
                    self._step_queued(qr, due)
            else:
                break
        self._check_waiting(now)

    def _finish(self, op: Op, when: datetime) -> None:
        op.done, op.ended = True, when
        self._busy.pop(op.target, None)
        if "/queuedResources/" in op.target:
            self._finish_queued_op(op, when)
        else:
            self._finish_node_op(op, when)

    # Implemented by the resource mixins.
    def _finish_node_op(self, op: Op, when: datetime) -> None:
        raise NotImplementedError

    def _finish_queued_op(self, op: Op, when: datetime) -> None:
        raise NotImplementedError

    def _step_queued(self, qr: QueuedResource, when: datetime) -> None:
        raise NotImplementedError

    def _check_waiting(self, now: datetime) -> None:
        raise NotImplementedError

    def _cancel_queued_op(self, op: Op) -> None:
        raise NotImplementedError

    def _node_gone(self, node: Node) -> None:
        raise NotImplementedError

    def _node_preempted(self, node: Node) -> None:
        raise NotImplementedError

    def _schedule_queued(self, qr: QueuedResource, due: datetime) -> None:
        qr.due = due
        heapq.heappush(self._queued_due, (due, qr.name))

    # ----- names and lookups -----------------------------------------------------------------

    def _location(self, parent: str, wildcard: bool = False) -> tuple[str, str]:
        match = _LOCATION.match(parent)
        if not match:
            raise ApiError("INVALID_ARGUMENT", f"Invalid resource name: {parent!r}")
        project, zone = match.groups()
        if zone == "-" and wildcard:
            return project, zone
        if zone not in catalog.ALL_ZONES:
            raise ApiError("NOT_FOUND", f"Location {parent} not found.")
        if zone in self.faults.unreachable:
            raise ApiError("UNAVAILABLE", f"The service is currently unavailable in {zone}.")
        return project, zone

    def _node(self, name: str) -> Node:
        if not _NODE.match(name):
            raise ApiError("INVALID_ARGUMENT", f"Invalid node name: {name!r}")
        self._location(name.rsplit("/nodes/", 1)[0])
        node = self._nodes.get(name)
        if node is None:
            raise ApiError("NOT_FOUND", f"Resource '{name}' was not found")
        return node

    def _queued_resource(self, name: str) -> QueuedResource:
        if not _QUEUED.match(name):
            raise ApiError("INVALID_ARGUMENT", f"Invalid queued resource name: {name!r}")
        self._location(name.rsplit("/queuedResources/", 1)[0])
        qr = self._queued.get(name)
        if qr is None:
            raise ApiError("NOT_FOUND", f"Resource '{name}' was not found")
        return qr

    def _insert(self, node: Node) -> None:
        self._nodes[node.name] = node
        bisect.insort(self._names.setdefault(node.project, []), node.name)
        self._cidrs.setdefault((node.project, node.network), set()).add(node.cidr)

    def _remove(self, name: str) -> Node:
        node = self._nodes.pop(name)
        names = self._names[node.project]
        del names[bisect.bisect_left(names, name)]
        self._cidrs.get((node.project, node.network), set()).discard(node.cidr)
        self._busy.pop(name, None)
        return node

    def _allocate_cidr(self, project: str, network: str) -> str:
        used = self._cidrs.get((project, network), set())
        while True:
            cidr = next(self._free_cidrs)
            if cidr not in used:
                return cidr

    def _endpoints(
        self, project: str, network: str, cidr: str, hosts: int
    ) -> tuple[str, list[str]]:
        """A /29 block (given or allocated) and one worker address per host in it."""
        cidr = cidr or self._allocate_cidr(project, network)
        first = ipaddress.IPv4Network(cidr).network_address + 2
        return cidr, [str(first + i) for i in range(hosts)]

    def _wildcard(
        self, index: dict[str, list[str]], parent: str, token: str | None, size: int | None
    ) -> tuple[list[str], str | None, list[str]]:
        """A page of names under `parent` (zone "-" = every zone) and the unreachable zones."""
        project, zone = self._location(parent, wildcard=True)
        prefix = f"projects/{project}/locations/" + ("" if zone == "-" else f"{zone}/")
        names, next_token = page(index.get(project, []), prefix, parent, token, size)
        unreachable = sorted(self.faults.unreachable) if zone == "-" else []
        names = [n for n in names if n.split("/")[3] not in unreachable]
        return names, next_token, [f"projects/{project}/locations/{z}" for z in unreachable]

    # ----- operations ------------------------------------------------------------------------

    def _start_op(
        self, api: str, verb: str, target: str, previous: str | None, changes: Json | None = None
    ) -> Op:
        project, zone = target.split("/")[1], target.split("/")[3]
        now = self.clock()
        millis = int(now.timestamp() * 1000)
        name = (
            f"projects/{project}/locations/{zone}/operations/"
            f"operation-{millis}-{secrets.token_hex(8)}"
        )
        op = Op(
            name=name,
            api=api,
            verb=verb,
            target=target,
            created=now,
            due=now + timedelta(seconds=self.op_seconds),
            previous_state=previous,
            changes=changes or {},
        )
        self._ops[name] = op
        bisect.insort(self._op_names.setdefault(project, []), name)
        heapq.heappush(self._pending, (op.due, name))
        self._busy[target] = name
        return op

    def _not_busy(self, name: str) -> None:
        running = self._busy.get(name)
        if running is not None:
            kind = "Queued resource" if "/queuedResources/" in name else "Node"
            raise ApiError(
                "FAILED_PRECONDITION",
                f"{kind} {name} has an operation in progress ({running}); retry when it is done.",
            )

    def _replay(self, key: tuple[str, str], request_id: str | None) -> Json | None:
        """The operation a repeated requestId already started, if any."""
        if request_id and key in self._request_ids:
            return self._ops[self._request_ids[key]].to_json()
        return None

"""Queued resources (v2): a request for TPU VMs that waits in a queue, then provisions them.

CREATING for `transition_seconds` (default 0: the next read already sees ACCEPTED), then
ACCEPTED for one operation time (or until `validAfter`), then PROVISIONING (its nodes CREATING)
for another, then ACTIVE (nodes READY). A stocked-out zone keeps it WAITING_FOR_RESOURCES until
capacity returns or `validUntil` passes (then FAILED); an exhausted quota FAILS it.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from tpu_emulator import wire_v2
from tpu_emulator.errors import ApiError, Json, quota_status, rpc_status
from tpu_emulator.model import APIS, Node, Op, QueuedResource
from tpu_emulator.nodes import EMPTY_TYPE, check_node_id
from tpu_emulator.nodes_v2 import NodesV2Mixin, validate_v2_body
from tpu_emulator.rules import parse_duration, parse_time

_FIELDS = {"tpu", "spot", "guaranteed", "queueingPolicy", "reservationName"}
_OUTPUT = {"name", "createTime", "state"}
# A non-forced delete is allowed in these states even while nodes exist (the API's words).
_DELETABLE = {"ACCEPTED", "FAILED", "SUSPENDED"}


def node_ids(qr_id: str, spec: Json) -> list[str]:
    """The node ids one nodeSpec asks for: nodeId, or nodeCount ids `<prefix>-<i>`."""
    params = spec.get("multisliceParams")
    if params is not None:
        count = int(params.get("nodeCount") or 0)
        if count < 2:
            raise ApiError(
                "INVALID_ARGUMENT",
                "multisliceParams.nodeCount must be > 1.",
                field="multisliceParams",
            )
        if spec.get("nodeId"):
            raise ApiError(
                "INVALID_ARGUMENT", "Set nodeId or multisliceParams, not both.", field="nodeId"
            )
        prefix = params.get("nodeIdPrefix") or qr_id
        return [check_node_id(f"{prefix}-{i}") for i in range(count)]
    return [check_node_id(spec.get("nodeId"))]


def validity(policy: Json, start: datetime) -> tuple[datetime | None, datetime | None]:
    """(valid after, valid until) of a queueingPolicy, durations counted from `start`."""
    after = until = None
    interval = policy.get("validInterval")
    if interval and len(policy) > 1:
        raise ApiError(
            "INVALID_ARGUMENT",
            "validInterval excludes the other queueingPolicy bounds.",
            field="queueingPolicy",
        )
    if interval:
        after = parse_time(interval["startTime"], "validInterval.startTime")
        until = parse_time(interval["endTime"], "validInterval.endTime")
    if "validAfterTime" in policy and "validAfterDuration" in policy:
        raise ApiError("INVALID_ARGUMENT", "Set validAfterTime or validAfterDuration, not both.")
    if "validUntilTime" in policy and "validUntilDuration" in policy:
        raise ApiError("INVALID_ARGUMENT", "Set validUntilTime or validUntilDuration, not both.")
    if "validAfterTime" in policy:
        after = parse_time(policy["validAfterTime"], "validAfterTime")
    if "validAfterDuration" in policy:
        after = start + parse_duration(policy["validAfterDuration"], "validAfterDuration")
    if "validUntilTime" in policy:
        until = parse_time(policy["validUntilTime"], "validUntilTime")
    if "validUntilDuration" in policy:
        until = start + parse_duration(policy["validUntilDuration"], "validUntilDuration")
    if after and until and until <= after:
        raise ApiError(
            "INVALID_ARGUMENT",
            "queueingPolicy: valid until must be after valid after.",
            field="queueingPolicy",
        )
    return after, until


class QueuedMixin(NodesV2Mixin):
    # How long CREATING and SUSPENDING last (the Emulator's constructor sets it).
    transition_seconds: float = 0.0

    # ----- API methods -----------------------------------------------------------------------

    def list_queued_resources(self, parent: str, size: int | None, token: str | None) -> Json:
        with self._lock:
            self._advance()
            names, next_token, unreachable = self._wildcard(self._queued_names, parent, token, size)
            body: Json = {}
            if names:
                body["queuedResources"] = [wire_v2.queued_json(self._queued[n]) for n in names]
            if next_token:
                body["nextPageToken"] = next_token
            if unreachable:
                body["unreachable"] = unreachable
            return body

    def get_queued_resource(self, name: str) -> Json:
        with self._lock:
            self._advance()
            return wire_v2.queued_json(self._queued_resource(name))

    def create_queued_resource(
        self, parent: str, qr_id: str | None, request_id: str | None, body: Json
    ) -> Json:
        with self._lock:
            self._advance()
            self._location(parent)
            replayed = self._replay((parent, request_id or ""), request_id)
            if replayed is not None:
                return replayed
            now = self.clock()
            qr = self._new_queued(parent, check_node_id(qr_id), body, now)
            self._add_queued(qr)
            op = self._start_op("v2", "create", qr.name, None)
            self._pass_through(qr, "CREATING", now)
            if request_id:
                self._request_ids[(parent, request_id)] = op.name
            return op.to_json()

    def delete_queued_resource(
        self, name: str, force: bool = False, request_id: str | None = None
    ) -> Json:
        with self._lock:
            self._advance()
            replayed = self._replay((name, request_id or ""), request_id)
            if replayed is not None:
                return replayed
            qr = self._queued_resource(name)
            self._not_busy(name)
            existing = [n for n in qr.node_names if n in self._nodes]
            if existing and not force and qr.state not in _DELETABLE:
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Queued resource {name} is {qr.state} and still has nodes "
                    f"({', '.join(existing)}); delete them first or set force=true.",
                )
            previous = {n: self._nodes[n].state for n in existing}
            op = self._start_op("v2", "delete", name, qr.state, {"nodes": previous})
            for node_name in existing:
                self._nodes[node_name].state = "DELETING"
                self._busy[node_name] = op.name
            qr.state, qr.initiator, qr.due = "DELETING", "USER", None
            self._waiting.discard(name)
            if request_id:
                self._request_ids[(name, request_id)] = op.name
            return op.to_json()

    def reset_queued_resource(self, name: str) -> Json:
        """Back into the queue; Google allows it for a FAILED or SUSPENDED request."""
        with self._lock:
            self._advance()
            qr = self._queued_resource(name)
            self._not_busy(name)
            if qr.state not in ("FAILED", "SUSPENDED"):
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Queued resource {name} is {qr.state}; only a FAILED or SUSPENDED one "
                    "can be reset.",
                )
            return self._start_op("v2", "reset", name, qr.state).to_json()

    # ----- building ------------------------------------------------------------------------

    def _new_queued(self, parent: str, qr_id: str, body: Json, now: datetime) -> QueuedResource:
        unknown = set(body) - _FIELDS - _OUTPUT
        if unknown:
            raise ApiError(
                "INVALID_ARGUMENT",
                f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r}",
            )
        name = f"{parent}/queuedResources/{qr_id}"
        if name in self._queued:
            raise ApiError("ALREADY_EXISTS", f"Resource '{name}' already exists")
        if "spot" in body and "guaranteed" in body:
            raise ApiError(
                "INVALID_ARGUMENT",
                "spot and guaranteed are mutually exclusive.",
                field="guaranteed",
            )
        if (body.get("guaranteed") or {}).get("minDuration"):
            parse_duration(body["guaranteed"]["minDuration"], "guaranteed.minDuration")
        specs = (body.get("tpu") or {}).get("nodeSpec") or []
        if not specs:
            raise ApiError("INVALID_ARGUMENT", "tpu.nodeSpec is required.", field="nodeSpec")
        specs = [{**s, "node": wire_v2.node_request(s.get("node") or {})} for s in specs]
        names: list[str] = []
        for spec in specs:
            if spec.get("parent") != parent:
                raise ApiError(
                    "INVALID_ARGUMENT",
                    f"nodeSpec.parent must be {parent}, got {spec.get('parent')!r}",
                    field="nodeSpec",
                )
            validate_v2_body(parent.rsplit("/", 1)[1], spec.get("node") or {})
            names += [f"{parent}/nodes/{i}" for i in node_ids(qr_id, spec)]
        if len(set(names)) != len(names):
            raise ApiError(
                "INVALID_ARGUMENT", "nodeSpec asks for the same node id twice.", field="nodeSpec"
            )
        taken = [n for n in names if n in self._nodes]
        if taken:
            raise ApiError("ALREADY_EXISTS", f"Resource '{taken[0]}' already exists")
        policy = dict(body.get("queueingPolicy") or {})
        after, until = validity(policy, now)
        return QueuedResource(
            name=name,
            specs=[dict(s) for s in specs],
            node_names=names,
            created=now,
            spot="spot" in body,
            guaranteed=body.get("guaranteed"),
            reservation=str(body.get("reservationName") or ""),
            policy=policy,
            valid_after=after,
            valid_until=until,
        )

    def _add_queued(self, qr: QueuedResource) -> None:
        self._queued[qr.name] = qr
        bisect.insort(self._queued_names.setdefault(qr.name.split("/")[1], []), qr.name)

    def _drop_queued(self, qr: QueuedResource) -> None:
        del self._queued[qr.name]
        names = self._queued_names[qr.name.split("/")[1]]
        del names[bisect.bisect_left(names, qr.name)]
        self._waiting.discard(qr.name)

    def _make_nodes(self, qr: QueuedResource, state: str, when: datetime) -> None:
        """Create the nodes the request asks for (those that do not exist yet)."""
        parent, _, qr_id = qr.name.partition("/queuedResources/")
        multislice = len(qr.node_names) > 1
        for spec in qr.specs:
            for node_id in node_ids(qr_id, spec):
                name = f"{parent}/nodes/{node_id}"
                if name in self._nodes:
                    continue
                node = self.v2_node(name, spec["node"], state, when)
                node.queued_resource, node.multislice = qr.name, multislice
                node.spot = node.spot or qr.spot
                self._insert(node)

    # ----- time ------------------------------------------------------------------------------

    def _pass_through(self, qr: QueuedResource, state: str, when: datetime) -> None:
        """CREATING or SUSPENDING for `transition_seconds` (at 0 the next step happens now:
        the state is recorded but no read sees it)."""
        qr.state = state
        if self.transition_seconds > 0:
            self._schedule_queued(qr, when + timedelta(seconds=self.transition_seconds))
        else:
            self._step_queued(qr, when)

    def _step_queued(self, qr: QueuedResource, when: datetime) -> None:
        if qr.state == "CREATING":
            qr.state = "ACCEPTED"
            accept = qr.created + timedelta(seconds=self.op_seconds)
            self._schedule_queued(qr, max(when, accept, qr.valid_after or accept))
        elif qr.state == "SUSPENDING":
            qr.state, qr.due = "SUSPENDED", None
        elif qr.state == "ACCEPTED":
            self._try_provision(qr, when)
        elif qr.state == "PROVISIONING":
            qr.state, qr.due = "ACTIVE", None
            for name in qr.node_names:
                node = self._nodes.get(name)
                if node is not None and node.state == "CREATING":
                    node.state, node.health = "READY", "HEALTHY"

    def _try_provision(self, qr: QueuedResource, when: datetime) -> None:
        project, zone = qr.name.split("/")[1], qr.zone
        if qr.valid_until is not None and when >= qr.valid_until:
            self._fail(qr, "the request could not be provisioned before its validUntil time")
        elif zone in self.faults.quota:
            node_type = (qr.specs[0].get("node") or {}).get("acceleratorType", "tpu")
            self._fail(qr, quota_status(project, zone, str(node_type)))
        elif qr.held or zone in self.faults.stockout:
            qr.state, qr.due = "WAITING_FOR_RESOURCES", None
            self._waiting.add(qr.name)
        else:
            self._waiting.discard(qr.name)
            qr.state = "PROVISIONING"
            self._make_nodes(qr, "CREATING", when)
            self._schedule_queued(qr, when + timedelta(seconds=self.op_seconds))

    def _fail(self, qr: QueuedResource, why: str | Json) -> None:
        qr.state, qr.initiator, qr.due = "FAILED", "SERVICE", None
        qr.failed = why if isinstance(why, dict) else rpc_status("RESOURCE_EXHAUSTED", why)
        self._waiting.discard(qr.name)

    def _check_waiting(self, now: datetime) -> None:
        for name in sorted(self._waiting):
            qr = self._queued.get(name)
            if qr is None or qr.state != "WAITING_FOR_RESOURCES":
                self._waiting.discard(name)
            elif qr.valid_until is not None and now >= qr.valid_until:
                self._fail(qr, "the request could not be provisioned before its validUntil time")
            elif not qr.held and qr.zone not in self.faults.stockout:
                self._try_provision(qr, now)

    def _finish_queued_op(self, op: Op, when: datetime) -> None:
        qr = self._queued.get(op.target)
        if qr is None:
            op.error = rpc_status("NOT_FOUND", f"Queued resource {op.target} no longer exists.")
            return
        if op.verb == "delete":
            for name in qr.node_names:
                if name in self._nodes:
                    self._remove(name)
            self._drop_queued(qr)
            op.responses = {api: {"@type": EMPTY_TYPE} for api in APIS}
            return
        if op.verb == "reset":
            for name in qr.node_names:
                if name in self._nodes:
                    self._remove(name)
            qr.state, qr.initiator, qr.failed = "ACCEPTED", "", None
            qr.valid_after, qr.valid_until = validity(qr.policy, when)
            self._schedule_queued(qr, max(when, qr.valid_after or when))
        # v1alpha1 and v1 have no QueuedResource: their view of the result is v2's.
        result = {"@type": wire_v2.QUEUED_TYPE, **wire_v2.queued_json(qr)}
        op.responses = {api: result for api in APIS}

    def _cancel_queued_op(self, op: Op) -> None:
        qr = self._queued.get(op.target)
        if qr is None:
            return
        if op.verb == "create":
            for name in qr.node_names:
                if name in self._nodes:
                    self._remove(name)
            self._drop_queued(qr)
        elif op.verb == "delete":
            qr.state = op.previous_state or "ACTIVE"
            for name, state in op.changes.get("nodes", {}).items():
                if name in self._nodes:
                    self._nodes[name].state = state
                    self._busy.pop(name, None)
            if qr.state in ("ACCEPTED", "PROVISIONING"):
                self._schedule_queued(qr, self.clock())

    def _node_gone(self, node: Node) -> None:
        """Deleting an ACTIVE request's node suspends the request (the user did it)."""
        qr = self._queued.get(node.queued_resource)
        if qr is not None and qr.state in ("ACTIVE", "PROVISIONING"):
            qr.initiator, qr.due = "USER", None
            self._pass_through(qr, "SUSPENDING", self.clock())

    def _node_preempted(self, node: Node) -> None:
        """A preempted spot VM suspends its request (the service did it)."""
        qr = self._queued.get(node.queued_resource)
        if qr is not None and qr.state in ("ACTIVE", "PROVISIONING"):
            qr.initiator, qr.due = "SERVICE", None
            self._pass_through(qr, "SUSPENDING", self.clock())

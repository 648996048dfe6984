"""Zone operations: what every instance, resize-request and sub-block mutation returns. They
finish `op_seconds` after they start, on the emulator's clock (an operation due at once comes
back DONE, as Compute's quick ones do); system events (`compute.instances.preempted`,
`compute.instances.hostError`) are DONE operations the service starts itself."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

from tpu_emulator.compute import listing
from tpu_emulator.compute.core import ComputeCore
from tpu_emulator.compute.errors import not_found
from tpu_emulator.compute.model import ComputeOp
from tpu_emulator.compute.wire import op_json, zone_path

Json = dict[str, Any]
Finish = Callable[[datetime], Json | None]


Method = TypeVar("Method", bound=Callable[..., Any])


def mutation(method: Method) -> Method:
    """A call that changes something, as Compute runs one: under the fleet's lock, with the clock
    advanced first, and answered with the earlier operation when its requestId (the last
    argument) was seen before (Compute's idempotency)."""

    @functools.wraps(method)
    def run(self: OperationsMixin, project: str, *args: Any) -> Any:
        with self._lock:
            self.advance()
            replayed = self.replay(project, args[-1])
            if replayed is not None:
                return replayed
            return method(self, project, *args)

    return cast(Method, run)


class OperationsMixin(ComputeCore):
    def start_op(
        self,
        project: str,
        zone: str,
        op_type: str,
        target: tuple[str, str],
        on_done: Finish | None,
        request_id: str | None = None,
    ) -> Json:
        """A RUNNING operation on `target` (link, id) that runs `on_done` when it finishes;
        `on_done` may answer the error fields the operation ends with."""
        now = self.clock()
        op = ComputeOp(
            project=project,
            zone=zone,
            name=self.op_name(),
            uid=self.new_id(),
            op_type=op_type,
            target_link=target[0],
            target_id=target[1],
            created=now,
            on_done=on_done,
        )
        self.add_op(op)
        if request_id:
            self._request_ids[(project, request_id)] = op
        self.later(self._host.op_seconds, lambda due: self._finish(op, due), now)
        self.advance()
        return op_json(op)

    def replay(self, project: str, request_id: str | None) -> Json | None:
        """The operation an earlier call with this requestId started (Compute's idempotency)."""
        op = self._request_ids.get((project, request_id)) if request_id else None
        return op_json(op) if op is not None else None

    def _finish(self, op: ComputeOp, due: datetime) -> None:
        if op.status == "DONE":
            return
        op.status, op.ended = "DONE", due
        action, op.on_done = op.on_done, None
        if action is not None:
            op.error = action(due)

    def system_op(
        self, project: str, zone: str, op_type: str, target: tuple[str, str], message: str
    ) -> ComputeOp:
        now = self.clock()
        op = ComputeOp(
            project=project,
            zone=zone,
            name=f"systemevent-{int(now.timestamp() * 1000)}-{self.new_id()[-6:]}",
            uid=self.new_id(),
            op_type=op_type,
            target_link=target[0],
            target_id=target[1],
            created=now,
            user="system",
            status="DONE",
            ended=now,
            status_message=message,
        )
        self.add_op(op)
        return op

    # ----- API methods -------------------------------------------------------------------------

    def _op(self, project: str, zone: str, name: str) -> ComputeOp:
        self.zone(project, zone)
        op = self.ops.get((project, zone, name))
        if op is None:
            raise not_found(f"{zone_path(project, zone)}/operations/{name}")
        return op

    def get_operation(self, project: str, zone: str, name: str) -> Json:
        with self._lock:
            self.advance()
            return op_json(self._op(project, zone, name))

    def delete_operation(self, project: str, zone: str, name: str) -> Json:
        with self._lock:
            self.advance()
            self.forget_op(self._op(project, zone, name))
            return {}

    def list_operations(self, project: str, zone: str, params: dict[str, str]) -> Json:
        path = f"{zone_path(project, zone)}/operations"
        q = listing.query(params, path, "Operation")
        with self._lock:
            self.advance()
            self.zone(project, zone)
            items, token = listing.page(
                self.op_keys(project, zone),
                lambda key: op_json(self.ops[(project, zone, key.rsplit("/", 1)[1])]),
                q,
            )
            return listing.list_body("compute#operationList", path, items, token)

    def wait_operation(self, project: str, zone: str, name: str) -> Json:
        """Blocks until the operation is DONE or `wait_seconds` pass, then answers it either
        way, as Compute's wait does (it may return an operation that is not yet DONE)."""
        deadline = time.monotonic() + self.wait_seconds
        while True:
            with self._lock:
                self.advance()
                op = self._op(project, zone, name)
                if op.status == "DONE" or time.monotonic() >= deadline:
                    return op_json(op)
            time.sleep(0.02)

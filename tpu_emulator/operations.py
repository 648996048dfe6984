"""Operation methods (get, list, cancel, delete): one set of operations, seen from either
version's paths; each operation keeps the schema of the version that started it."""

from __future__ import annotations

import bisect

from tpu_emulator import listfilter
from tpu_emulator.core import Core
from tpu_emulator.errors import ApiError, Json, rpc_status
from tpu_emulator.model import Op
from tpu_emulator.paging import page

_PREFIX = "projects/"
# What operations.list can filter on (fields of google.longrunning.Operation).
_FIELDS = ("name", "done", "metadata", "error", "response")


class OperationsMixin(Core):
    def _op(self, name: str) -> Op:
        bits = name.split("/")
        if len(bits) != 6 or bits[0] != "projects" or bits[2:5:2] != ["locations", "operations"]:
            raise ApiError("INVALID_ARGUMENT", f"Invalid operation name: {name!r}")
        op = self._ops.get(name)
        if op is None or name in self._forgotten:
            raise ApiError("NOT_FOUND", f"Operation '{name}' was not found")
        return op

    def get_operation(self, name: str, view: str | None = None) -> Json:
        """The operation in `view`'s schema (default: the version that started it)."""
        with self._lock:
            self._advance()
            return self._op(name).to_json(view)

    def list_operations(
        self,
        name: str,
        page_size: int | None,
        page_token: str | None,
        partial: bool = False,
        view: str | None = None,
        filter_: str = "",
    ) -> Json:
        """`partial` (returnPartialSuccess) works across zones only: the unreachable zones'
        operations are left out and the zones named in `unreachable`. `filter_` (AIP-160:
        `done = true`, `metadata.verb = "delete"`...) keeps the operations it matches, as
        `view` shows them."""
        with self._lock:
            self._advance()
            project, zone = self._location(name, wildcard=True)
            if partial and zone != "-":
                raise ApiError(
                    "INVALID_ARGUMENT",
                    "returnPartialSuccess can only be true when listing across locations ('-').",
                )
            prefix = f"projects/{project}/locations/" + ("" if zone == "-" else f"{zone}/")
            candidates = self._op_names.get(project, [])
            if filter_.strip():
                keep = listfilter.parse(filter_, _FIELDS)
                candidates = [
                    n
                    for n in candidates
                    if n.startswith(prefix) and keep(self._ops[n].to_json(view))
                ]
            names, token = page(candidates, prefix, name, page_token, page_size)
            skipped = sorted(self.faults.unreachable) if partial else []
            names = [n for n in names if n.split("/")[3] not in skipped]
            body: Json = {}
            if names:
                body["operations"] = [self._ops[n].to_json(view) for n in names]
            if token:
                body["nextPageToken"] = token
            if skipped:
                body["unreachable"] = [f"projects/{project}/locations/{z}" for z in skipped]
            return body

    def cancel_operation(self, name: str) -> Json:
        """Stop the work and undo what it started, as far as the service can."""
        with self._lock:
            self._advance()
            op = self._op(name)
            if op.done:
                raise ApiError("FAILED_PRECONDITION", f"Operation {name} is already done.")
            op.cancel_requested = True
            op.done, op.ended = True, self.clock()
            op.error = rpc_status("CANCELLED", "Operation was cancelled.")
            self._busy.pop(op.target, None)
            if "/queuedResources/" in op.target:
                self._cancel_queued_op(op)
                return {}
            node = self._nodes.get(op.target)
            if node is not None:
                if op.verb == "create":
                    self._remove(op.target)
                elif op.previous_state:
                    node.state = op.previous_state
            return {}

    def delete_operation(self, name: str) -> Json:
        """Forget the record; like Google's DeleteOperation, the work itself goes on."""
        with self._lock:
            self._advance()
            self._op(name)
            self._forgotten.add(name)
            names = self._op_names[name.split("/")[1]]
            del names[bisect.bisect_left(names, name)]
            return {}

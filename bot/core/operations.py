"""Long-running operations as the bot sees them: done or not, what they act on, how they failed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.core.models import Node

# A node operation lives under `locations/Z`, an instance operation under `zones/Z`.
_OPERATION_NAME = re.compile(r"^projects/([^/]+)/(?:locations|zones)/([^/]+)/operations/([^/]+)$")


@dataclass(frozen=True)
class OperationError:
    """A google.rpc.Status carried by a failed operation."""

    code: int
    message: str

    @property
    def code_name(self) -> str:
        return RPC_CODE_NAMES.get(self.code, f"CODE_{self.code}")


@dataclass(frozen=True)
class Operation:
    name: str
    done: bool
    verb: str = ""
    target: str = ""
    create_time: datetime | None = None
    end_time: datetime | None = None
    status_detail: str = ""
    cancel_requested: bool = False
    error: OperationError | None = None
    node: Node | None = None

    @property
    def succeeded(self) -> bool:
        return self.done and self.error is None

    @property
    def project(self) -> str:
        return _operation_parts(self.name)[0]

    @property
    def zone(self) -> str:
        return _operation_parts(self.name)[1]


def _operation_parts(name: str) -> tuple[str, str, str]:
    match = _OPERATION_NAME.match(name)
    if not match:
        raise ValueError(f"not an operation resource name: {name!r}")
    project, zone, op_id = match.groups()
    return project, zone, op_id


# google.rpc.Code, for messages that name an operation's failure.
_RPC_CODES = (
    "OK CANCELLED UNKNOWN INVALID_ARGUMENT DEADLINE_EXCEEDED NOT_FOUND ALREADY_EXISTS"
    " PERMISSION_DENIED RESOURCE_EXHAUSTED FAILED_PRECONDITION ABORTED OUT_OF_RANGE"
    " UNIMPLEMENTED INTERNAL UNAVAILABLE DATA_LOSS UNAUTHENTICATED"
)
RPC_CODE_NAMES = dict(enumerate(_RPC_CODES.split()))

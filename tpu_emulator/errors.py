"""Google's error vocabulary: canonical statuses, their HTTP codes, google.rpc codes."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

# HTTP status for each canonical error status, as Google's JSON errors carry them.
STATUS_HTTP = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ABORTED": 409,
    "ALREADY_EXISTS": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNKNOWN": 500,
    "NOT_IMPLEMENTED": 501,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
HTTP_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
RPC_CODES = {
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
}


class ApiError(Exception):
    """An error in Google's vocabulary: HTTP code, canonical status, message."""

    def __init__(self, status: str, message: str, http: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.http = http if http is not None else STATUS_HTTP.get(status, 500)

    def to_json(self) -> Json:
        return {"error": {"code": self.http, "message": self.message, "status": self.status}}


def rpc_status(status: str, message: str) -> Json:
    """A google.rpc.Status, as operations and queued resources carry failures."""
    return {"code": RPC_CODES[status], "message": message}


def stockout_message(zone: str) -> str:
    """How Google words a zone without capacity (RESOURCE_EXHAUSTED, unlike a quota)."""
    return (
        f'There is no more capacity in the zone "{zone}"; you can try in another zone where '
        "Cloud TPU Nodes are offered (see https://cloud.google.com/tpu/docs/regions) "
        "[EID: 0x1a2b3c]."
    )


def quota_message(project: str, zone: str, accelerator_type: str) -> str:
    """How Google words an exhausted quota: it names the quota (unlike a stockout)."""
    family = accelerator_type.split("-", 1)[0].upper()
    region = zone.rsplit("-", 1)[0]
    return (
        f"Quota limit 'TPU{family}PodPerProjectPerZoneForTPUAPI' has been exceeded for "
        f"project {project} in {region}: quota metric "
        f"'tpu.googleapis.com/{family.lower()}_pod' is exhausted."
    )

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


# ErrorInfo.reason per canonical status when the raiser names none (UPPER_SNAKE_CASE, as
# Google's reasons are; the status itself where no better word exists).
_REASONS = {
    "NOT_FOUND": "RESOURCE_NOT_FOUND",
    "ALREADY_EXISTS": "RESOURCE_ALREADY_EXISTS",
    "PERMISSION_DENIED": "IAM_PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED": "RATE_LIMIT_EXCEEDED",
    "UNAVAILABLE": "SERVICE_UNAVAILABLE",
}
TPU_DOMAIN = "tpu.googleapis.com"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"


def quota_failure(subject: str, description: str) -> Json:
    """A google.rpc.QuotaFailure detail naming the exhausted quota."""
    return {
        "@type": QUOTA_FAILURE,
        "violations": [{"subject": subject, "description": description}],
    }


class ApiError(Exception):
    """An error in Google's vocabulary: HTTP code, canonical status, message, and the details
    Google attaches: always a google.rpc.ErrorInfo (reason, domain), a google.rpc.BadRequest
    for INVALID_ARGUMENT (with the field, when known), a google.rpc.QuotaFailure for a quota."""

    def __init__(
        self,
        status: str,
        message: str,
        http: int | None = None,
        *,
        field: str | None = None,
        reason: str | None = None,
        quota: Json | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.http = http if http is not None else STATUS_HTTP.get(status, 500)
        self.field = field
        self.reason = reason or _REASONS.get(status, status)
        self.quota = quota
        self.metadata = metadata or {}

    def details(self, domain: str = TPU_DOMAIN) -> list[Json]:
        info: Json = {"@type": ERROR_INFO, "reason": self.reason, "domain": domain}
        if self.metadata:
            info["metadata"] = dict(self.metadata)
        details = [info]
        if self.status == "INVALID_ARGUMENT":
            violation: Json = {"description": self.message}
            if self.field:
                violation["field"] = self.field
            details.append({"@type": BAD_REQUEST, "fieldViolations": [violation]})
        if self.quota is not None:
            details.append(dict(self.quota))
        return details

    def to_json(self, domain: str = TPU_DOMAIN) -> Json:
        return {
            "error": {
                "code": self.http,
                "message": self.message,
                "status": self.status,
                "details": self.details(domain),
            }
        }


def rpc_status(status: str, message: str, details: list[Json] | None = None) -> Json:
    """A google.rpc.Status, as operations and queued resources carry failures."""
    body: Json = {"code": RPC_CODES[status], "message": message}
    if details:
        body["details"] = details
    return body


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


def quota_status(project: str, zone: str, accelerator_type: str) -> Json:
    """An exhausted quota as an operation or a queued resource carries it: code 8, the quota
    named in the message, an ErrorInfo and a QuotaFailure among the details."""
    message = quota_message(project, zone, accelerator_type)
    family = accelerator_type.split("-", 1)[0].lower()
    details = [
        {"@type": ERROR_INFO, "reason": "QUOTA_EXCEEDED", "domain": TPU_DOMAIN},
        quota_failure(f"project:{project}", message),
    ]
    details[0]["metadata"] = {"quota_metric": f"tpu.googleapis.com/{family}_pod"}
    return rpc_status("RESOURCE_EXHAUSTED", message, details)

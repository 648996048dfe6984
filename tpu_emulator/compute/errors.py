"""Compute Engine's error vocabulary. Its JSON errors differ from the Cloud TPU API's:
`{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}`, no `status`
(recorded Google traffic in k8s-config-connector's mockgcp golden logs). Operations carry
failures as `error.errors[{code, message}]` plus `httpErrorStatusCode`/`httpErrorMessage`."""

from __future__ import annotations

from typing import Any

from tpu_emulator.errors import ApiError

Json = dict[str, Any]

# Reason for an error raised in the shared vocabulary (faults, the request gate).
_REASONS = {
    400: "badRequest",
    401: "required",
    403: "forbidden",
    404: "notFound",
    405: "httpMethodNotAllowed",
    409: "alreadyExists",
    412: "conditionNotMet",
    429: "rateLimitExceeded",
    500: "backendError",
    501: "notImplemented",
    502: "backendError",
    503: "backendError",
    504: "backendError",
}
# The words of an HTTP code, as operations carry them in `httpErrorMessage`.
HTTP_WORDS = {
    400: "BAD REQUEST",
    403: "FORBIDDEN",
    404: "NOT FOUND",
    409: "CONFLICT",
    412: "PRECONDITION FAILED",
    429: "TOO MANY REQUESTS",
    500: "INTERNAL SERVER ERROR",
    503: "SERVICE UNAVAILABLE",
}


class ComputeError(ApiError):
    """An ApiError that knows Compute's `reason` (and, for headers, a `location`)."""

    def __init__(
        self, http: int, reason: str, message: str, location: tuple[str, str] | None = None
    ) -> None:
        super().__init__(reason, message, http=http)
        self.reason = reason
        self.location = location


def error_body(exc: ApiError) -> Json:
    reason = exc.reason if isinstance(exc, ComputeError) else _REASONS.get(exc.http, "invalid")
    item: Json = {"message": exc.message, "domain": "global", "reason": reason}
    if isinstance(exc, ComputeError) and exc.location:
        item["location"], item["locationType"] = exc.location
    return {"error": {"code": exc.http, "message": exc.message, "errors": [item]}}


def not_found(resource: str) -> ComputeError:
    return ComputeError(404, "notFound", f"The resource '{resource}' was not found")


def already_exists(resource: str) -> ComputeError:
    return ComputeError(409, "alreadyExists", f"The resource '{resource}' already exists")


def invalid(field: str, value: object, why: str) -> ComputeError:
    return ComputeError(400, "invalid", f"Invalid value for field '{field}': '{value}'. {why}")


def invalid_payload(message: str) -> ComputeError:
    return ComputeError(400, "invalid", message)


def bad_request(message: str) -> ComputeError:
    return ComputeError(400, "badRequest", message)


def not_ready(resource: str, why: str) -> ComputeError:
    return ComputeError(400, "resourceNotReady", f"The resource '{resource}' is not ready: {why}")


def fingerprint_mismatch() -> ComputeError:
    """What setLabels answers a stale or missing labelFingerprint (google-cloud-go#7802)."""
    return ComputeError(
        412,
        "conditionNotMet",
        "Labels fingerprint either invalid or resource labels have changed",
        location=("If-Match", "header"),
    )


def zone_unavailable(zone: str) -> ComputeError:
    return ComputeError(503, "backendError", f"The zone '{zone}' is currently unreachable.")


def operation_error(code: str, message: str, http: int) -> Json:
    """The fields a failed operation (or resize request status) carries."""
    return {
        "error": {"errors": [{"code": code, "message": message}]},
        "httpErrorStatusCode": http,
        "httpErrorMessage": HTTP_WORDS.get(http, "ERROR"),
    }


def stockout(project: str, zone: str) -> Json:
    """A stockout ends an operation with 503 (recorded in scylla-cluster-tests#12477)."""
    return operation_error(
        "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
        f"The zone 'projects/{project}/zones/{zone}' does not have enough resources "
        "available to fulfill the request.  '(resource type:compute)'.",
        503,
    )


def quota(region: str, metric: str) -> Json:
    """An exhausted quota names the quota, unlike a stockout."""
    return operation_error(
        "QUOTA_EXCEEDED",
        f"Quota '{metric}' exceeded.  Limit: 0.0 in region {region}.",
        403,
    )

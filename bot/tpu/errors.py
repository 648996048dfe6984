"""Google's error answers -> the ports' error tree (bot/usecases/ports.py), in one place: the
TPU API and Cloud Monitoring answer in the `google.rpc.Status` shape (`status`), Compute Engine
in its own (`errors[{reason}]`, no `status`); both fall back on the HTTP status."""

from __future__ import annotations

import json

from googleapiclient.errors import HttpError

from bot.usecases.ports import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    NotSupported,
    PermissionDenied,
    ResourceExhausted,
    TpuError,
    Unauthenticated,
    Unavailable,
)

_BY_STATUS: dict[str, type[TpuError]] = {
    cls.status: cls
    for cls in (
        NotFound,
        AlreadyExists,
        PermissionDenied,
        Unauthenticated,
        FailedPrecondition,
        InvalidArgument,
        ResourceExhausted,
        Unavailable,
    )
}
_BY_HTTP: dict[int, type[TpuError]] = {
    400: InvalidArgument,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: AlreadyExists,
    412: FailedPrecondition,
    429: ResourceExhausted,
    501: NotSupported,
    503: Unavailable,
}


def error_from_http(exc: HttpError) -> TpuError:
    """Google's JSON error -> our typed error, keeping its message."""
    status_code = int(exc.resp.status)
    message, status = str(exc), ""
    try:
        payload = json.loads(exc.content.decode("utf-8"))
        error = payload.get("error", {})
        message = str(error.get("message") or message)
        status = str(error.get("status") or "")
    except (ValueError, AttributeError):
        pass
    cls = _BY_STATUS.get(status) or _BY_HTTP.get(status_code, TpuError)
    if status == "ABORTED" or (status_code == 409 and status not in ("", "ALREADY_EXISTS")):
        cls = TpuError
    return cls(message, http=status_code, status=status or cls.status)


_BY_REASON: dict[str, type[TpuError]] = {
    "notFound": NotFound,
    "alreadyExists": AlreadyExists,
    "conditionNotMet": FailedPrecondition,
    "resourceNotReady": FailedPrecondition,
    "resourceInUseByAnotherResource": FailedPrecondition,
    "invalid": InvalidArgument,
    "badRequest": InvalidArgument,
    "parseError": InvalidArgument,
    "required": InvalidArgument,
    "forbidden": PermissionDenied,
    "insufficientPermissions": PermissionDenied,
    "authError": Unauthenticated,
    "quotaExceeded": ResourceExhausted,
    "QUOTA_EXCEEDED": ResourceExhausted,
    "rateLimitExceeded": ResourceExhausted,
    "ZONE_RESOURCE_POOL_EXHAUSTED": ResourceExhausted,
    "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS": ResourceExhausted,
    "notImplemented": NotSupported,
    "backendError": Unavailable,
}


def compute_error(exc: HttpError) -> TpuError:
    """Compute's error JSON (`errors[{reason}]`, no `status`) -> our typed error."""
    http = int(exc.resp.status)
    message, reason = str(exc), ""
    try:
        error = json.loads(exc.content.decode("utf-8")).get("error", {})
        message = str(error.get("message") or message)
        reasons = error.get("errors") or [{}]
        reason = str(reasons[0].get("reason", ""))
    except (ValueError, AttributeError):
        pass
    cls = _BY_REASON.get(reason) or _BY_HTTP.get(http)
    if cls is None:
        return TpuError(message, http=http, status="UNAVAILABLE" if http >= 500 else "UNKNOWN")
    return cls(message, http=http)

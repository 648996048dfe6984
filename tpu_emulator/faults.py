"""Injected trouble, set through the admin API; it applies to v1alpha1 and v2 alike."""

from __future__ import annotations

from dataclasses import dataclass, field

from tpu_emulator.errors import HTTP_STATUS, ApiError, Json


@dataclass
class Faults:
    """Errors hit API methods only (never the admin API).

    `methods` names stats keys ("nodes.list" for v1alpha1, "v2.nodes.list" for v2); empty means
    every method. `stockout` zones fail node creation with a capacity error and keep queued
    resources WAITING_FOR_RESOURCES; `quota` zones fail node creation and queued resources with
    an error that names a quota. Both are RESOURCE_EXHAUSTED (code 8) in the operation or the
    queued resource's failedData; only the message tells them apart, as with Google.
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    error_code: int = 503
    fail_next: int = 0
    # Fail after the method took effect: the response is lost, as on a dropped connection.
    after_apply: bool = False
    methods: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    stockout: list[str] = field(default_factory=list)
    quota: list[str] = field(default_factory=list)
    permission_denied: list[str] = field(default_factory=list)

    _FIELDS = {
        "latencyMs": "latency_ms",
        "errorRate": "error_rate",
        "errorCode": "error_code",
        "failNext": "fail_next",
        "afterApply": "after_apply",
        "methods": "methods",
        "unreachable": "unreachable",
        "stockout": "stockout",
        "quota": "quota",
        "permissionDenied": "permission_denied",
    }

    def update(self, data: Json) -> None:
        for key, value in data.items():
            attr = self._FIELDS.get(key)
            if attr is None:
                raise ApiError("INVALID_ARGUMENT", f"unknown fault {key!r}")
            current = getattr(self, attr)
            expected = list if isinstance(current, list) else type(current)
            if expected is float and isinstance(value, int):
                value = float(value)
            if not isinstance(value, expected) or (
                expected is not bool and isinstance(value, bool)
            ):
                raise ApiError("INVALID_ARGUMENT", f"fault {key!r} must be {expected.__name__}")
            setattr(self, attr, value)
        if self.error_code not in HTTP_STATUS:
            raise ApiError("INVALID_ARGUMENT", f"errorCode must be one of {sorted(HTTP_STATUS)}")

    def to_json(self) -> Json:
        return {key: getattr(self, attr) for key, attr in self._FIELDS.items()}

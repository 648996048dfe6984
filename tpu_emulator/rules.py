"""The service's own rules, written from the Cloud TPU API documentation (never the bot's code):
resource ids, timestamps, and which accelerator types are multi-host pods."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tpu_emulator.errors import ApiError

# Node ids: RFC 1035 labels, 1-63 characters ("nodeId" in the API reference).
NODE_ID = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
# Accelerator types: a generation and a core (v2-v4) or chip (v5+) count, e.g. v3-8, v5litepod-16.
_TYPE = re.compile(r"^(v\d+)([a-z]*)-(\d+)$")
# Cores (v2, v3, v4, v5p) or chips (v5e, v6e) on one host.
_PER_HOST = {"v2": 8, "v3": 8, "v4": 8, "v5p": 8, "v5litepod": 8, "v5e": 8, "v6e": 8}


def rfc3339(value: datetime) -> str:
    """A timestamp as Google's JSON writes it: UTC, microseconds, 'Z'."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hosts_of(accelerator_type: str) -> int:
    """How many worker hosts a type has; unknown shapes count as one."""
    match = _TYPE.match(accelerator_type)
    if match is None:
        return 1
    generation, suffix, count = match.groups()
    per_host = _PER_HOST.get(generation + suffix, _PER_HOST.get(generation, 8))
    return max(1, int(count) // per_host)


def is_pod(accelerator_type: str) -> bool:
    """More than one host: stop is refused on these ("only single TPU nodes")."""
    return hosts_of(accelerator_type) > 1


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


def parse_duration(value: object, field: str) -> timedelta:
    """A google.protobuf.Duration in JSON ("3600s")."""
    match = _DURATION.match(str(value))
    if not match:
        raise ApiError("INVALID_ARGUMENT", f"{field}: {value!r} is not a duration like '3600s'.")
    return timedelta(seconds=float(match.group(1)))


def parse_time(value: object, field: str) -> datetime:
    """A google.protobuf.Timestamp in JSON (RFC 3339)."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ApiError("INVALID_ARGUMENT", f"{field}: {value!r} is not an RFC 3339 time.") from None
    if parsed.tzinfo is None:
        raise ApiError("INVALID_ARGUMENT", f"{field}: {value!r} has no time zone.")
    return parsed


NODE_STATES = frozenset(
    {
        "CREATING",
        "READY",
        "RESTARTING",
        "REIMAGING",
        "DELETING",
        "REPAIRING",
        "STOPPED",
        "STOPPING",
        "STARTING",
        "PREEMPTED",
        "TERMINATED",
        "HIDING",
        "HIDDEN",
        "UNHIDING",
        "UNKNOWN",
    }
)
QUEUED_STATES = frozenset(
    {
        "CREATING",
        "ACCEPTED",
        "PROVISIONING",
        "FAILED",
        "DELETING",
        "ACTIVE",
        "SUSPENDING",
        "SUSPENDED",
        "WAITING_FOR_RESOURCES",
    }
)
STATE_INITIATORS = frozenset({"USER", "SERVICE"})
MAINTENANCE_TYPES = frozenset({"UNKNOWN_TYPE", "SCHEDULED", "UNSCHEDULED"})
MAINTENANCE_STATUSES = frozenset({"UNKNOWN", "PENDING", "ONGOING"})

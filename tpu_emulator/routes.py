"""What a route is, and the query-parameter parsing both API versions share."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tpu_emulator.errors import ApiError, Json
from tpu_emulator.state import Emulator

# Parameters every Google API method accepts (the discovery document's "parameters"), and
# "$alt", which Google's generated REST clients send ("json;enum-encoding=int").
SYSTEM_PARAMS = frozenset(
    {
        "$.xgafv",
        "$alt",
        "access_token",
        "alt",
        "callback",
        "fields",
        "key",
        "oauth_token",
        "prettyPrint",
        "quotaUser",
        "upload_protocol",
        "uploadType",
    }
)
LOC = r"projects/[^/]+/locations/[^/]+"
LIST = ("pageSize", "pageToken")

Call = Callable[[Emulator, str, dict[str, str], Json], Json]


@dataclass(frozen=True)
class Route:
    http: str
    pattern: re.Pattern[str]
    method_id: str  # the stats key
    params: frozenset[str]
    call: Call


def route(http: str, pattern: str, method_id: str, params: Iterable[str], call: Any) -> Route:
    return Route(http, re.compile(f"^{pattern}$"), method_id, frozenset(params), call)


def to_int(params: dict[str, str], key: str) -> int | None:
    if key not in params:
        return None
    try:
        return int(params[key])
    except ValueError:
        raise ApiError("INVALID_ARGUMENT", f"Invalid value at '{key}' (TYPE_INT32)") from None


def to_bool(params: dict[str, str], key: str) -> bool:
    value = params.get(key, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise ApiError("INVALID_ARGUMENT", f"Invalid value at '{key}' (TYPE_BOOL), \"{value}\"")
    return value in ("true", "1")


def parent_of(name: str, collection: str) -> str:
    """projects/P/locations/Z/<collection> -> projects/P/locations/Z."""
    return name.rsplit(f"/{collection}", 1)[0]


def target(name: str) -> str:
    """projects/.../x:verb -> projects/.../x."""
    return name.rsplit(":", 1)[0]

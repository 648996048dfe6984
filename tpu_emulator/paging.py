"""Page tokens and page sizes, the same for every list method and both API versions."""

from __future__ import annotations

import base64
import binascii
import bisect
import json

from tpu_emulator.errors import ApiError, Json

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def encode_token(payload: Json) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_token(token: str, parent: str) -> str:
    """The last name of the previous page; a token only works for the parent it came from."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if payload["p"] != parent:
            raise ValueError
        return str(payload["a"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError("INVALID_ARGUMENT", "Invalid page token", field="pageToken") from None


def page_size(value: int | None) -> int:
    if value is None or value == 0:
        return DEFAULT_PAGE_SIZE
    if value < 0:
        raise ApiError("INVALID_ARGUMENT", "page_size must not be negative", field="pageSize")
    return min(value, MAX_PAGE_SIZE)


def page(
    names: list[str], prefix: str, parent: str, token: str | None, size: int | None
) -> tuple[list[str], str | None]:
    """One page of `names` (sorted) that start with `prefix`, after the token's name."""
    limit = page_size(size)
    start = bisect.bisect_left(names, prefix)
    if token:
        after = decode_token(token, parent)
        start = max(start, bisect.bisect_right(names, after))
    found: list[str] = []
    i = start
    while i < len(names) and len(found) < limit and names[i].startswith(prefix):
        found.append(names[i])
        i += 1
    more = i < len(names) and names[i].startswith(prefix)
    next_token = encode_token({"p": parent, "a": found[-1]}) if more and found else None
    return found, next_token


def decode_offset(token: str, key: str) -> int:
    """The offset an offset token carries; it only works for the query (`key`) it came from."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if payload["p"] != key or not isinstance(payload["o"], int) or payload["o"] < 0:
            raise ValueError
        return int(payload["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError("INVALID_ARGUMENT", "Invalid page token", field="pageToken") from None


def page_items(
    items: list[Json], key: str, token: str | None, size: int | None
) -> tuple[list[Json], str | None]:
    """One page of an already filtered and ordered list, by offset (for short lists whose order
    is not their names' order)."""
    limit = page_size(size)
    offset = decode_offset(token, key) if token else 0
    found = items[offset : offset + limit]
    more = offset + len(found) < len(items)
    return found, encode_token({"p": key, "o": offset + len(found)}) if more else None

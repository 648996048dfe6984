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
        raise ApiError("INVALID_ARGUMENT", "Invalid page token") from None


def page_size(value: int | None) -> int:
    if value is None or value == 0:
        return DEFAULT_PAGE_SIZE
    if value < 0:
        raise ApiError("INVALID_ARGUMENT", "page_size must not be negative")
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

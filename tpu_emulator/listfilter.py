"""`filter` and `orderBy` of the Cloud TPU API's list methods (AIP-160 and AIP-132), the part
the emulator implements: comparisons `field = value`, `!=` and `:` (has), joined by AND (or by
nothing, which also means AND) and OR (which binds tighter, as AIP-160 says); `*` in a value
matches anything. NOT, `-`, parentheses, `<`/`>` and functions are refused (400), never
ignored. Each list names the fields it can filter and order by."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import Any

from tpu_emulator.errors import ApiError, Json

_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(!=|<=|>=|=|:|<|>|\(|\)|-)|([^\s"=!:<>()]+))')

Predicate = Callable[[Json], bool]


def _refuse(why: str, param: str = "filter") -> ApiError:
    return ApiError("INVALID_ARGUMENT", f"Invalid {param}: {why}", field=param)


def _lookup(item: Json, path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while text[pos:].strip():
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _refuse(f"cannot parse {text[pos:]!r}")
        quoted, op, word = match.groups()
        if quoted is not None:
            out.append(("value", re.sub(r"\\(.)", r"\1", quoted)))
        elif op is not None:
            out.append(("op", op))
        else:
            out.append(("word", word))
        pos = match.end()
    return out


def _comparison(field: str, op: str, wanted: str) -> Predicate:
    def holds(item: Json) -> bool:
        value = _lookup(item, field)
        if op == ":":
            if isinstance(value, dict):
                return wanted == "*" or wanted in value
            if isinstance(value, list):
                return any(fnmatch.fnmatchcase(_text(v), wanted) for v in value)
            return value is not None and fnmatch.fnmatchcase(_text(value), wanted)
        same = fnmatch.fnmatchcase(_text(value), wanted)
        return same if op == "=" else not same

    return holds


def parse(text: str, fields: Iterable[str]) -> Predicate:
    """A predicate over items in API JSON; `fields` are the paths this list can filter on."""
    tokens = _tokens(text)
    allowed = set(fields)
    conjunction: list[list[Predicate]] = []  # AND of ORs
    i = 0
    while i < len(tokens):
        if tokens[i] == ("word", "AND"):
            i += 1
            continue
        kind, field = tokens[i]
        if kind != "word" or field in ("OR", "NOT"):
            raise _refuse(f"the emulator implements comparisons with AND and OR only, at {field!r}")
        if field.split(".")[0] not in allowed and field not in allowed:
            raise _refuse(f"cannot filter on {field!r}; fields: {', '.join(sorted(allowed))}")
        if i + 2 >= len(tokens):
            raise _refuse(f"incomplete comparison at {field!r}")
        op_kind, op = tokens[i + 1]
        value_kind, value = tokens[i + 2]
        if op_kind != "op" or op not in ("=", "!=", ":") or value_kind == "op":
            raise _refuse(f"the emulator implements =, != and : only, at {field!r} {op!r}")
        predicate = _comparison(field, op, value)
        if i > 0 and tokens[i - 1] == ("word", "OR") and conjunction:
            conjunction[-1].append(predicate)
        else:
            conjunction.append([predicate])
        i += 3
        if i < len(tokens) and tokens[i] == ("word", "OR"):
            i += 1
            if i >= len(tokens):
                raise _refuse("OR at the end")
    return lambda item: all(any(p(item) for p in ors) for ors in conjunction)


def apply(items: list[Json], text: str, fields: Iterable[str]) -> list[Json]:
    if not text.strip():
        return items
    keep = parse(text, fields)
    return [item for item in items if keep(item)]


def order(items: list[Json], order_by: str, fields: Iterable[str]) -> list[Json]:
    """Sorted by `field [asc|desc], ...` (stable, so the last key is applied first)."""
    if not order_by.strip():
        return items
    allowed = set(fields)
    keys = []
    for part in order_by.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise _refuse(f"cannot order by {part.strip()!r}", "orderBy")
        if words[0] not in allowed:
            raise _refuse(
                f"cannot order by {words[0]!r}; fields: {', '.join(sorted(allowed))}", "orderBy"
            )
        keys.append((words[0], len(words) == 2 and words[1] == "desc"))
    out = list(items)
    for field, descending in reversed(keys):

        def sort_key(item: Json, path: str = field) -> str:
            return _text(_lookup(item, path))

        out.sort(key=sort_key, reverse=descending)
    return out

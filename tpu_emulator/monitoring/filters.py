"""Cloud Monitoring's filter language, the part the emulator implements: comparisons joined by
AND (or by nothing, which also means AND). Anything else (OR, NOT, parentheses, `:`, regular
expressions, metadata selectors) is refused with INVALID_ARGUMENT, never ignored.

    metric.type = "tpu.googleapis.com/accelerator/duty_cycle" AND
    resource.type = "tpu_worker" AND resource.labels.zone = starts_with("us-") AND
    resource.labels.node_id = one_of("a", "b") AND metric.labels.x != "y"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tpu_emulator.errors import ApiError

_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op>!=|=|\(|\)|,|:|<=|>=|<|>|-)'
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_./-]*))"
)
_SELECTOR = re.compile(r"^(metric\.type|resource\.type|project|(metric|resource)\.labels?\.\w+)$")
_FUNCTIONS: dict[str, Callable[[str, tuple[str, ...]], bool]] = {
    "starts_with": lambda v, args: v.startswith(args[0]),
    "ends_with": lambda v, args: v.endswith(args[0]),
    "has_substring": lambda v, args: args[0] in v,
    "one_of": lambda v, args: v in args,
}


def _refuse(why: str) -> ApiError:
    return ApiError("INVALID_ARGUMENT", f"Field filter had an invalid value: {why}", field="filter")


@dataclass(frozen=True)
class Condition:
    selector: str  # normalised: metric.labels.X / resource.labels.X / metric.type ...
    negated: bool
    function: str  # "equals" or one of _FUNCTIONS
    args: tuple[str, ...]

    def holds(self, fields: Mapping[str, str]) -> bool:
        value = fields.get(self.selector, "")
        if self.function == "equals":
            result = value == self.args[0]
        else:
            result = _FUNCTIONS[self.function](value, self.args)
        return result != self.negated


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _refuse(f"cannot parse {text[pos:]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((kind, value))
        pos = match.end()
    return out


def _normalise(selector: str) -> str:
    if not _SELECTOR.match(selector):
        raise _refuse(f"the emulator does not implement the selector {selector!r}")
    return selector.replace(".label.", ".labels.")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self, kind: str, value: str | None = None) -> str:
        got_kind, got = self.peek()
        if got_kind != kind or (value is not None and got != value):
            raise _refuse(f"expected {value or kind} at {got or 'the end'!r}")
        self.pos += 1
        return got

    def conditions(self) -> list[Condition]:
        found = [self.condition()]
        while self.peek()[0] != "end":
            if self.peek() == ("word", "AND"):
                self.pos += 1
            found.append(self.condition())
        return found

    def condition(self) -> Condition:
        kind, word = self.peek()
        if kind != "word" or word in ("OR", "NOT", "AND"):
            raise _refuse(f"the emulator implements comparisons joined by AND only, not {word!r}")
        selector = _normalise(self.take("word"))
        op = self.take("op")
        if op not in ("=", "!="):
            raise _refuse(f"the emulator implements = and != only, not {op!r}")
        if self.peek()[0] == "string":
            return Condition(selector, op == "!=", "equals", (self.take("string"),))
        function = self.take("word")
        if function not in _FUNCTIONS:
            raise _refuse(f"the emulator does not implement {function}()")
        self.take("op", "(")
        args = [self.take("string")]
        while self.peek() == ("op", ","):
            self.pos += 1
            args.append(self.take("string"))
        self.take("op", ")")
        if function != "one_of" and len(args) != 1:
            raise _refuse(f"{function}() takes one string")
        return Condition(selector, op == "!=", function, tuple(args))


def parse(text: str) -> list[Condition]:
    """The conditions of a filter (all must hold); an empty filter has none."""
    if not text.strip():
        return []
    return _Parser(text).conditions()


def matches(conditions: list[Condition], fields: Mapping[str, str]) -> bool:
    return all(c.holds(fields) for c in conditions)

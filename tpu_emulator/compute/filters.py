"""The `filter` and `orderBy` list parameters, as compute.v1.json describes them.

Two filter syntaxes, never mixed in one expression:
- regular expressions: `field eq literal`, `field ne literal`, or several parenthesized such
  terms (ANDed); the literal (unquoted, 'single' or "double" quoted) must match the whole
  field (Python's `re` stands in for RE2);
- AIP-160 comparisons: `field = value`, `!=`, `<`, `<=`, `>`, `>=`, `:` (`:*` = the field is
  set; on a map, `labels:team` = the key is set), combined with AND, OR, NOT, `-` and
  parentheses; juxtaposed terms are ANDed and OR binds tighter than AND (AIP-160). `*` in a
  string value is a wildcard (`name = "a*"`).
Fields are dotted paths into the resource (`labels.team`, `scheduling.provisioningModel`) and
must exist in its schema. Anything else is refused with 400, never ignored.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from tpu_emulator.compute import discovery
from tpu_emulator.compute.errors import ComputeError

Json = dict[str, Any]
Predicate = Callable[[Json], bool]

_TOKEN = re.compile(
    r"""\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<op><=|>=|!=|=|<|>|:)|(?P<str>"(?:[^"\\]|\\.)*"|'[^']*')"""
    r"""|(?P<word>[^\s()=<>!:"']+))"""
)
_REGEX_TERM = re.compile(r"""^\s*([A-Za-z_][\w.]*)\s+(eq|ne)\s+(.+?)\s*$""")
_KEYWORDS = {"AND", "OR", "NOT"}


def bad_filter(expression: str, why: str) -> ComputeError:
    return ComputeError(400, "invalid", f"Invalid value for field 'filter': '{expression}'. {why}")


def compile_filter(expression: str | None, schema: str) -> Predicate | None:
    """A predicate over a resource's JSON, or None for no filter."""
    if not expression or not expression.strip():
        return None
    if re.search(r"\s(eq|ne)\s", expression):
        return _regex_filter(expression, schema)
    return _Parser(expression, schema).parse()


def resolve(resource: Json, path: list[str]) -> Any:
    node: Any = resource
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list):
            node = [item.get(part) for item in node if isinstance(item, dict)]
        else:
            return None
    return node


def _field(expression: str, name: str, schema: str) -> list[str]:
    path = name.split(".")
    if not discovery.has_field(schema, path):
        raise bad_filter(expression, f"Unknown field '{name}' in a {schema} filter.")
    return path


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _unquote(literal: str) -> str:
    if len(literal) >= 2 and literal[0] == literal[-1] and literal[0] in "\"'":
        return literal[1:-1]
    return literal


# ----- regular expressions -------------------------------------------------------------------


def _regex_filter(expression: str, schema: str) -> Predicate:
    text = expression.strip()
    terms = re.findall(r"\(([^()]*)\)", text) if text.startswith("(") else [text]
    if text.startswith("(") and re.sub(r"\([^()]*\)", "", text).strip():
        raise bad_filter(expression, "Regular expression terms must each be parenthesized.")
    checks: list[Predicate] = []
    for term in terms:
        match = _REGEX_TERM.match(term)
        if match is None or re.search(r"\s(AND|OR)\s|[=<>]", term):
            raise bad_filter(expression, "Cannot mix regular expressions with other operators.")
        name, op, literal = match.groups()
        path = _field(expression, name, schema)
        try:
            pattern = re.compile(_unquote(literal))
        except re.error as exc:
            raise bad_filter(expression, f"Invalid regular expression: {exc}.") from None
        checks.append(_regex_check(path, pattern, op == "eq"))
    return lambda resource: all(check(resource) for check in checks)


def _regex_check(path: list[str], pattern: re.Pattern[str], equal: bool) -> Predicate:
    def check(resource: Json) -> bool:
        value = resolve(resource, path)
        values = value if isinstance(value, list) else [value]
        hit = any(pattern.fullmatch(_as_text(v)) for v in values)
        return hit if equal else not hit

    return check


# ----- AIP-160 comparisons ---------------------------------------------------------------------


def _compare(op: str, actual: Any, wanted: str, quoted: bool) -> bool:
    if isinstance(actual, list):
        return any(_compare(op, item, wanted, quoted) for item in actual)
    if op == ":":
        if isinstance(actual, dict):
            return wanted in actual
        return actual is not None and (wanted == "*" or _as_text(actual) == wanted)
    if actual is None or isinstance(actual, dict):
        return op == "!="
    text = _as_text(actual)
    if op in ("=", "!="):
        same = fnmatch.fnmatchcase(text, wanted) if "*" in wanted else text == wanted
        return same if op == "=" else not same
    left: Any = text
    right: Any = wanted
    if not quoted and _number(text) is not None and _number(wanted) is not None:
        left, right = _number(text), _number(wanted)
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class _Parser:
    """expression := sequence {AND sequence}; sequence := factor {factor};
    factor := term {OR term}; term := [NOT | -] (comparison | "(" expression ")")."""

    def __init__(self, expression: str, schema: str) -> None:
        self.expression = expression
        self.schema = schema
        self.tokens = self._tokenize(expression)
        self.i = 0

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens, pos = [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise bad_filter(text, f"Unexpected character at position {pos}.")
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind)))
            pos = match.end()
        return tokens

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise bad_filter(self.expression, "The expression ends too early.")
        self.i += 1
        return token

    def parse(self) -> Predicate:
        predicate = self._expression()
        if self._peek() is not None:
            raise bad_filter(self.expression, f"Unexpected '{self._peek()[1]}'.")  # type: ignore[index]
        return predicate

    def _expression(self) -> Predicate:
        parts = [self._sequence()]
        while self._peek() == ("word", "AND"):
            self.i += 1
            parts.append(self._sequence())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def _sequence(self) -> Predicate:
        parts = [self._factor()]
        while (token := self._peek()) is not None and token[0] != "rp" and token[1] != "AND":
            parts.append(self._factor())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def _factor(self) -> Predicate:
        parts = [self._term()]
        while self._peek() == ("word", "OR"):
            self.i += 1
            parts.append(self._term())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def _term(self) -> Predicate:
        kind, value = self._take()
        if (kind, value) == ("word", "NOT") or (kind == "word" and value == "-"):
            inner = self._term()
            return lambda r: not inner(r)
        if kind == "word" and value.startswith("-") and len(value) > 1:
            self.tokens[self.i - 1] = ("word", value[1:])
            self.i -= 1
            inner = self._term()
            return lambda r: not inner(r)
        if kind == "lp":
            inner = self._expression()
            if self._take()[0] != "rp":
                raise bad_filter(self.expression, "Unbalanced parentheses.")
            return inner
        if kind != "word" or value in _KEYWORDS:
            raise bad_filter(self.expression, f"Expected a field name, found '{value}'.")
        return self._comparison(value)

    def _comparison(self, name: str) -> Predicate:
        path = _field(self.expression, name, self.schema)
        kind, op = self._take()
        if kind != "op":
            raise bad_filter(self.expression, f"Expected an operator after '{name}'.")
        kind, literal = self._take()
        if kind not in ("word", "str") or literal in _KEYWORDS:
            raise bad_filter(self.expression, f"Expected a value after '{name} {op}'.")
        quoted, wanted = kind == "str", _unquote(literal)
        if op == ":" and len(path) > 1 and wanted == "*":
            return lambda r: resolve(r, path) is not None
        return lambda r: _compare(op, resolve(r, path), wanted, quoted)


def order_key(order_by: str | None) -> Callable[[Json], Any] | None:
    """Only `name` and `creationTimestamp desc` are supported (the discovery document's
    words); None keeps the default order (by name)."""
    value = " ".join((order_by or "").split())
    if value in ("", "name", "name asc"):
        return None
    if value == "creationTimestamp desc":
        return lambda r: r.get("creationTimestamp") or r.get("insertTime", "")
    raise ComputeError(
        400,
        "invalid",
        f"Invalid value for field 'orderBy': '{order_by}'. Only 'name' and "
        "'creationTimestamp desc' are supported.",
    )

"""Pure: what the bot says, as words and typed parts, never as Slack markup.

Core and the use cases say things like "`node-1` is STOPPED" as
`say(Code("node-1"), " is STOPPED")`; the renderer (`bot.slack.blocks`) alone decides how a
piece of code, a person, a channel or an emphasis looks in Slack. `str()` of a text is its plain
form (for logs and the audit log), where code keeps plain text's usual backticks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """A name, value or command a person may type or copy."""

    text: str


@dataclass(frozen=True)
class User:
    """A Slack user, by id."""

    id: str


@dataclass(frozen=True)
class Channel:
    """A Slack channel, by id."""

    id: str


@dataclass(frozen=True)
class Strong:
    """Words that carry the point (a role, a state)."""

    text: str


@dataclass(frozen=True)
class Quote:
    """Someone's own words (a reason), shown apart and never read as markup."""

    text: str


Part = str | Code | User | Channel | Strong | Quote


@dataclass(frozen=True)
class Text:
    """Words and parts, in order."""

    parts: tuple[Part, ...] = ()

    def __str__(self) -> str:
        return "".join(_plain(part) for part in self.parts)

    def __add__(self, other: object) -> Text:
        if isinstance(other, Text):
            return Text(self.parts + other.parts)
        if isinstance(other, str | Code | User | Channel | Strong | Quote):
            return Text((*self.parts, other))
        return NotImplemented

    def __radd__(self, other: object) -> Text:
        if isinstance(other, str):
            return Text((other, *self.parts))
        return NotImplemented

    def __bool__(self) -> bool:
        return any(str(p) for p in self.parts)

    def __contains__(self, words: str) -> bool:
        return words in str(self)


def _plain(part: Part) -> str:
    """The plain form: code keeps the backticks plain text conventionally gives it."""
    if isinstance(part, str):
        return part
    if isinstance(part, Code):
        return f"`{part.text}`"
    if isinstance(part, User):
        return f"@{part.id}"
    if isinstance(part, Channel):
        return f"#{part.id}"
    return part.text


def say(*parts: Part | Text) -> Text:
    """A text from words and parts (texts are spliced in)."""
    flat: list[Part] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, Text) else (part,))
    return Text(tuple(flat))


def codes(values: Iterable[str], sep: str = ", ") -> Text:
    """Values as code, separated: `a`, `b`, `c`."""
    parts: list[Part] = []
    for index, value in enumerate(values):
        if index:
            parts.append(sep)
        parts.append(Code(value))
    return Text(tuple(parts))


Said = str | Text  # what a message field may hold: plain words, or words with parts

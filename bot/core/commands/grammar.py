"""Pure: what every `/tpu` parser shares: tokens, key=value options, node references, labels,
zones, enums, the usage error and its "did you mean" hint."""

from __future__ import annotations

import difflib
import enum
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from bot.core.noderef import InvalidNodeRef, NodeRef, parse_ref
from bot.core.text import Code, Said, Text, say

ZONE = re.compile(r"^[a-z]+-[a-z]+\d+-[a-z]$")
LABEL_KEY = re.compile(r"^[a-z][-_a-z0-9]{0,62}$")
LABEL_VALUE = re.compile(r"^[-_a-z0-9]{0,63}$")
VERSION = re.compile(r"^[-_.a-zA-Z0-9]{1,64}$")
TYPE = re.compile(r"^v\d+[a-z]*-\d+$")
CIDR = re.compile(r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")
PROJECT = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
ID = re.compile(r"^[0-9a-f]{8,64}$")
MAX_REASON = 500

NODE_HELP = say(
    "NODE is ",
    Code("name"),
    ", ",
    Code("zone/name"),
    ", ",
    Code("project/zone/name"),
    " or a full resource name.",
)
QUEUE_HELP = say(
    "NAME is ",
    Code("id"),
    ", ",
    Code("zone/id"),
    ", ",
    Code("project/zone/id"),
    " or a full queued resource name.",
)


class UsageError(Exception):
    """What was wrong, the subcommand it concerns, and a hint toward the right form. The
    registry fills in that subcommand's usage line."""

    def __init__(self, subcommand: str | None, problem: Said, hint: Said = "") -> None:
        super().__init__(str(problem))
        self.subcommand = subcommand
        self.problem = problem
        self.hint = hint
        self.usage = "/tpu help"


@dataclass
class Args:
    sub: str
    positional: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    labels: list[tuple[str, str]] = field(default_factory=list)


def tokens(text: str) -> list[str]:
    # Slack turns straight quotes into curly ones on some clients.
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'")
    text = text.replace("\u2019", "'")
    try:
        return shlex.split(text)
    except ValueError:
        raise UsageError(
            None, "A quote is not closed.", say("Close it: ", Code('description="two words"'))
        ) from None


def split(sub: str, words: Sequence[str]) -> Args:
    args = Args(sub)
    for token in words:
        key, eq, value = token.partition("=")
        if eq and key.startswith("label."):
            args.labels.append((key[len("label.") :], value))
        elif eq and re.match(r"^[a-z][-a-z]*$", key):
            if key in args.options:
                raise UsageError(sub, say(Code(f"{key}="), " is given twice."))
            args.options[key] = value
        else:
            args.positional.append(token)
    return args


def no_options(args: Args, allowed: Sequence[str] = ()) -> None:
    extra = sorted(set(args.options) - set(allowed))
    if extra or (args.labels and "label" not in allowed):
        what = Code(f"{extra[0]}=") if extra else Code("label.K=V")
        raise UsageError(args.sub, say(what, " is not an option of ", Code(args.sub), "."))


def node(args: Args, text: str) -> NodeRef:
    try:
        return parse_ref(text)
    except InvalidNodeRef as exc:
        raise UsageError(args.sub, exc.message, NODE_HELP) from None


def one_node(args: Args, extra_ok: bool = False) -> tuple[NodeRef, list[str]]:
    if not args.positional:
        problem = say("Which node? ", Code(args.sub), " needs a NODE.")
        raise UsageError(args.sub, problem, NODE_HELP)
    ref = node(args, args.positional[0])
    rest = args.positional[1:]
    if rest and not extra_ok:
        raise UsageError(args.sub, say("Unexpected ", Code(" ".join(rest)), "."))
    return ref, rest


def labels(args: Args) -> tuple[tuple[str, str], ...]:
    for key, value in args.labels:
        if not LABEL_KEY.match(key) or not LABEL_VALUE.match(value):
            raise UsageError(
                args.sub,
                say(Code(f"label.{key}={value}"), " is not a valid label."),
                "Keys and values: lowercase letters, digits, - and _; keys start with a letter.",
            )
    return tuple(args.labels)


def zone(args: Args, value: str) -> str:
    if not ZONE.match(value):
        raise UsageError(
            args.sub, say(Code(value), " is not a zone."), "A zone looks like us-central1-b."
        )
    return value


def reason(args: Args, words: list[str]) -> str:
    text = " ".join(words).strip()
    if len(text) > MAX_REASON:
        raise UsageError(args.sub, f"The reason is longer than {MAX_REASON} characters.")
    return text


def project(args: Args, value: str | None) -> str | None:
    if value is not None and not PROJECT.match(value):
        raise UsageError(args.sub, say(Code(value), " is not a project id."))
    return value


def page(args: Args) -> int:
    value = args.options.get("page", "0")
    if not value.isdigit() or int(value) > 10_000:
        raise UsageError(args.sub, say(Code(f"page={value}"), " is not a page number."))
    return int(value)


E = TypeVar("E", bound=enum.Enum)


def choice(args: Args, key: str, value: str, kind: type[E]) -> E:
    """One of an enum's values but its first (the API's UNSPECIFIED)."""
    wanted = value.upper()
    names = [str(m.value) for m in kind][1:]
    if wanted not in names:
        raise UsageError(
            args.sub, say(Code(f"{key}={value}"), " is not known."), f"One of: {', '.join(names)}."
        )
    return kind(wanted)


def one_id(args: Args, what: str) -> str:
    no_options(args)
    if len(args.positional) != 1 or not ID.match(args.positional[0]):
        raise UsageError(args.sub, f"Give the {what} id.", "The bot's buttons carry it for you.")
    return args.positional[0]


def did_you_mean(word: str, names: Iterable[str]) -> Text:
    close = difflib.get_close_matches(word, list(names), n=1)
    if close:
        return say("Did you mean ", Code(f"/tpu {close[0]}"), "?")
    return say("Try ", Code("/tpu help"), ".")

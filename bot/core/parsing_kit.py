"""Pure: what every `/tpu` parser shares: tokens, key=value options, node references, labels,
zones, enums, and the "did you mean" hint."""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.commands import MAX_REASON, NODE_HELP, USAGE, UsageError
from bot.core.models import Health, NodeState
from bot.core.noderef import InvalidNodeRef, NodeRef, parse_ref
from bot.core.queued import QueuedState

_ZONE = re.compile(r"^[a-z]+-[a-z]+\d+-[a-z]$")
_LABEL_KEY = re.compile(r"^[a-z][-_a-z0-9]{0,62}$")
_LABEL_VALUE = re.compile(r"^[-_a-z0-9]{0,63}$")
_VERSION = re.compile(r"^[-_.a-zA-Z0-9]{1,64}$")
_TYPE = re.compile(r"^v\d+[a-z]*-\d+$")
_CIDR = re.compile(r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")
_PROJECT = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")


@dataclass
class _Args:
    sub: str
    positional: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    labels: list[tuple[str, str]] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)


def _tokens(text: str) -> list[str]:
    # Slack turns straight quotes into curly ones on some clients.
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'")
    text = text.replace("\u2019", "'")
    try:
        return shlex.split(text)
    except ValueError:
        raise UsageError(
            None, "A quote is not closed.", 'Close it: description="two words"'
        ) from None


def _split(sub: str, tokens: Sequence[str]) -> _Args:
    args = _Args(sub)
    for token in tokens:
        key, eq, value = token.partition("=")
        if eq and key.startswith("label."):
            args.labels.append((key[len("label.") :], value))
        elif eq and re.match(r"^[a-z][-a-z]*$", key):
            if key in args.options:
                raise UsageError(sub, f"`{key}=` is given twice.")
            args.options[key] = value
        else:
            args.positional.append(token)
    return args


def _no_options(args: _Args, allowed: Sequence[str] = ()) -> None:
    extra = sorted(set(args.options) - set(allowed))
    if extra or (args.labels and "label" not in allowed):
        what = f"`{extra[0]}=`" if extra else "`label.K=V`"
        raise UsageError(args.sub, f"{what} is not an option of `{args.sub}`.")


def _node(args: _Args, text: str) -> NodeRef:
    try:
        return parse_ref(text)
    except InvalidNodeRef as exc:
        raise UsageError(args.sub, exc.message, NODE_HELP) from None


def _one_node(args: _Args, extra_ok: bool = False) -> tuple[NodeRef, list[str]]:
    if not args.positional:
        raise UsageError(args.sub, f"Which node? `{args.sub}` needs a NODE.", NODE_HELP)
    node = _node(args, args.positional[0])
    rest = args.positional[1:]
    if rest and not extra_ok:
        raise UsageError(args.sub, f"Unexpected `{' '.join(rest)}`.")
    return node, rest


def _labels(args: _Args) -> tuple[tuple[str, str], ...]:
    for key, value in args.labels:
        if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            raise UsageError(
                args.sub,
                f"`label.{key}={value}` is not a valid label.",
                "Keys and values: lowercase letters, digits, - and _; keys start with a letter.",
            )
    return tuple(args.labels)


def _zone(args: _Args, value: str) -> str:
    if not _ZONE.match(value):
        raise UsageError(args.sub, f"`{value}` is not a zone.", "A zone looks like us-central1-b.")
    return value


def _reason(args: _Args, words: list[str]) -> str:
    reason = " ".join(words).strip()
    if len(reason) > MAX_REASON:
        raise UsageError(args.sub, f"The reason is longer than {MAX_REASON} characters.")
    return reason


def _enum(
    args: _Args, key: str, value: str, enum: type[NodeState] | type[Health] | type[QueuedState]
) -> object:
    wanted = value.upper()
    names = [m.value for m in enum][1:]
    if wanted not in names:
        raise UsageError(args.sub, f"`{key}={value}` is not known.", f"One of: {', '.join(names)}.")
    return enum(wanted)


def _did_you_mean(word: str) -> str:
    close = difflib.get_close_matches(word, [*USAGE, "queue"], n=1)
    return f"Did you mean `/tpu {close[0]}`?" if close else "Try `/tpu help`."

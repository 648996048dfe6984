"""Pure: the commands about whether TPUs do any work: the usage table, and keeping a TPU the idle
sweep would name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.commands import grammar as g
from bot.core.commands.grammar import Args, UsageError
from bot.core.commands.spec import Names, Subcommand
from bot.core.noderef import NodeRef
from bot.core.roles import Role
from bot.core.text import Code, say

_HOURS = re.compile(r"^(\d{1,3})h$")
MAX_KEEP_HOURS = 24 * 30


@dataclass(frozen=True)
class Usage:
    project: str | None = None
    zone: str | None = None
    idle: bool = False  # only the idle ones


@dataclass(frozen=True)
class Keep:
    """Keep a TPU out of the idle sweep for `hours` (default: the config's keep_hours)."""

    node: NodeRef
    hours: int | None = None


def parse_usage(args: Args) -> Usage:
    g.no_options(args, ("project", "zone"))
    extra = [word for word in args.positional if word != "idle"]
    if extra:
        raise UsageError(
            args.sub, say("Unexpected ", Code(extra[0]), "."), say(Code("idle"), " is a flag.")
        )
    opts = args.options
    return Usage(
        project=g.project(args, opts.get("project")),
        zone=g.zone(args, opts["zone"]) if "zone" in opts else None,
        idle="idle" in args.positional,
    )


def parse_keep(args: Args) -> Keep:
    g.no_options(args)
    node, rest = g.one_node(args, extra_ok=True)
    if not rest:
        return Keep(node)
    found = _HOURS.match(rest[0]) if len(rest) == 1 else None
    if found is None or not 1 <= int(found.group(1)) <= MAX_KEEP_HOURS:
        raise UsageError(
            args.sub,
            say(Code(" ".join(rest)), " is not a number of hours."),
            f"Like 24h (up to {MAX_KEEP_HOURS}h).",
        )
    return Keep(node, int(found.group(1)))


DECLARED = (
    Subcommand(
        "usage",
        "/tpu usage [project=P] [zone=Z] [idle]",
        "how busy each TPU is (duty cycle over 1 h and 24 h) and its cost a day, idle ones first",
        Usage,
        parse_usage,
        listed=125,
    ),
    Subcommand(
        "keep",
        "/tpu keep NODE [24h]",
        "keep a TPU out of the idle sweep for a while (what the Keep button runs)",
        Keep,
        parse_keep,
        Role.OPERATOR,
        "keep TPUs from the idle sweep",
        names=Names.NODE,
        listed=126,
    ),
)

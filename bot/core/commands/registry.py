"""Pure: every `/tpu` subcommand, declared once (in `nodes`, `queued` and `meta`), and what is
derived from the declarations: parsing, usage lines, help topics, roles, approval keys."""

from __future__ import annotations

from collections.abc import Iterable

from bot.core.commands import compute, meta, nodes, queued, usage
from bot.core.commands.grammar import UsageError, did_you_mean, split, tokens
from bot.core.commands.meta import Decide, Help
from bot.core.commands.spec import Subcommand, Verb
from bot.core.text import Code, say

# Every declaration, in the order help lists them (each says where: `listed`).
SUBCOMMANDS: tuple[Subcommand, ...] = tuple(
    sorted(
        (*nodes.DECLARED, *queued.DECLARED, *meta.DECLARED, *usage.DECLARED, *compute.DECLARED),
        key=lambda s: s.listed,
    )
)
assert len({s.name for s in SUBCOMMANDS}) == len(SUBCOMMANDS), "each name is declared once"
BY_NAME: dict[str, Subcommand] = {s.name: s for s in SUBCOMMANDS}
# A command type -> its declaration (approve and deny share Decide, and everything else).
_BY_TYPE: dict[type, Subcommand] = {}
for _spec in SUBCOMMANDS:
    _BY_TYPE.setdefault(_spec.command, _spec)
COMMAND_TYPES: tuple[type, ...] = tuple(_BY_TYPE)
_GROUPS = sorted({s.name.split(" ")[0] for s in SUBCOMMANDS if " " in s.name})


def spec_of(command: object) -> Subcommand:
    """The declaration a parsed command comes from."""
    if isinstance(command, Decide):
        return BY_NAME["approve" if command.approve else "deny"]
    return _BY_TYPE[type(command)]


def usage_of(name: str | None) -> str:
    spec = BY_NAME.get(name or "")
    return spec.usage if spec else "/tpu help"


def verbs() -> tuple[Verb, ...]:
    """The actions subcommands ask for (what `approvals.required_for` may name)."""
    return tuple(dict.fromkeys(s.verb for s in SUBCOMMANDS if s.verb is not None))


def names() -> Iterable[str]:
    return (*BY_NAME, *_GROUPS)


def parse(text: str) -> object:
    """What followed `/tpu` -> a command. Raises UsageError (with its usage line), never
    anything else."""
    try:
        return _parse(text)
    except UsageError as exc:
        exc.usage = usage_of(exc.subcommand)
        raise


def _parse(text: str) -> object:
    words = tokens(text)
    if not words:
        return Help()
    sub, rest = words[0].lower(), words[1:]
    if sub in ("help", "-h", "--help", "?"):
        return _help(rest)
    typed = words[0]
    if sub in _GROUPS:
        if not rest:
            first = next(s.name for s in SUBCOMMANDS if s.name.startswith(f"{sub} "))
            raise UsageError(first, f"Which {sub} command?", _group_members(sub))
        typed = f"{sub} {rest[0]}"
        sub, rest = f"{sub} {rest[0].lower()}", rest[1:]
    spec = BY_NAME.get(sub)
    if spec is None:
        raise UsageError(
            None, say(Code(typed), " is not a /tpu command."), did_you_mean(sub, names())
        )
    return spec.parse(split(sub, rest))


def _help(rest: list[str]) -> Help:
    topic = " ".join(rest[:2]).lower() if rest else None
    if topic is not None and topic not in BY_NAME and topic not in _GROUPS:
        problem = say("There is no ", Code(topic), " command.")
        raise UsageError("help", problem, did_you_mean(topic, names()))
    return Help(topic)


def _group_members(group: str) -> str:
    members = [s.name.split(" ", 1)[1] for s in SUBCOMMANDS if s.name.startswith(f"{group} ")]
    return ", ".join(members) + "."

"""Which use case runs each declared subcommand (`bot.core.commands`), and what it reports.

A use case registers itself with `@handles(cmd.Stop)` beside its code. It returns an `Outcome`:
the answer for the person and what the audit log says of it; the dispatcher writes the audit
entry for every outcome, so no path can skip it. `missing()` names any declared subcommand
nothing handles: the bot refuses to start with one, and a unit test checks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from bot.core import messages as m
from bot.core.commands.registry import COMMAND_TYPES, SUBCOMMANDS
from bot.core.text import Said
from bot.usecases.context import Actor, Deps


@dataclass(frozen=True)
class Outcome:
    """What a command came to: the answer (None: it was posted), and its audit entry."""

    answer: m.Message | None
    outcome: str = "ok"  # ok, pending, started, refused, duplicate, no open alert...
    target: str = ""  # what it acted on (default: the command's text)
    detail: Said = ""
    action: str = ""  # default: the subcommand's verb, else "command"
    # What follows once this outcome is audited, whose answer replaces `answer` (an approval is
    # carried out after its decision is written, and carrying it out audits what the API did).
    then: Callable[[], m.Message] | None = None


def refused(why: Said, target: str = "", action: str = "") -> Outcome:
    """A refusal said to the person and written to the audit log, in one value."""
    return Outcome(m.Notice(why, m.Tone.ERROR), "refused", target, why, action)


Handler = Callable[[Deps, Actor, Any, datetime], Outcome]
HANDLERS: dict[type, Handler] = {}
H = TypeVar("H", bound=Callable[..., Outcome])


def handles(*commands: type) -> Callable[[H], H]:
    """Register the decorated use case as the one that runs `commands`."""

    def register(handler: H) -> H:
        for command in commands:
            if command in HANDLERS:
                raise ValueError(f"{command.__name__} already has a handler")
            HANDLERS[command] = handler
        return handler

    return register


def missing() -> list[str]:
    """Declared subcommands that no use case handles (empty when the bot is complete)."""
    unhandled = {t for t in COMMAND_TYPES if t not in HANDLERS}
    return [s.name for s in SUBCOMMANDS if s.command in unhandled]

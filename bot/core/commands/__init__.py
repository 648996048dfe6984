"""Pure: the `/tpu` commands. Each subcommand is declared once, beside its data and its grammar
(`nodes`, `queued`, `meta`); `registry` derives parsing, usage, help, roles and approval keys
from the declarations; `grammar` is what the parsers share. The names below are the ones the
rest of the bot has always used; a new subcommand is imported from its own module."""

from bot.core.commands.grammar import NODE_HELP, QUEUE_HELP, UsageError
from bot.core.commands.meta import (
    MAX_AUDIT,
    Acknowledge,
    Audit,
    Decide,
    Help,
    Mute,
    Types,
    Versions,
)
from bot.core.commands.nodes import (
    Create,
    Delete,
    GetNode,
    Label,
    ListNodes,
    Ops,
    Recreate,
    Reimage,
    Start,
    Stop,
)
from bot.core.commands.queued import (
    QueueCreate,
    QueueDelete,
    QueueGet,
    QueueList,
    QueueReset,
    Requeue,
)
from bot.core.commands.registry import SUBCOMMANDS, parse, spec_of, usage_of
from bot.core.commands.spec import Names, Subcommand, Verb

# Any declared command's dataclass (the registry knows them all: `registry.COMMAND_TYPES`).
Command = object

__all__ = [
    "MAX_AUDIT",
    "NODE_HELP",
    "QUEUE_HELP",
    "SUBCOMMANDS",
    "Acknowledge",
    "Audit",
    "Command",
    "Create",
    "Decide",
    "Delete",
    "GetNode",
    "Help",
    "Label",
    "ListNodes",
    "Mute",
    "Names",
    "Ops",
    "QueueCreate",
    "QueueDelete",
    "QueueGet",
    "QueueList",
    "QueueReset",
    "Recreate",
    "Reimage",
    "Requeue",
    "Start",
    "Stop",
    "Subcommand",
    "Types",
    "UsageError",
    "Verb",
    "Versions",
    "parse",
    "spec_of",
    "usage_of",
]

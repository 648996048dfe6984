"""Pure: what a subcommand is, declared once: its name, usage and summary, grammar, role, what it
names, the action approvals speak of, and how the dispatcher audits it. Parsing, help, policy,
dispatch, approvals and the config's accepted verbs all read these declarations."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.core.commands.grammar import Args
from bot.core.roles import Role


class Verb(enum.StrEnum):
    """The actions that change a TPU: what approvals, operations and the audit log speak of, and
    what `approvals.required_for` may name."""

    STOP = "stop"
    START = "start"
    REIMAGE = "reimage"
    DELETE = "delete"
    CREATE = "create"
    RECREATE = "recreate"
    LABEL = "label"
    QUEUE_CREATE = "queue-create"
    QUEUE_DELETE = "queue-delete"
    QUEUE_RESET = "queue-reset"
    REQUEUE = "requeue"  # delete a queued resource or a preempted spot VM, queue it again
    REPORT_FAULTY = "report-faulty"  # report a TPU VM's host as faulty: the VM moves hosts
    MAINTENANCE = "maintenance"  # start a TPU VM's or a sub-block's pending maintenance now
    QUEUE_CANCEL = "queue-cancel"  # cancel a flex-start request still waiting

    @property
    def on_queued_resource(self) -> bool:
        """Whether the action's target is a queued resource (else a node; requeue: either)."""
        return self in (Verb.QUEUE_CREATE, Verb.QUEUE_DELETE, Verb.QUEUE_RESET, Verb.QUEUE_CANCEL)


class Names(enum.Enum):
    """What a subcommand's argument names, for its help."""

    NOTHING = "nothing"
    NODE = "node"
    QUEUED = "queued resource"
    REQUEST = "request"
    ALERT = "alert"
    ZONE = "zone"


@dataclass(frozen=True)
class Subcommand:
    """One `/tpu` subcommand, complete: nothing about it is said anywhere else but its handler
    (registered by the use case that runs it) and its answers' drawing."""

    name: str  # "stop", "queue create"
    usage: str
    summary: str
    command: type  # the dataclass it parses into
    parse: Callable[[Args], Any]
    role: Role = Role.VIEWER
    does: str = "view nodes"  # for a refusal: "You need the operator role to <does>"
    verb: Verb | None = None  # the action it asks for (approval key, audit action)
    # It needs approval when any of these is in `approvals.required_for` (default: its verb).
    careful_as: tuple[Verb, ...] = ()
    names: Names = Names.NOTHING
    listed: int = 1000  # where help lists it (lower first)

    @property
    def approval_keys(self) -> tuple[Verb, ...]:
        return self.careful_as or ((self.verb,) if self.verb else ())

"""Pure: the commands about the bot itself and what it offers: help, who you are, zones' catalogs,
the audit log, and what the Approve, Deny, Acknowledge and Mute buttons run."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.commands import grammar as g
from bot.core.commands.grammar import Args, UsageError
from bot.core.commands.spec import Names, Subcommand
from bot.core.roles import Role
from bot.core.text import Code, say

MAX_AUDIT = 100

# ----- the commands as data --------------------------------------------------------------------


@dataclass(frozen=True)
class Help:
    topic: str | None = None


@dataclass(frozen=True)
class WhoAmI:
    """Your roles and why, and the projects and zones you may touch."""


@dataclass(frozen=True)
class Types:
    zone: str


@dataclass(frozen=True)
class Versions:
    zone: str


@dataclass(frozen=True)
class Audit:
    limit: int = 20


@dataclass(frozen=True)
class Decide:
    """Approve or deny a pending request."""

    approval_id: str
    approve: bool


@dataclass(frozen=True)
class Acknowledge:
    incident_id: str


@dataclass(frozen=True)
class Mute:
    incident_id: str


# ----- their grammar ---------------------------------------------------------------------------


def parse_nothing(command: type) -> object:
    def parse(args: Args) -> object:
        g.no_options(args)
        if args.positional:
            raise UsageError(args.sub, say("Unexpected ", Code(" ".join(args.positional)), "."))
        return command()

    return parse


def parse_zone(command: type[Types] | type[Versions]) -> object:
    def parse(args: Args) -> Types | Versions:
        g.no_options(args)
        if len(args.positional) != 1:
            raise UsageError(args.sub, "Give one ZONE.", "Like us-central1-b.")
        return command(g.zone(args, args.positional[0]))

    return parse


def parse_audit(args: Args) -> Audit:
    g.no_options(args)
    if not args.positional:
        return Audit()
    value = args.positional[0]
    if len(args.positional) > 1 or not value.isdigit() or not 1 <= int(value) <= MAX_AUDIT:
        raise UsageError(
            "audit",
            say(Code(" ".join(args.positional)), " is not a count."),
            f"A number from 1 to {MAX_AUDIT}.",
        )
    return Audit(int(value))


# ----- their declarations ----------------------------------------------------------------------

DECLARED = (
    Subcommand(
        "help",
        "/tpu help [COMMAND]",
        "this help, or one command's",
        Help,
        lambda a: Help(),
        listed=10,
    ),
    Subcommand(
        "whoami",
        "/tpu whoami",
        "your roles and why, and the projects and zones you may touch",
        WhoAmI,
        parse_nothing(WhoAmI),  # type: ignore[arg-type]
        # Anyone may ask, above all someone with no role: it says why and who grants roles.
        Role.NONE,
        "see who you are to the bot",
        listed=20,
    ),
    Subcommand(
        "types",
        "/tpu types ZONE",
        "accelerator types offered in a zone",
        Types,
        parse_zone(Types),  # type: ignore[arg-type]
        names=Names.ZONE,
        listed=110,
    ),
    Subcommand(
        "versions",
        "/tpu versions ZONE",
        "TensorFlow versions offered in a zone",
        Versions,
        parse_zone(Versions),  # type: ignore[arg-type]
        names=Names.ZONE,
        listed=120,
    ),
    Subcommand(
        "audit",
        "/tpu audit [N]",
        "the latest audit entries (default 20)",
        Audit,
        parse_audit,
        Role.OPERATOR,
        "read the audit log",
        listed=130,
    ),
    Subcommand(
        "approve",
        "/tpu approve REQUEST",
        "approve a pending request (what the Approve button runs)",
        Decide,
        lambda args: Decide(g.one_id(args, "request"), approve=True),
        Role.APPROVER,
        "approve or deny requests",
        names=Names.REQUEST,
        listed=220,
    ),
    Subcommand(
        "deny",
        "/tpu deny REQUEST",
        "deny a pending request (what the Deny button runs)",
        Decide,
        lambda args: Decide(g.one_id(args, "request"), approve=False),
        Role.APPROVER,
        "approve or deny requests",
        names=Names.REQUEST,
        listed=230,
    ),
    Subcommand(
        "ack",
        "/tpu ack ALERT",
        "acknowledge an alert: it shows it is yours (what the Acknowledge button runs)",
        Acknowledge,
        lambda args: Acknowledge(g.one_id(args, "alert")),
        Role.OPERATOR,
        "acknowledge or mute alerts",
        names=Names.ALERT,
        listed=240,
    ),
    Subcommand(
        "mute",
        "/tpu mute ALERT",
        "mute an alert for an hour (what the Mute button runs)",
        Mute,
        lambda args: Mute(g.one_id(args, "alert")),
        Role.OPERATOR,
        "acknowledge or mute alerts",
        names=Names.ALERT,
        listed=250,
    ),
)

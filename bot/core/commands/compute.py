"""Pure: the commands about TPU VM instances' capacity and hosts: slices, reservations, reporting
a host as faulty, starting maintenance, and cancelling a flex-start request."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.commands import grammar as g
from bot.core.commands.grammar import Args, UsageError
from bot.core.commands.spec import Names, Subcommand, Verb
from bot.core.names import Kind, ResourceName
from bot.core.noderef import NodeRef
from bot.core.roles import Role
from bot.core.text import Code, Said, say

# ----- the commands as data --------------------------------------------------------------------


@dataclass(frozen=True)
class Slices:
    project: str | None = None
    zone: str | None = None


@dataclass(frozen=True)
class Reservations:
    project: str | None = None
    zone: str | None = None


@dataclass(frozen=True)
class ReportFaulty:
    node: NodeRef
    reason: str


@dataclass(frozen=True)
class MaintenanceStart:
    """Start pending maintenance now: on an instance, or on a reservation sub-block."""

    target: NodeRef
    full: str = ""  # a full resource name, when one was given (a sub-block's)


@dataclass(frozen=True)
class QueueCancel:
    """Cancel a flex-start request still waiting for capacity."""

    name: NodeRef
    full: str = ""  # its full name, when given (what the Cancel button carries)


# ----- their grammar ---------------------------------------------------------------------------

SUB_BLOCK_HELP = say(
    "TARGET is an instance (",
    Code("name"),
    ", ",
    Code("zone/name"),
    ", ",
    Code("project/zone/name"),
    ") or a reservation sub-block (its id or full name).",
)
FLEX_HELP = say("NAME is a flex-start request's id or full name.")
_FULL = re.compile(r"^projects/")


def _where(args: Args) -> dict[str, str | None]:
    g.no_options(args, ("project", "zone"))
    if args.positional:
        raise UsageError(
            args.sub, say("Unexpected ", Code(args.positional[0]), "."), "Filters are key=value."
        )
    opts = args.options
    return {
        "project": g.project(args, opts.get("project")),
        "zone": g.zone(args, opts["zone"]) if "zone" in opts else None,
    }


def parse_report_faulty(args: Args) -> ReportFaulty:
    g.no_options(args)
    node, rest = g.one_node(args, extra_ok=True)
    reason = g.reason(args, rest)
    if not reason:
        raise UsageError(
            args.sub,
            "Say why: the reason is sent with the report.",
            say("Like ", Code("/tpu report-faulty vm-1 chip errors in every step"), "."),
        )
    return ReportFaulty(node, reason)


def _full_or_ref(args: Args, kinds: tuple[Kind, ...], help: Said) -> tuple[NodeRef, str]:
    """One full resource name of one of `kinds`, or a reference like a node's."""
    if len(args.positional) != 1 or args.options or args.labels:
        what = "Give one name." if not args.positional else "Unexpected arguments."
        raise UsageError(args.sub, what, help)
    text = args.positional[0]
    if _FULL.match(text) and "/zones/" in text:
        found = ResourceName.find(text)
        if found is not None and found.kind in {k.value for k in kinds}:
            return NodeRef(found.id, found.zone, found.project), found.full
    return g.node(args, text), ""


def parse_maintenance_start(args: Args) -> MaintenanceStart:
    ref, full = _full_or_ref(args, (Kind.SUB_BLOCK, Kind.INSTANCE), SUB_BLOCK_HELP)
    return MaintenanceStart(ref, full)


def parse_queue_cancel(args: Args) -> QueueCancel:
    ref, full = _full_or_ref(args, (Kind.RESIZE_REQUEST,), FLEX_HELP)
    return QueueCancel(ref, full)


# ----- their declarations ----------------------------------------------------------------------

OPERATOR = Role.OPERATOR
DECLARED = (
    Subcommand(
        "slices",
        "/tpu slices [project=P] [zone=Z]",
        "multi-host slices of TPU VMs: hosts healthy of wanted, topology, trouble first",
        Slices,
        lambda args: Slices(**_where(args)),
        does="view slices",
        listed=155,
    ),
    Subcommand(
        "reservations",
        "/tpu reservations [project=P] [zone=Z]",
        "reservations, their blocks and sub-blocks: degraded hosts, maintenance",
        Reservations,
        lambda args: Reservations(**_where(args)),
        does="view reservations",
        listed=156,
    ),
    Subcommand(
        "report-faulty",
        "/tpu report-faulty NODE reason",
        "quarantine a TPU VM whose chips are bad: report its host as faulty, the VM moves to "
        "another host (approval may be needed)",
        ReportFaulty,
        parse_report_faulty,
        OPERATOR,
        "report hosts as faulty",
        Verb.REPORT_FAULTY,
        names=Names.NODE,
        listed=157,
    ),
    Subcommand(
        "maintenance start",
        "/tpu maintenance start TARGET",
        "start a TPU VM's or a reservation sub-block's pending maintenance now "
        "(approval may be needed)",
        MaintenanceStart,
        parse_maintenance_start,
        OPERATOR,
        "start maintenance",
        Verb.MAINTENANCE,
        names=Names.NODE,
        listed=158,
    ),
    Subcommand(
        "queue cancel",
        "/tpu queue cancel NAME",
        "cancel a flex-start request still waiting for capacity (what the Cancel button runs)",
        QueueCancel,
        parse_queue_cancel,
        OPERATOR,
        "cancel flex-start requests",
        Verb.QUEUE_CANCEL,
        names=Names.QUEUED,
        listed=205,
    ),
)

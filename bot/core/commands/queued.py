"""Pure: the commands about queued resources (requests for capacity), and requeue."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.commands import grammar as g
from bot.core.commands.grammar import Args, UsageError
from bot.core.commands.nodes import LISTS_OFFERED, missing_options
from bot.core.commands.spec import Names, Subcommand, Verb
from bot.core.noderef import InvalidNodeRef, NodeRef, parse_ref
from bot.core.queued import QueuedState
from bot.core.roles import Role
from bot.core.text import Code, say

# ----- the commands as data --------------------------------------------------------------------


@dataclass(frozen=True)
class QueueList:
    project: str | None = None
    zone: str | None = None
    state: QueuedState | None = None
    page: int = 0

    def to_text(self) -> str:
        """Back to `/tpu queue list` arguments: what a Next button carries."""
        parts = ["queue list"]
        for key, value in (("project", self.project), ("zone", self.zone)):
            if value:
                parts.append(f"{key}={value}")
        if self.state:
            parts.append(f"state={self.state.value}")
        return " ".join(parts)


@dataclass(frozen=True)
class QueueGet:
    name: NodeRef  # a queued resource is named like a node: id, zone/id, project/zone/id


@dataclass(frozen=True)
class QueueCreate:
    queued_id: str
    zone: str
    accelerator_type: str
    runtime: str
    project: str | None = None
    spot: bool = False
    nodes: int = 0  # > 0: a multislice of that many slices
    valid_for_seconds: int | None = None


@dataclass(frozen=True)
class QueueDelete:
    name: NodeRef
    force: bool = False


@dataclass(frozen=True)
class QueueReset:
    name: NodeRef


@dataclass(frozen=True)
class Requeue:
    name: NodeRef  # a queued resource, a flex-start request, or a preempted spot VM
    node: bool = False  # named by its full node name: the VM, not a queued resource
    flex: str = ""  # named by a flex-start request's full name (what its button carries)


# ----- their grammar ---------------------------------------------------------------------------

_QUEUED_FULL = re.compile(r"^projects/([^/]+)/locations/([^/]+)/queuedResources/([^/]+)$")
_FLEX_FULL = re.compile(
    r"^projects/([^/]+)/zones/([^/]+)/instanceGroupManagers/[^/]+/resizeRequests/([^/]+)$"
)
_DURATION = re.compile(r"^(\d{1,4})([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_VALID_FOR = 30 * 86400
MAX_SLICES = 64


def queued_name(args: Args) -> NodeRef:
    """NAME like a node reference (`id`, `zone/id`, `project/zone/id`) or a full name."""
    if len(args.positional) != 1 or args.options or args.labels:
        what = "Give one NAME." if not args.positional else "Unexpected arguments."
        raise UsageError(args.sub, what, g.QUEUE_HELP)
    text = args.positional[0]
    full = _QUEUED_FULL.match(text)
    if full:
        text = "/".join(full.groups())
    try:
        return parse_ref(text, "queued resource")
    except InvalidNodeRef as exc:
        raise UsageError(args.sub, exc.message, g.QUEUE_HELP) from None


def parse_requeue(args: Args) -> Requeue:
    """A queued resource's name, a flex-start request's full name, or a VM's full node name
    (the VM, not a request)."""
    flex = _FLEX_FULL.match(args.positional[0]) if len(args.positional) == 1 else None
    if flex is not None and not args.options and not args.labels:
        project, zone, request_id = flex.groups()
        return Requeue(NodeRef(request_id, zone, project), flex=args.positional[0])
    return Requeue(queued_name(args), bool(args.positional and "/nodes/" in args.positional[0]))


def parse_queue_list(args: Args) -> QueueList:
    g.no_options(args, ("project", "zone", "state", "page"))
    if args.positional:
        raise UsageError(
            args.sub, say("Unexpected ", Code(args.positional[0]), "."), "Filters are key=value."
        )
    opts = args.options
    state = opts.get("state")
    return QueueList(
        project=g.project(args, opts.get("project")),
        zone=g.zone(args, opts["zone"]) if "zone" in opts else None,
        state=g.choice(args, "state", state, QueuedState) if state else None,
        page=g.page(args),
    )


def parse_queue_delete(args: Args) -> QueueDelete:
    force = "force" in args.positional[1:]
    extra = [p for p in args.positional[1:] if p != "force"]
    if extra:
        raise UsageError(
            args.sub,
            say("Unexpected ", Code(extra[0]), "."),
            say("Only ", Code("force"), " may follow NAME."),
        )
    args.positional = args.positional[:1]
    return QueueDelete(queued_name(args), force)


def _duration(args: Args, text: str) -> int:
    match = _DURATION.match(text)
    seconds = int(match.group(1)) * _SECONDS[match.group(2)] if match else 0
    if not 60 <= seconds <= MAX_VALID_FOR:
        raise UsageError(
            args.sub,
            say(Code(f"valid-for={text}"), " is not a duration."),
            "Like 90m, 6h or 2d (up to 30d).",
        )
    return seconds


def parse_queue_create(args: Args) -> QueueCreate:
    g.no_options(args, ("zone", "type", "runtime", "project", "nodes", "valid-for", "spot"))
    flags = args.positional[1:]
    bad = next((f for f in flags if f != "spot"), None)
    if bad is not None or not args.positional:
        problem = say("Unexpected ", Code(bad), ".") if bad else say("Which NAME?")
        raise UsageError(
            args.sub, problem, say("Options are key=value; ", Code("spot"), " is a flag.")
        )
    ref = queued_name(Args(args.sub, args.positional[:1]))
    opts = args.options
    zone = opts.get("zone") or ref.zone
    if ref.zone and opts.get("zone") and ref.zone != opts["zone"]:
        raise UsageError(args.sub, f"The name says {ref.zone} but zone={opts['zone']}.")
    missing = [k for k in ("type", "runtime") if not opts.get(k)]
    if not zone:
        missing.insert(0, "zone")
    if missing:
        raise UsageError(args.sub, missing_options(missing), LISTS_OFFERED)
    if not g.TYPE.match(opts["type"]):
        raise UsageError(
            args.sub, say(Code(f"type={opts['type']}"), " is not an accelerator type.")
        )
    if not g.VERSION.match(opts["runtime"]):
        raise UsageError(
            args.sub, say(Code(f"runtime={opts['runtime']}"), " is not a runtime version.")
        )
    nodes = opts.get("nodes", "0")
    if not nodes.isdigit() or not (nodes == "0" or 2 <= int(nodes) <= MAX_SLICES):
        raise UsageError(
            args.sub, say(Code(f"nodes={nodes}"), " is not a slice count."), "2 to 64 slices."
        )
    valid_for = opts.get("valid-for")
    return QueueCreate(
        queued_id=ref.node_id,
        zone=g.zone(args, str(zone)),
        accelerator_type=opts["type"],
        runtime=opts["runtime"],
        project=opts.get("project") or ref.project,
        spot="spot" in flags or opts.get("spot", "").lower() in ("true", "yes"),
        nodes=int(nodes),
        valid_for_seconds=_duration(args, valid_for) if valid_for else None,
    )


# ----- their declarations ----------------------------------------------------------------------

OPERATOR = Role.OPERATOR
DECLARED = (
    Subcommand(
        "queue list",
        "/tpu queue list [project=P] [zone=Z] [state=S]",
        "queued resources (requests for capacity): waiting, failed, suspended first",
        QueueList,
        parse_queue_list,
        listed=160,
    ),
    Subcommand(
        "queue get",
        "/tpu queue get NAME",
        "one queued resource's card",
        QueueGet,
        lambda args: QueueGet(queued_name(args)),
        names=Names.QUEUED,
        listed=170,
    ),
    Subcommand(
        "queue create",
        "/tpu queue create NAME zone=Z type=T runtime=R [project=P] [spot] [nodes=N] "
        "[valid-for=DURATION]",
        "queue a request for TPU VMs (nodes=N: a multislice of N); valid-for like 6h or 2d "
        "(approval may be needed)",
        QueueCreate,
        parse_queue_create,
        OPERATOR,
        "create queued resources",
        Verb.QUEUE_CREATE,
        names=Names.QUEUED,
        listed=180,
    ),
    Subcommand(
        "queue delete",
        "/tpu queue delete NAME [force]",
        "delete a queued resource; force also deletes its nodes",
        QueueDelete,
        parse_queue_delete,
        OPERATOR,
        "delete queued resources",
        Verb.QUEUE_DELETE,
        names=Names.QUEUED,
        listed=190,
    ),
    Subcommand(
        "queue reset",
        "/tpu queue reset NAME",
        "queue a FAILED or SUSPENDED request again",
        QueueReset,
        lambda args: QueueReset(queued_name(args)),
        OPERATOR,
        "reset queued resources",
        Verb.QUEUE_RESET,
        names=Names.QUEUED,
        listed=200,
    ),
    Subcommand(
        "requeue",
        "/tpu requeue NAME",
        "delete a FAILED/SUSPENDED queued resource or a preempted spot VM and queue the same "
        "request again (what the Delete & requeue button runs)",
        Requeue,
        parse_requeue,
        OPERATOR,
        "delete and requeue",
        Verb.REQUEUE,
        # The same care as a delete and a new request, unless named itself.
        careful_as=(Verb.REQUEUE, Verb.DELETE, Verb.QUEUE_DELETE, Verb.QUEUE_CREATE),
        names=Names.QUEUED,
        listed=210,
    ),
)

"""Pure: the commands about TPUs (nodes): each one's data, its grammar and its declaration."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.commands import grammar as g
from bot.core.commands.grammar import Args, UsageError
from bot.core.commands.spec import Names, Subcommand, Verb
from bot.core.models import Health, NodeState
from bot.core.names import NODE_ID
from bot.core.noderef import NodeRef
from bot.core.roles import Role
from bot.core.text import Code, Text, codes, say

# ----- the commands as data --------------------------------------------------------------------


@dataclass(frozen=True)
class ListNodes:
    project: str | None = None
    zone: str | None = None
    state: NodeState | None = None
    health: Health | None = None
    labels: tuple[tuple[str, str], ...] = ()
    page: int = 0

    def to_text(self) -> str:
        """Back to `/tpu list` arguments: what a Next button carries."""
        parts = ["list"]
        for key, value in (("project", self.project), ("zone", self.zone)):
            if value:
                parts.append(f"{key}={value}")
        if self.state:
            parts.append(f"state={self.state.value}")
        if self.health:
            parts.append(f"health={self.health.value}")
        parts += [f"label.{k}={v}" for k, v in self.labels]
        return " ".join(parts)


@dataclass(frozen=True)
class GetNode:
    node: NodeRef


@dataclass(frozen=True)
class Stop:
    node: NodeRef
    reason: str = ""


@dataclass(frozen=True)
class Start:
    node: NodeRef


@dataclass(frozen=True)
class Reimage:
    node: NodeRef
    version: str | None = None  # None: offer the zone's versions to pick from


@dataclass(frozen=True)
class Delete:
    node: NodeRef
    reason: str = ""


@dataclass(frozen=True)
class Create:
    node_id: str
    zone: str
    accelerator_type: str
    version: str
    project: str | None = None
    preemptible: bool = False
    cidr: str = ""
    network: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Ops:
    node: NodeRef | None = None


@dataclass(frozen=True)
class Recreate:
    node: NodeRef
    runtime: str | None = None  # a TPU VM created again on this runtime version


@dataclass(frozen=True)
class Label:
    node: NodeRef
    labels: tuple[tuple[str, str], ...]


# ----- their grammar ---------------------------------------------------------------------------


def parse_list(args: Args) -> ListNodes:
    g.no_options(args, ("project", "zone", "state", "health", "label", "page"))
    if args.positional:
        raise UsageError(
            "list",
            say("Unexpected ", Code(args.positional[0]), "."),
            "Filters are key=value, like zone=us-central1-b.",
        )
    opts = args.options
    return ListNodes(
        project=g.project(args, opts.get("project")),
        zone=g.zone(args, opts["zone"]) if "zone" in opts else None,
        state=g.choice(args, "state", opts["state"], NodeState) if "state" in opts else None,
        health=g.choice(args, "health", opts["health"], Health) if "health" in opts else None,
        labels=g.labels(args),
        page=g.page(args),
    )


def parse_get(args: Args) -> GetNode:
    g.no_options(args)
    return GetNode(g.one_node(args)[0])


def parse_stop(args: Args) -> Stop:
    g.no_options(args)
    node, rest = g.one_node(args, extra_ok=True)
    return Stop(node, g.reason(args, rest))


def parse_start(args: Args) -> Start:
    g.no_options(args)
    return Start(g.one_node(args)[0])


def parse_delete(args: Args) -> Delete:
    g.no_options(args)
    node, rest = g.one_node(args, extra_ok=True)
    return Delete(node, g.reason(args, rest))


def parse_reimage(args: Args) -> Reimage:
    g.no_options(args)
    node, rest = g.one_node(args, extra_ok=True)
    if not rest:
        return Reimage(node)  # the answer offers the zone's versions to pick from
    if len(rest) != 1:
        raise UsageError(
            "reimage", "Give exactly one VERSION.", say(Code("/tpu versions ZONE"), " lists them.")
        )
    if not g.VERSION.match(rest[0]):
        raise UsageError("reimage", say(Code(rest[0]), " is not a version."))
    return Reimage(node, rest[0])


_CREATE_OPTIONS = (
    "zone",
    "type",
    "version",
    "project",
    "cidr",
    "network",
    "label",
    "description",
    "preemptible",
)
LISTS_OFFERED = say(
    Code("/tpu types ZONE"), " and ", Code("/tpu versions ZONE"), " list what a zone offers."
)


def _create_target(args: Args) -> tuple[NodeRef, str, list[str]]:
    """The NAME, the zone (from the name or zone=) and the flags after the name."""
    g.no_options(args, _CREATE_OPTIONS)
    flags = list(args.positional[1:])
    bad = next((f for f in flags if f != "preemptible"), None)
    if bad is not None:
        raise UsageError("create", say("Unexpected ", Code(bad), "."), "Options are key=value.")
    if not args.positional:
        raise UsageError("create", "Which NAME?")
    ref = g.node(args, args.positional[0])
    zone = args.options.get("zone") or ref.zone
    if ref.zone and args.options.get("zone") and ref.zone != args.options["zone"]:
        raise UsageError("create", f"The name says {ref.zone} but zone={args.options['zone']}.")
    if not NODE_ID.match(ref.node_id):
        raise UsageError("create", say(Code(ref.node_id), " is not a valid node name."))
    wanted = (("zone", zone), ("type", args.options.get("type")))
    missing = [k for k, v in (*wanted, ("version", args.options.get("version"))) if not v]
    if missing:
        raise UsageError("create", missing_options(missing), LISTS_OFFERED)
    return ref, g.zone(args, str(zone)), flags


def missing_options(keys: list[str]) -> Text:
    return say("Missing ", codes(f"{key}=" for key in keys), ".")


def parse_create(args: Args) -> Create:
    ref, zone, flags = _create_target(args)
    opts = args.options
    if not g.TYPE.match(opts["type"]):
        raise UsageError(
            "create",
            say(Code(f"type={opts['type']}"), " is not an accelerator type."),
            "Like v2-8 or v3-32.",
        )
    if not g.VERSION.match(opts["version"]):
        raise UsageError("create", say(Code(f"version={opts['version']}"), " is not a version."))
    cidr = opts.get("cidr", "")
    if cidr and not g.CIDR.match(cidr):
        raise UsageError(
            "create", say(Code(f"cidr={cidr}"), " is not a CIDR block."), "Like 10.2.0.0/29."
        )
    description = opts.get("description", "")
    if len(description) > 512:
        raise UsageError("create", "The description is longer than 512 characters.")
    preemptible = "preemptible" in flags or opts.get("preemptible", "").lower() in ("true", "yes")
    return Create(
        node_id=ref.node_id,
        zone=zone,
        accelerator_type=opts["type"],
        version=opts["version"],
        project=opts.get("project") or ref.project,
        preemptible=preemptible,
        cidr=cidr,
        network=opts.get("network", ""),
        labels=g.labels(args),
        description=description,
    )


def parse_ops(args: Args) -> Ops:
    g.no_options(args)
    if not args.positional:
        return Ops()
    return Ops(g.one_node(args)[0])


def parse_recreate(args: Args) -> Recreate:
    g.no_options(args, ("runtime",))
    runtime = args.options.get("runtime")
    if runtime is not None and not g.VERSION.match(runtime):
        raise UsageError("recreate", say(Code(f"runtime={runtime}"), " is not a runtime version."))
    return Recreate(g.one_node(args)[0], runtime)


LIKE_TEAM = "Like team=vision."


def parse_label(args: Args) -> Label:
    """`label NODE k=v ...` (also `label.k=v`): keys and values as the API allows them."""
    if not args.positional:
        raise UsageError("label", say("Which node? ", Code("label"), " needs a NODE."), g.NODE_HELP)
    node = g.node(args, args.positional[0])
    pairs = [*args.options.items(), *args.labels]
    for token in args.positional[1:]:
        key, eq, value = token.partition("=")
        if not eq:
            raise UsageError("label", say(Code(token), " is not key=value."), LIKE_TEAM)
        pairs.append((key, value))
    if not pairs:
        raise UsageError("label", "Which labels? Give key=value pairs.", LIKE_TEAM)
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise UsageError("label", "A key is given twice.")
    if len(pairs) > 64:
        raise UsageError("label", "A node takes at most 64 labels.")
    args.labels = pairs
    return Label(node, g.labels(args))


# ----- their declarations ----------------------------------------------------------------------

OPERATOR = Role.OPERATOR
DECLARED = (
    Subcommand(
        "list",
        "/tpu list [project=P] [zone=Z] [state=S] [health=H] [label.K=V ...]",
        "nodes across the managed projects and zones, with filters",
        ListNodes,
        parse_list,
        listed=30,
    ),
    Subcommand(
        "get",
        "/tpu get NODE",
        "one node's card",
        GetNode,
        parse_get,
        names=Names.NODE,
        listed=40,
    ),
    Subcommand(
        "stop",
        "/tpu stop NODE [reason]",
        "stop a single-host node (approval may be needed)",
        Stop,
        parse_stop,
        OPERATOR,
        "stop nodes",
        Verb.STOP,
        names=Names.NODE,
        listed=50,
    ),
    Subcommand(
        "start",
        "/tpu start NODE",
        "start a STOPPED node",
        Start,
        parse_start,
        OPERATOR,
        "start nodes",
        Verb.START,
        names=Names.NODE,
        listed=60,
    ),
    Subcommand(
        "reimage",
        "/tpu reimage NODE VERSION",
        "reimage a node to a TensorFlow version (approval may be needed)",
        Reimage,
        parse_reimage,
        OPERATOR,
        "reimage nodes",
        Verb.REIMAGE,
        names=Names.NODE,
        listed=70,
    ),
    Subcommand(
        "delete",
        "/tpu delete NODE [reason]",
        "delete a node (approval may be needed)",
        Delete,
        parse_delete,
        OPERATOR,
        "delete nodes",
        Verb.DELETE,
        names=Names.NODE,
        listed=80,
    ),
    Subcommand(
        "create",
        "/tpu create NAME zone=Z type=T version=V [project=P] [preemptible] [cidr=C] "
        "[network=N] [label.K=V ...] [description=...]",
        "create a node (approval may be needed)",
        Create,
        parse_create,
        OPERATOR,
        "create nodes",
        Verb.CREATE,
        listed=90,
    ),
    Subcommand(
        "ops",
        "/tpu ops [NODE]",
        "recent long-running operations, of one node or all",
        Ops,
        parse_ops,
        names=Names.NODE,
        listed=100,
    ),
    Subcommand(
        "recreate",
        "/tpu recreate NODE [runtime=R]",
        "delete a PREEMPTED or TERMINATED node and create it again; with runtime=R any TPU VM, "
        "on that runtime version (may need approval)",
        Recreate,
        parse_recreate,
        OPERATOR,
        "recreate nodes",
        Verb.RECREATE,
        # A delete and a create: as careful as the more careful of the two.
        careful_as=(Verb.DELETE, Verb.CREATE),
        names=Names.NODE,
        listed=140,
    ),
    Subcommand(
        "label",
        "/tpu label NODE key=value ...",
        "set labels on a TPU VM (v2); key=value, value empty removes the key",
        Label,
        parse_label,
        OPERATOR,
        "label nodes",
        Verb.LABEL,
        names=Names.NODE,
        listed=150,
    ),
)

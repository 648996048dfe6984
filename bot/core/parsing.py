"""Pure: `/tpu` text -> a Command, or a UsageError with the subcommand's usage and a hint."""

from __future__ import annotations

import re

from bot.core.commands import (
    MAX_AUDIT,
    USAGE,
    Acknowledge,
    Audit,
    Command,
    Create,
    Decide,
    Delete,
    GetNode,
    Help,
    ListNodes,
    Mute,
    Ops,
    Recreate,
    Reimage,
    Start,
    Stop,
    Types,
    UsageError,
    Versions,
)
from bot.core.models import Health, NodeState
from bot.core.names import NODE_ID
from bot.core.noderef import NodeRef
from bot.core.parsing_kit import (
    _CIDR,
    _PROJECT,
    _TYPE,
    _VERSION,
    _Args,
    _did_you_mean,
    _enum,
    _labels,
    _no_options,
    _node,
    _one_node,
    _reason,
    _split,
    _tokens,
    _zone,
)
from bot.core.parsing_v2 import parse_label, parse_queue, parse_requeue


def parse(text: str) -> Command:
    """Parse what followed `/tpu`. Raises UsageError, never anything else."""
    tokens = _tokens(text)
    if not tokens:
        return Help()
    sub, rest = tokens[0].lower(), tokens[1:]
    if sub in ("help", "-h", "--help", "?"):
        topic = " ".join(rest[:2]).lower() if rest else None
        if topic is not None and topic not in USAGE and topic != "queue":
            raise UsageError("help", f"There is no `{topic}` command.", _did_you_mean(topic))
        return Help(topic)
    if sub == "queue":
        return parse_queue(rest)
    if sub not in USAGE:
        raise UsageError(None, f"`{tokens[0]}` is not a /tpu command.", _did_you_mean(sub))
    args = _split(sub, rest)
    parser = _PARSERS[sub]
    return parser(args)


def _parse_list(args: _Args) -> ListNodes:
    _no_options(args, ("project", "zone", "state", "health", "label", "page"))
    if args.positional:
        raise UsageError(
            "list",
            f"Unexpected `{args.positional[0]}`.",
            "Filters are key=value, like zone=us-central1-b.",
        )
    opts = args.options
    project = opts.get("project")
    if project is not None and not _PROJECT.match(project):
        raise UsageError("list", f"`{project}` is not a project id.")
    page = opts.get("page", "0")
    if not page.isdigit() or int(page) > 10_000:
        raise UsageError("list", f"`page={page}` is not a page number.")
    return ListNodes(
        project=project,
        zone=_zone(args, opts["zone"]) if "zone" in opts else None,
        state=_enum(args, "state", opts["state"], NodeState) if "state" in opts else None,  # type: ignore[arg-type]
        health=_enum(args, "health", opts["health"], Health) if "health" in opts else None,  # type: ignore[arg-type]
        labels=_labels(args),
        page=int(page),
    )


def _parse_get(args: _Args) -> GetNode:
    _no_options(args)
    return GetNode(_one_node(args)[0])


def _parse_stop(args: _Args) -> Stop:
    _no_options(args)
    node, rest = _one_node(args, extra_ok=True)
    return Stop(node, _reason(args, rest))


def _parse_start(args: _Args) -> Start:
    _no_options(args)
    return Start(_one_node(args)[0])


def _parse_delete(args: _Args) -> Delete:
    _no_options(args)
    node, rest = _one_node(args, extra_ok=True)
    return Delete(node, _reason(args, rest))


def _parse_reimage(args: _Args) -> Reimage:
    _no_options(args)
    node, rest = _one_node(args, extra_ok=True)
    if not rest:
        return Reimage(node)  # the answer offers the zone's versions to pick from
    if len(rest) != 1:
        raise UsageError("reimage", "Give exactly one VERSION.", "`/tpu versions ZONE` lists them.")
    if not _VERSION.match(rest[0]):
        raise UsageError("reimage", f"`{rest[0]}` is not a version.")
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


def _create_target(args: _Args) -> tuple[NodeRef, str, list[str]]:
    """The NAME, the zone (from the name or zone=) and the flags after the name."""
    _no_options(args, _CREATE_OPTIONS)
    flags = list(args.positional[1:])
    bad = next((f for f in flags if f != "preemptible"), None)
    if bad is not None:
        raise UsageError("create", f"Unexpected `{bad}`.", "Options are key=value.")
    if not args.positional:
        raise UsageError("create", "Which NAME?")
    ref = _node(args, args.positional[0])
    zone = args.options.get("zone") or ref.zone
    if ref.zone and args.options.get("zone") and ref.zone != args.options["zone"]:
        raise UsageError("create", f"The name says {ref.zone} but zone={args.options['zone']}.")
    if not NODE_ID.match(ref.node_id):
        raise UsageError("create", f"`{ref.node_id}` is not a valid node name.")
    missing = [
        k
        for k, v in (
            ("zone", zone),
            ("type", args.options.get("type")),
            ("version", args.options.get("version")),
        )
        if not v
    ]
    if missing:
        raise UsageError(
            "create",
            f"Missing {', '.join(f'`{m}=`' for m in missing)}.",
            "`/tpu types ZONE` and `/tpu versions ZONE` list what a zone offers.",
        )
    return ref, _zone(args, str(zone)), flags


def _parse_create(args: _Args) -> Create:
    ref, zone, flags = _create_target(args)
    opts = args.options
    if not _TYPE.match(opts["type"]):
        raise UsageError(
            "create", f"`type={opts['type']}` is not an accelerator type.", "Like v2-8 or v3-32."
        )
    if not _VERSION.match(opts["version"]):
        raise UsageError("create", f"`version={opts['version']}` is not a version.")
    cidr = opts.get("cidr", "")
    if cidr and not _CIDR.match(cidr):
        raise UsageError("create", f"`cidr={cidr}` is not a CIDR block.", "Like 10.2.0.0/29.")
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
        labels=_labels(args),
        description=description,
    )


def _parse_ops(args: _Args) -> Ops:
    _no_options(args)
    if not args.positional:
        return Ops()
    return Ops(_one_node(args)[0])


def _parse_zone_only(cls: type[Types] | type[Versions]):
    def parse_zone(args: _Args) -> Types | Versions:
        _no_options(args)
        if len(args.positional) != 1:
            raise UsageError(args.sub, "Give one ZONE.", "Like us-central1-b.")
        return cls(_zone(args, args.positional[0]))

    return parse_zone


def _parse_audit(args: _Args) -> Audit:
    _no_options(args)
    if not args.positional:
        return Audit()
    value = args.positional[0]
    if len(args.positional) > 1 or not value.isdigit() or not 1 <= int(value) <= MAX_AUDIT:
        raise UsageError(
            "audit",
            f"`{' '.join(args.positional)}` is not a count.",
            f"A number from 1 to {MAX_AUDIT}.",
        )
    return Audit(int(value))


_ID = re.compile(r"^[0-9a-f]{8,64}$")


def _one_id(args: _Args, what: str) -> str:
    _no_options(args)
    if len(args.positional) != 1 or not _ID.match(args.positional[0]):
        raise UsageError(args.sub, f"Give the {what} id.", "The bot's buttons carry it for you.")
    return args.positional[0]


def _parse_recreate(args: _Args) -> Recreate:
    _no_options(args, ("runtime",))
    runtime = args.options.get("runtime")
    if runtime is not None and not _VERSION.match(runtime):
        raise UsageError("recreate", f"`runtime={runtime}` is not a runtime version.")
    return Recreate(_one_node(args)[0], runtime)


_PARSERS = {
    "list": _parse_list,
    "get": _parse_get,
    "stop": _parse_stop,
    "start": _parse_start,
    "reimage": _parse_reimage,
    "delete": _parse_delete,
    "create": _parse_create,
    "ops": _parse_ops,
    "types": _parse_zone_only(Types),
    "versions": _parse_zone_only(Versions),
    "audit": _parse_audit,
    "recreate": _parse_recreate,
    "label": parse_label,
    "requeue": parse_requeue,
    "approve": lambda args: Decide(_one_id(args, "request"), approve=True),
    "deny": lambda args: Decide(_one_id(args, "request"), approve=False),
    "ack": lambda args: Acknowledge(_one_id(args, "alert")),
    "mute": lambda args: Mute(_one_id(args, "alert")),
}

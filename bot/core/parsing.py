"""Pure: `/tpu` text -> a Command, or a UsageError with the subcommand's usage and a hint."""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.core.commands import (
    MAX_AUDIT,
    MAX_REASON,
    NODE_HELP,
    QUEUE_HELP,
    USAGE,
    Acknowledge,
    Audit,
    Command,
    Create,
    Decide,
    Delete,
    GetNode,
    Help,
    Label,
    ListNodes,
    Mute,
    Ops,
    QueueCreate,
    QueueDelete,
    QueueGet,
    QueueList,
    QueueReset,
    Recreate,
    Reimage,
    Requeue,
    Start,
    Stop,
    Types,
    UsageError,
    Versions,
)
from bot.core.models import Health, NodeState
from bot.core.names import NODE_ID
from bot.core.noderef import InvalidNodeRef, NodeRef, parse_ref
from bot.core.queued import QueuedState

_ZONE = re.compile(r"^[a-z]+-[a-z]+\d+-[a-z]$")
_LABEL_KEY = re.compile(r"^[a-z][-_a-z0-9]{0,62}$")
_LABEL_VALUE = re.compile(r"^[-_a-z0-9]{0,63}$")
_VERSION = re.compile(r"^[-_.a-zA-Z0-9]{1,64}$")
_TYPE = re.compile(r"^v\d+[a-z]*-\d+$")
_CIDR = re.compile(r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")
_PROJECT = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")


@dataclass
class _Args:
    sub: str
    positional: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    labels: list[tuple[str, str]] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)


def _tokens(text: str) -> list[str]:
    # Slack turns straight quotes into curly ones on some clients.
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'")
    text = text.replace("\u2019", "'")
    try:
        return shlex.split(text)
    except ValueError:
        raise UsageError(
            None, "A quote is not closed.", 'Close it: description="two words"'
        ) from None


def _split(sub: str, tokens: Sequence[str]) -> _Args:
    args = _Args(sub)
    for token in tokens:
        key, eq, value = token.partition("=")
        if eq and key.startswith("label."):
            args.labels.append((key[len("label.") :], value))
        elif eq and re.match(r"^[a-z][-a-z]*$", key):
            if key in args.options:
                raise UsageError(sub, f"`{key}=` is given twice.")
            args.options[key] = value
        else:
            args.positional.append(token)
    return args


def _no_options(args: _Args, allowed: Sequence[str] = ()) -> None:
    extra = sorted(set(args.options) - set(allowed))
    if extra or (args.labels and "label" not in allowed):
        what = f"`{extra[0]}=`" if extra else "`label.K=V`"
        raise UsageError(args.sub, f"{what} is not an option of `{args.sub}`.")


def _node(args: _Args, text: str) -> NodeRef:
    try:
        return parse_ref(text)
    except InvalidNodeRef as exc:
        raise UsageError(args.sub, exc.message, NODE_HELP) from None


def _one_node(args: _Args, extra_ok: bool = False) -> tuple[NodeRef, list[str]]:
    if not args.positional:
        raise UsageError(args.sub, f"Which node? `{args.sub}` needs a NODE.", NODE_HELP)
    node = _node(args, args.positional[0])
    rest = args.positional[1:]
    if rest and not extra_ok:
        raise UsageError(args.sub, f"Unexpected `{' '.join(rest)}`.")
    return node, rest


def _labels(args: _Args) -> tuple[tuple[str, str], ...]:
    for key, value in args.labels:
        if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            raise UsageError(
                args.sub,
                f"`label.{key}={value}` is not a valid label.",
                "Keys and values: lowercase letters, digits, - and _; keys start with a letter.",
            )
    return tuple(args.labels)


def _zone(args: _Args, value: str) -> str:
    if not _ZONE.match(value):
        raise UsageError(args.sub, f"`{value}` is not a zone.", "A zone looks like us-central1-b.")
    return value


def _reason(args: _Args, words: list[str]) -> str:
    reason = " ".join(words).strip()
    if len(reason) > MAX_REASON:
        raise UsageError(args.sub, f"The reason is longer than {MAX_REASON} characters.")
    return reason


def _enum(
    args: _Args, key: str, value: str, enum: type[NodeState] | type[Health] | type[QueuedState]
) -> object:
    wanted = value.upper()
    names = [m.value for m in enum][1:]
    if wanted not in names:
        raise UsageError(args.sub, f"`{key}={value}` is not known.", f"One of: {', '.join(names)}.")
    return enum(wanted)


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
        return _parse_queue(rest)
    if sub not in USAGE:
        raise UsageError(None, f"`{tokens[0]}` is not a /tpu command.", _did_you_mean(sub))
    args = _split(sub, rest)
    parser = _PARSERS[sub]
    return parser(args)


def _did_you_mean(word: str) -> str:
    close = difflib.get_close_matches(word, [*USAGE, "queue"], n=1)
    return f"Did you mean `/tpu {close[0]}`?" if close else "Try `/tpu help`."


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


def _parse_label(args: _Args) -> Label:
    """`label NODE k=v ...` (also `label.k=v`): keys and values as the API allows them."""
    if not args.positional:
        raise UsageError("label", "Which node? `label` needs a NODE.", NODE_HELP)
    node = _node(args, args.positional[0])
    pairs = [*args.options.items(), *args.labels]
    for token in args.positional[1:]:
        key, eq, value = token.partition("=")
        if not eq:
            raise UsageError("label", f"`{token}` is not key=value.", "Like team=vision.")
        pairs.append((key, value))
    if not pairs:
        raise UsageError("label", "Which labels? Give key=value pairs.", "Like team=vision.")
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise UsageError("label", "A key is given twice.")
    if len(pairs) > 64:
        raise UsageError("label", "A node takes at most 64 labels.")
    args.labels = pairs
    return Label(node, _labels(args))


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
    "approve": lambda args: Decide(_one_id(args, "request"), approve=True),
    "deny": lambda args: Decide(_one_id(args, "request"), approve=False),
    "ack": lambda args: Acknowledge(_one_id(args, "alert")),
    "mute": lambda args: Mute(_one_id(args, "alert")),
}

_PARSERS["recreate"] = _parse_recreate
_PARSERS["label"] = _parse_label
_PARSERS["requeue"] = lambda args: Requeue(
    _queued_name(args), bool(args.positional and "/nodes/" in args.positional[0])
)

# ----- /tpu queue ... ---------------------------------------------------------------------------

_QUEUED_FULL = re.compile(r"^projects/([^/]+)/locations/([^/]+)/queuedResources/([^/]+)$")
_DURATION = re.compile(r"^(\d{1,4})([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_VALID_FOR = 30 * 86400
MAX_SLICES = 64


def _queued_name(args: _Args) -> NodeRef:
    """NAME like a node reference (`id`, `zone/id`, `project/zone/id`) or a full name."""
    if len(args.positional) != 1 or args.options or args.labels:
        what = "Give one NAME." if not args.positional else "Unexpected arguments."
        raise UsageError(args.sub, what, QUEUE_HELP)
    text = args.positional[0]
    full = _QUEUED_FULL.match(text)
    if full:
        text = "/".join(full.groups())
    try:
        return parse_ref(text)
    except InvalidNodeRef as exc:
        problem = exc.message.replace("node", "queued resource")
        raise UsageError(args.sub, problem, QUEUE_HELP) from None


def _parse_queue(rest: list[str]) -> Command:
    if not rest:
        raise UsageError("queue list", "Which queue command?", "list, get, create, delete, reset.")
    key = f"queue {rest[0].lower()}"
    if key not in _QUEUE_PARSERS:
        raise UsageError(None, f"`queue {rest[0]}` is not a /tpu command.", _did_you_mean(key))
    return _QUEUE_PARSERS[key](_split(key, rest[1:]))


def _parse_queue_list(args: _Args) -> QueueList:
    _no_options(args, ("project", "zone", "state", "page"))
    if args.positional:
        raise UsageError(args.sub, f"Unexpected `{args.positional[0]}`.", "Filters are key=value.")
    opts = args.options
    project = opts.get("project")
    if project is not None and not _PROJECT.match(project):
        raise UsageError(args.sub, f"`{project}` is not a project id.")
    page = opts.get("page", "0")
    if not page.isdigit() or int(page) > 10_000:
        raise UsageError(args.sub, f"`page={page}` is not a page number.")
    state = opts.get("state")
    return QueueList(
        project=project,
        zone=_zone(args, opts["zone"]) if "zone" in opts else None,
        state=_enum(args, "state", state, QueuedState) if state else None,  # type: ignore[arg-type]
        page=int(page),
    )


def _parse_queue_delete(args: _Args) -> QueueDelete:
    force = "force" in args.positional[1:]
    extra = [p for p in args.positional[1:] if p != "force"]
    if extra:
        raise UsageError(args.sub, f"Unexpected `{extra[0]}`.", "Only `force` may follow NAME.")
    args.positional = args.positional[:1]
    return QueueDelete(_queued_name(args), force)


def _duration(args: _Args, text: str) -> int:
    match = _DURATION.match(text)
    seconds = int(match.group(1)) * _SECONDS[match.group(2)] if match else 0
    if not 60 <= seconds <= MAX_VALID_FOR:
        raise UsageError(
            args.sub, f"`valid-for={text}` is not a duration.", "Like 90m, 6h or 2d (up to 30d)."
        )
    return seconds


def _parse_queue_create(args: _Args) -> QueueCreate:
    _no_options(args, ("zone", "type", "runtime", "project", "nodes", "valid-for", "spot"))
    flags = args.positional[1:]
    bad = next((f for f in flags if f != "spot"), None)
    if bad is not None or not args.positional:
        problem = f"Unexpected `{bad}`." if bad else "Which NAME?"
        raise UsageError(args.sub, problem, "Options are key=value; `spot` is a flag.")
    args_one = _Args(args.sub, args.positional[:1])
    ref = _queued_name(args_one)
    opts = args.options
    zone = opts.get("zone") or ref.zone
    if ref.zone and opts.get("zone") and ref.zone != opts["zone"]:
        raise UsageError(args.sub, f"The name says {ref.zone} but zone={opts['zone']}.")
    missing = [k for k in ("type", "runtime") if not opts.get(k)]
    if not zone:
        missing.insert(0, "zone")
    if missing:
        raise UsageError(
            args.sub,
            f"Missing {', '.join(f'`{m}=`' for m in missing)}.",
            "`/tpu types ZONE` and `/tpu versions ZONE` list what a zone offers.",
        )
    if not _TYPE.match(opts["type"]):
        raise UsageError(args.sub, f"`type={opts['type']}` is not an accelerator type.")
    if not _VERSION.match(opts["runtime"]):
        raise UsageError(args.sub, f"`runtime={opts['runtime']}` is not a runtime version.")
    nodes = opts.get("nodes", "0")
    if not nodes.isdigit() or not (nodes == "0" or 2 <= int(nodes) <= MAX_SLICES):
        raise UsageError(args.sub, f"`nodes={nodes}` is not a slice count.", "2 to 64 slices.")
    valid_for = opts.get("valid-for")
    return QueueCreate(
        queued_id=ref.node_id,
        zone=_zone(args, str(zone)),
        accelerator_type=opts["type"],
        runtime=opts["runtime"],
        project=opts.get("project") or ref.project,
        spot="spot" in flags or opts.get("spot", "").lower() in ("true", "yes"),
        nodes=int(nodes),
        valid_for_seconds=_duration(args, valid_for) if valid_for else None,
    )


_QUEUE_PARSERS: dict[str, Callable[[_Args], Command]] = {
    "queue list": _parse_queue_list,
    "queue get": lambda args: QueueGet(_queued_name(args)),
    "queue create": _parse_queue_create,
    "queue delete": _parse_queue_delete,
    "queue reset": lambda args: QueueReset(_queued_name(args)),
}

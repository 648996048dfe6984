"""Pure: the v2 commands' parsers: `/tpu queue list|get|create|delete|reset`, `label`,
`requeue`."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.core.commands import (
    NODE_HELP,
    QUEUE_HELP,
    Command,
    Label,
    QueueCreate,
    QueueDelete,
    QueueGet,
    QueueList,
    QueueReset,
    Requeue,
    UsageError,
)
from bot.core.noderef import InvalidNodeRef, NodeRef, parse_ref
from bot.core.parsing_kit import (
    _PROJECT,
    _TYPE,
    _VERSION,
    _Args,
    _did_you_mean,
    _enum,
    _labels,
    _no_options,
    _node,
    _split,
    _zone,
)
from bot.core.queued import QueuedState


def parse_label(args: _Args) -> Label:
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


def parse_requeue(args: _Args) -> Requeue:
    """A queued resource's name, or a VM's full node name (the VM, not a request)."""
    return Requeue(_queued_name(args), bool(args.positional and "/nodes/" in args.positional[0]))


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


def parse_queue(rest: list[str]) -> Command:
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

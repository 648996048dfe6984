"""Pure: neutral messages -> Slack messages (`text` fallback + Block Kit), within Slack's limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import singledispatch
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.core import commands
from bot.core import messages as m
from bot.core.models import (
    UNHEALTHY,
    UNRECOVERABLE,
    ApprovalStatus,
    IncidentStatus,
    Node,
    NodeName,
    NodeState,
    Operation,
    TrackedOperation,
)
from bot.core.names import short_name
from bot.slack.actions import COMMAND_BLOCK, ActionId

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_OPTION = 75
MAX_OPTION_VALUE = 150


Rendered = dict[str, Any]


def esc(text: str) -> str:
    """Escape what Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user(user_id: str) -> str:
    return f"<@{user_id}>" if user_id else "someone"


def channel(channel_id: str) -> str:
    return f"<#{channel_id}>"


def when(at: datetime | None) -> str:
    if at is None:
        return "-"
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{at:%Y-%m-%d %H:%M} UTC>"


def status_icon(node: Node) -> str:
    if node.state in UNRECOVERABLE:
        return ":black_circle:"
    if node.health in UNHEALTHY:
        return ":red_circle:"
    if node.state is NodeState.READY:
        return ":large_green_circle:"
    if node.state is NodeState.STOPPED:
        return ":white_circle:"
    return ":large_yellow_circle:"


def status_text(node: Node) -> str:
    health = "" if node.health.value == "HEALTH_UNSPECIFIED" else f" · {node.health.value}"
    return f"{status_icon(node)} *{node.state.value}*{health}"


def _md(text: str, limit: int = MAX_SECTION) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, limit))


def _plain(text: str, limit: int) -> PlainTextObject:
    return PlainTextObject(text=clip(text, limit), emoji=True)


def _button(
    text: str, action_id: str, value: str, style: str | None = None, confirm: Any = None
) -> ButtonElement:
    return ButtonElement(
        text=_plain(text, MAX_BUTTON),
        action_id=action_id,
        value=value,
        style=style,
        confirm=confirm,
    )


def _message(text: str, blocks: Sequence[Block]) -> Rendered:
    dicts = [b.to_dict() for b in blocks]
    assert len(dicts) <= MAX_BLOCKS, f"{len(dicts)} blocks"
    return {"text": clip(text, 3000), "blocks": dicts}


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_md(text))


def _sections(lines: Sequence[str], room: int = MAX_BLOCKS) -> list[Block]:
    """Lines packed into as few sections as 3,000 characters allow, at most `room` blocks."""
    blocks: list[Block] = []
    chunk: list[str] = []
    size = 0
    for line in lines:
        line = clip(line, MAX_SECTION - 10)
        if chunk and size + len(line) + 1 > MAX_SECTION - 10:
            blocks.append(_section("\n".join(chunk)))
            chunk, size = [], 0
            if len(blocks) >= room:
                return blocks
        chunk.append(line)
        size += len(line) + 1
    if chunk and len(blocks) < room:
        blocks.append(_section("\n".join(chunk)))
    return blocks


def _context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[_md(t, MAX_FIELD) for t in texts[:10]])


def _labels(node: Node) -> str:
    if not node.labels:
        return "-"
    return ", ".join(f"`{esc(k)}={esc(v)}`" for k, v in sorted(node.labels.items()))


def _symptoms(node: Node) -> str:
    return "; ".join(
        f"{s.symptom_type.value} on worker {esc(s.worker_id or '?')}" for s in node.symptoms
    )


def node_controls(node: Node) -> ActionsBlock | None:
    """The buttons a node card offers, by state. The server re-checks every click."""
    buttons: list[ButtonElement] = []
    ref = short_name(node.name)
    if node.state is NodeState.READY and not node.is_multi_host:
        buttons.append(_button("Stop", ActionId.STOP, f"stop {ref}"))
    if node.state is NodeState.STOPPED:
        buttons.append(_button("Start", ActionId.START, f"start {ref}", style="primary"))
    if node.state is NodeState.READY:
        buttons.append(_button("Reimage…", ActionId.REIMAGE, f"reimage {ref}"))
    if node.state in UNRECOVERABLE:
        buttons.append(_button("Recreate", ActionId.RECREATE, f"recreate {ref}", style="primary"))
    if node.state is not NodeState.DELETING:
        confirm = ConfirmObject(
            title="Delete this node?",
            text=_md(f"*{esc(node.node_id)}* in {esc(node.zone)} will be deleted."),
            confirm="Request delete",
            deny="Cancel",
            style="danger",
        )
        buttons.append(
            _button("Delete", ActionId.DELETE, f"delete {ref}", style="danger", confirm=confirm)
        )
    if not buttons:
        return None
    return ActionsBlock(block_id=f"node:{clip(node.name, 200)}", elements=buttons)


def node_section(node: Node) -> SectionBlock:
    lines = [
        f"*{esc(node.node_id)}*  ·  {esc(node.project)} / {esc(node.zone)}",
        status_text(node),
    ]
    if node.health_description:
        lines.append(f"_{esc(node.health_description)}_")
    if node.symptoms:
        lines.append(f":warning: {_symptoms(node)}")
    fields = [
        _md(f"*Type*\n{esc(node.accelerator_type)}"),
        _md(f"*TensorFlow*\n{esc(node.tensorflow_version)}"),
        _md(f"*Preemptible*\n{'yes' if node.preemptible else 'no'}"),
        _md(f"*Labels*\n{_labels(node)}", MAX_FIELD),
    ]
    return SectionBlock(text=_md("\n".join(lines)), fields=fields)


@singledispatch
def render(message: object) -> Rendered:
    """Neutral message -> {"text": ..., "blocks": [...]}."""
    raise TypeError(f"no renderer for {type(message).__name__}")


_TONES = {"info": "", "success": ":white_check_mark: ", "warning": ":warning: ", "error": ":x: "}


@render.register
def _(message: m.Notice) -> Rendered:
    text = _TONES.get(message.tone, "") + message.text
    return _message(text, [_section(text)])


@render.register
def _(message: m.Usage) -> Rendered:
    text = f":grey_question: {message.problem}\nUsage: `{message.usage}`"
    if message.hint:
        text += f"\n{message.hint}"
    return _message(text, [_section(text), _context("`/tpu help` lists every command.")])


@render.register
def _(message: m.HelpText) -> Rendered:
    if message.topic:
        text = f"`{commands.USAGE[message.topic]}`\n{commands.SUMMARY[message.topic]}"
        if message.topic in ("get", "stop", "start", "reimage", "delete", "ops"):
            text += f"\n{commands.NODE_HELP}"
        return _message(text, [_section(text)])
    lines = [f"`{commands.USAGE[k]}`\n      {commands.SUMMARY[k]}" for k in commands.USAGE]
    blocks: list[Block] = [
        HeaderBlock(text=_plain("/tpu: Cloud TPU nodes from Slack", MAX_HEADER)),
        _section("\n".join(lines)),
        _context(commands.NODE_HELP, "Destructive actions may wait for an approver."),
    ]
    return _message("/tpu commands: " + ", ".join(commands.USAGE), blocks)


@render.register
def _(message: m.Refusal) -> Rendered:
    text = f":no_entry: {message.reason}"
    return _message(text, [_section(text)])


@render.register
def _(message: m.NodeCandidates) -> Rendered:
    text = f":mag: {esc(message.message)}"
    blocks: list[Block] = [_section(text)]
    if message.candidates:
        shown = message.candidates[:20]
        listing = "\n".join(f"• `{esc(c)}`" for c in shown)
        if len(message.candidates) > len(shown):
            listing += f"\n…and {len(message.candidates) - len(shown)} more"
        blocks.append(_section(listing))
        blocks.append(_context(f"Try `/tpu {message.command} {esc(shown[0])}`"))
    return _message(text, blocks)


@render.register
def _(message: m.NodePage) -> Rendered:
    first = message.page * message.page_size + 1
    last = min(message.total, first + len(message.nodes) - 1)
    blocks: list[Block] = [HeaderBlock(text=_plain("TPU nodes", MAX_HEADER))]
    counts = " · ".join(f"{esc(k)} {v}" for k, v in message.summary)
    scope = f"`/tpu {esc(message.query)}`"
    if message.total == 0:
        text = f"No nodes match {scope}."
        blocks.append(_section(text))
    else:
        text = f"Nodes {first}-{last} of {message.total} for {scope}"
        blocks.append(_context(text, counts or " "))
    if message.unreachable:
        zones = ", ".join(esc(z.rsplit("/", 1)[-1]) for z in message.unreachable)
        blocks.append(_context(f":warning: Partial listing: no answer from {zones}."))
    for node in message.nodes:
        blocks.append(node_section(node))
        controls = node_controls(node)
        if controls is not None:
            blocks.append(controls)
    nav: list[ButtonElement] = []
    if message.page > 0:
        nav.append(
            _button(
                "< Previous",
                ActionId.PAGE_PREVIOUS,
                f"{message.query} page={message.page - 1}",
            )
        )
    if last < message.total:
        nav.append(
            _button("Next >", ActionId.PAGE_NEXT, f"{message.query} page={message.page + 1}")
        )
    if nav:
        blocks.append(DividerBlock())
        blocks.append(ActionsBlock(block_id="list_nav", elements=nav))
        blocks.append(_context(f"Page {message.page + 1} of {message.pages}"))
    return _message(text, blocks)


def _op_line(op: TrackedOperation) -> str:
    if not op.done:
        outcome = "running"
    elif op.error_code is None:
        outcome = "done"
    else:
        outcome = f"failed ({op.error_code})"
    return f"• {esc(op.verb)} by {user(op.requester)}, {when(op.created_at)}: {outcome}"


@render.register
def _(message: m.NodeDetail) -> Rendered:
    node = message.node
    blocks: list[Block] = [HeaderBlock(text=_plain(node.node_id, MAX_HEADER)), node_section(node)]
    facts = [
        f"Name `{esc(node.name)}`",
        f"Created {when(node.create_time)}",
        f"CIDR `{esc(node.cidr_block or '-')}` on `{esc(node.network or 'default')}`",
    ]
    if node.ip_addresses:
        facts.append("Workers " + ", ".join(f"`{ip}`" for ip in node.ip_addresses[:8]))
    blocks.append(_context(*facts))
    if message.operations:
        lines = [_op_line(op) for op in message.operations[:10]]
        blocks.append(_section("*Recent operations by the bot*\n" + "\n".join(lines)))
    controls = node_controls(node)
    if controls is not None:
        blocks.append(controls)
    return _message(f"{node.node_id}: {node.state.value}", blocks)


_ACTION_VERBS = {
    "stop": "Stop",
    "start": "Start",
    "reimage": "Reimage",
    "delete": "Delete",
    "create": "Create",
    "recreate": "Recreate",
}


def _action_text(action: str, target: str, params: Any) -> str:
    verb = _ACTION_VERBS.get(action, action)
    text = f"*{verb}* `{esc(short_name(target))}`"
    if action == "reimage":
        text += f" to TensorFlow `{esc(str(params.get('version', '?')))}`"
    if action in ("create", "recreate") and params.get("spec"):
        spec = params["spec"]
        text += (
            f" ({esc(spec.get('acceleratorType', '?'))}, TF "
            f"{esc(spec.get('tensorflowVersion', '?'))}"
            f"{', preemptible' if (spec.get('schedulingConfig') or {}).get('preemptible') else ''})"
        )
    return text


@render.register
def _(message: m.ApprovalRequest) -> Rendered:
    a = message.approval
    action = _action_text(a.action, a.target, a.params)
    state = f"node was *{esc(a.node_state)}* when asked" if a.node_state else "new node"
    lines = [f"{user(a.requester)} asks to {action}", f"{state}"]
    if a.reason:
        lines.append(f"> {esc(a.reason)}")
    blocks: list[Block] = [
        HeaderBlock(text=_plain(f"Approval needed: {a.action}", MAX_HEADER)),
        _section("\n".join(lines)),
    ]
    if a.status is ApprovalStatus.PENDING:
        blocks.append(_context(f"Expires {when(a.expires_at)}. Approvers only; not the requester."))
        blocks.append(
            ActionsBlock(
                block_id=f"approval:{a.id}",
                elements=[
                    _button("Approve", ActionId.APPROVE, f"approve {a.id}", style="primary"),
                    _button("Deny", ActionId.DENY, f"deny {a.id}", style="danger"),
                ],
            )
        )
        fallback = f"Approval needed: {a.action} {short_name(a.target)}"
    else:
        outcome = {
            ApprovalStatus.APPROVED: f":hourglass: Approved by {user(a.decided_by)}; running…",
            ApprovalStatus.EXECUTED: f":white_check_mark: Approved by {user(a.decided_by)}; "
            "started.",
            ApprovalStatus.DENIED: f":no_entry_sign: Denied by {user(a.decided_by)}.",
            ApprovalStatus.EXPIRED: ":alarm_clock: Expired: nobody decided in time.",
            ApprovalStatus.REFUSED: f":warning: Approved by {user(a.decided_by)}, "
            "but not run: the node changed.",
            ApprovalStatus.FAILED: f":x: Approved by {user(a.decided_by)}, but the API refused.",
        }[a.status]
        if a.outcome:
            outcome += f" {esc(a.outcome)}"
        blocks.append(_section(outcome))
        fallback = f"{a.action} {short_name(a.target)}: {a.status.value}"
    return _message(fallback, blocks)


@render.register
def _(message: m.ApprovalQueued) -> Rendered:
    a = message.approval
    text = (
        f":hourglass_flowing_sand: {_action_text(a.action, a.target, a.params)} needs an "
        f"approver; asked in {channel(message.approvals_channel)}. You will hear back here."
    )
    return _message(text, [_section(text)])


@render.register
def _(message: m.OperationStarted) -> Rendered:
    verb = _ACTION_VERBS.get(message.verb, message.verb)
    by = f" (approved by {user(message.approved_by)})" if message.approved_by else ""
    text = (
        f":gear: {verb} of `{esc(short_name(message.target))}` started by "
        f"{user(message.requester)}{by}."
    )
    return _message(text, [_section(text), _context(f"Operation `{esc(message.operation)}`")])


@render.register
def _(message: m.OperationUpdate) -> Rendered:
    op = message.tracked
    verb = _ACTION_VERBS.get(op.verb, op.verb)
    target = f"`{esc(short_name(op.target))}`"
    if message.warning:
        text = f":hourglass: {verb} of {target} is still running: {esc(message.warning)}"
    elif not op.done:
        text = f":gear: {verb} of {target} is running."
    elif op.error_code is None and op.verb == "recreate":
        text = (
            f":white_check_mark: Recreate of {target}: the old node is deleted; creating it again."
        )
    elif op.error_code is None:
        state = ""
        if message.operation is not None and message.operation.node is not None:
            state = f": node is {message.operation.node.state.value}"
        text = f":white_check_mark: {verb} of {target} finished{state}."
    else:
        text = f":x: {verb} of {target} failed: {esc(op.error_message)} (code {op.error_code})."
    return _message(text, [_section(text)])


def _operation_line(op: Operation) -> str:
    if not op.done:
        status = ":gear: running"
    elif op.error is None:
        status = ":white_check_mark: done"
    else:
        status = f":x: {op.error.code_name}: {esc(clip(op.error.message, 120))}"
    return (
        f"• {esc(op.verb or '?')} `{esc(short_name(op.target))}` {when(op.create_time)}: {status}"
    )


@render.register
def _(message: m.OperationList) -> Rendered:
    scope = f" on `{esc(short_name(message.node))}`" if message.node else ""
    if not message.operations:
        text = f"No operations{scope}."
        return _message(text, [_section(text)])
    ops = sorted(message.operations, key=lambda o: o.name, reverse=True)[:40]
    lines = [_operation_line(op) for op in ops]
    blocks: list[Block] = [HeaderBlock(text=_plain("Operations", MAX_HEADER))]
    blocks += _sections(lines, MAX_BLOCKS - 1)
    return _message(f"{len(message.operations)} operations{scope}", blocks)


@render.register
def _(message: m.CatalogList) -> Rendered:
    values = ", ".join(f"`{esc(v)}`" for v in message.values) or "none"
    text = f"*{message.kind.capitalize()} in {esc(message.zone)}*\n{values}"
    return _message(text, [_section(text)])


@render.register
def _(message: m.AuditList) -> Rendered:
    if not message.entries:
        return _message("The audit log is empty.", [_section("The audit log is empty.")])
    lines = [
        f"• {when(e.at)} {user(e.user)} *{esc(e.action)}* `{esc(short_name(e.target))}`: "
        f"{esc(e.outcome)}" + (f" ({esc(clip(e.detail, 200))})" if e.detail else "")
        for e in message.entries
    ]
    blocks: list[Block] = [HeaderBlock(text=_plain("Audit log", MAX_HEADER))]
    blocks += _sections(lines, MAX_BLOCKS - 1)
    return _message(f"Latest {len(message.entries)} audit entries", blocks)


@render.register
def _(message: m.ReimagePicker) -> Rendered:
    node = message.node
    text = (
        f"Reimage *{esc(node.node_id)}* ({esc(node.zone)}, now TF "
        f"`{esc(node.tensorflow_version)}`) to:"
    )
    # The block id carries the command, each option its last argument (under 150 characters).
    options = [
        Option(text=_plain(v, MAX_OPTION), value=v)
        for v in message.versions
        if v != node.tensorflow_version and len(v) <= MAX_OPTION_VALUE
    ][:100]
    if not options:
        return _message(text, [_section(text + " no other version is offered in this zone.")])
    select = StaticSelectElement(
        placeholder=_plain("TensorFlow version", MAX_OPTION),
        action_id=ActionId.REIMAGE_VERSION,
        options=options,
    )
    block_id = f"{COMMAND_BLOCK}reimage {short_name(node.name)}"
    return _message(text, [SectionBlock(block_id=block_id, text=_md(text), accessory=select)])


# ----- the watcher's messages ------------------------------------------------------------------

MUTE_HOURS = 1
_KIND_ICONS = {
    "preempted": ":black_circle:",
    "terminated": ":black_circle:",
    "unhealthy": ":red_circle:",
    "repairing": ":wrench:",
    "unknown": ":grey_question:",
    "symptom": ":warning:",
    "recovered": ":white_check_mark:",
    "resolved": ":white_check_mark:",
    "disappeared": ":ghost:",
}


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)}s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


@render.register
def _(message: m.IncidentRoot) -> Rendered:
    incident = message.incident
    name = NodeName.parse(incident.node)
    icon = _KIND_ICONS.get(incident.kind, ":rotating_light:")
    if incident.status == IncidentStatus.OPEN:
        title = f"{incident.kind.capitalize()}: {name.node_id}"
    else:
        took = (incident.resolved_at or message.now) - incident.opened_at
        title = f"Resolved after {duration(took.total_seconds())}: {name.node_id}"
        icon = ":white_check_mark:"
    lines = [
        f"{icon} *{esc(name.node_id)}*  ·  {esc(name.project)} / {esc(name.zone)}"
        + (f"  ·  {esc(incident.accelerator_type)}" if incident.accelerator_type else ""),
        esc(incident.detail) if incident.detail else "",
    ]
    facts = [f"Opened {when(incident.opened_at)}"]
    if incident.acked_by:
        facts.append(f":eyes: Acknowledged by {user(incident.acked_by)}")
    if incident.muted_until and incident.status == IncidentStatus.OPEN:
        facts.append(f":mute: Muted until {when(incident.muted_until)}")
    blocks: list[Block] = [
        HeaderBlock(text=_plain(title, MAX_HEADER)),
        _section("\n".join(line for line in lines if line)),
        _context(*facts),
    ]
    if incident.status == IncidentStatus.OPEN:
        buttons = [
            _button("Acknowledge", ActionId.ACK, f"ack {incident.id}"),
            _button(f"Mute {MUTE_HOURS} h", ActionId.MUTE, f"mute {incident.id}"),
        ]
        if incident.kind in ("preempted", "terminated"):
            buttons.append(
                _button(
                    "Recreate",
                    ActionId.RECREATE,
                    f"recreate {short_name(incident.node)}",
                    style="primary",
                )
            )
        blocks.append(ActionsBlock(block_id=f"incident:{incident.id}", elements=buttons))
    return _message(f"{title} ({name.project}/{name.zone})", blocks)


def _event_line(event: m.IncidentEvent) -> str:
    icon = _KIND_ICONS.get(event.kind, ":information_source:")
    text = f"{icon} `{esc(short_name(event.node))}` {esc(event.kind)}"
    if event.detail:
        text += f": {esc(event.detail)}"
    if event.resolved_after_seconds is not None:
        text += f" (after {duration(event.resolved_after_seconds)})"
    return text


@render.register
def _(message: m.IncidentEvent) -> Rendered:
    text = _event_line(message)
    return _message(text, [_section(text)])


@render.register
def _(message: m.DigestRoot) -> Rendered:
    kinds: dict[str, int] = {}
    types: dict[str, int] = {}
    for incident in message.members:
        kinds[incident.kind] = kinds.get(incident.kind, 0) + 1
        types[incident.accelerator_type or "?"] = types.get(incident.accelerator_type or "?", 0) + 1
    count = len(message.members)
    title = f"{count} nodes in trouble in {message.zone}"
    where = ", ".join(message.projects[:5])
    if len(message.projects) > 5:
        where += f" and {len(message.projects) - 5} more projects"
    by_kind = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
    by_type = ", ".join(f"{k} {v}" for k, v in sorted(types.items(), key=lambda kv: -kv[1]))
    shown = ", ".join(f"`{esc(NodeName.parse(i.node).node_id)}`" for i in message.members[:40])
    more = f" and {count - 40} more" if count > 40 else ""
    blocks: list[Block] = [
        HeaderBlock(text=_plain(f":rotating_light: {title}", MAX_HEADER)),
        _section(
            f"*{esc(where)} / {esc(message.zone)}*\n*By kind:* {by_kind}\n*By type:* {by_type}"
        ),
        _section(f"{shown}{more}"),
        _context("One storm, one thread: changes of these nodes are batched below, once a tick."),
    ]
    return _message(f"{title} ({where})", blocks)


@render.register
def _(message: m.DigestBatch) -> Rendered:
    blocks = _sections([_event_line(e) for e in message.events])
    return _message(f"{len(message.events)} changes", blocks)


@render.register
def _(message: m.WatchNotice) -> Rendered:
    text = _TONES.get(message.tone, "") + message.text
    return _message(text, [_section(text)])

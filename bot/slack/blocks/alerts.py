"""The watcher's messages: incident roots and events, storm digests, notices."""

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    HeaderBlock,
)

from bot.core import messages as m
from bot.core.models import NodeName
from bot.core.names import short_name
from bot.core.records import IncidentStatus
from bot.slack.actions import ActionId
from bot.slack.blocks.kit import (
    _TONES,
    MAX_HEADER,
    Rendered,
    _button,
    _context,
    _message,
    _plain,
    _section,
    _sections,
    esc,
    render,
    user,
    when,
)

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

"""The watcher's messages: incident roots and events, storm digests, notices."""

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
)

from bot.core import messages as m
from bot.core.names import ResourceName, short_name
from bot.core.records import GONE, Incident, IncidentStatus
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
    md,
    render,
    user,
    when,
)
from bot.slack.blocks.nodes import requeue_button

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
    "maintenance": ":construction:",
    "queue-waiting": ":hourglass_flowing_sand:",
    "queue-suspended": ":double_vertical_bar:",
    "queue-failed": ":x:",
    "slice-lost": ":broken_heart:",
    "hosts-down": ":broken_heart:",
    "flex-waiting": ":hourglass_flowing_sand:",
    "flex-failed": ":x:",
    "sub-block-degraded": ":red_circle:",
}
# What an incident's title calls its kind (the rest say themselves, capitalized).
_KIND_TITLES = {
    "maintenance": "Maintenance",
    "queue-waiting": "Waiting for capacity",
    "queue-suspended": "Suspended",
    "queue-failed": "Queued resource failed",
    "slice-lost": "Slice lost",
    "hosts-down": "Slice degraded",
    "flex-waiting": "Flex-start waiting",
    "flex-failed": "Flex-start request failed",
    "sub-block-degraded": "Reservation sub-block degraded",
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
    name = ResourceName.parse(incident.node)
    open_ = incident.status == IncidentStatus.OPEN
    if open_:
        icon = _KIND_ICONS.get(incident.kind, ":rotating_light:")
        title = f"{_KIND_TITLES.get(incident.kind, incident.kind.capitalize())}: {name.id}"
    else:
        took = (incident.resolved_at or message.now) - incident.opened_at
        icon = ":white_check_mark:"
        title = f"Resolved after {duration(took.total_seconds())}: {name.id}"
    where = f"{icon} *{esc(name.id)}*  ·  {esc(name.project)} / {esc(name.zone)}"
    if incident.accelerator_type:
        where += f"  ·  {esc(incident.accelerator_type)}"
    lines = [where]
    if incident.detail:
        lines.append(("" if open_ else "Was: ") + esc(incident.detail))
    if incident.latest and incident.latest != incident.detail:
        lines.append(f"*Now:* {esc(incident.latest)}")
    blocks: list[Block] = [
        HeaderBlock(text=_plain(title, MAX_HEADER)),
        _section("\n".join(lines)),
        _context(*_alert_facts(incident.opened_at, incident.acked_by, incident.muted_until, open_)),
    ]
    if open_:
        blocks.append(_incident_buttons(incident))
    return _message(f"{title} ({name.project}/{name.zone})", blocks)


def _alert_facts(
    opened_at: datetime, acked_by: str, muted_until: datetime | None, open_: bool
) -> list[str]:
    facts = [f"Opened {when(opened_at)}"]
    if acked_by:
        facts.append(f":eyes: Acknowledged by {user(acked_by)}")
    if muted_until and open_:
        facts.append(f":mute: Muted until {when(muted_until)}")
    return facts


def _incident_buttons(incident: Incident) -> ActionsBlock:
    buttons = [
        _button("Acknowledge", ActionId.ACK, f"ack {incident.id}"),
        _button(f"Mute {MUTE_HOURS} h", ActionId.MUTE, f"mute {incident.id}"),
    ]
    name = ResourceName.parse(incident.node)
    if name.in_zones:
        buttons += _zonal_buttons(incident, name)
    elif incident.kind in ("preempted", "terminated"):
        recreate = f"recreate {short_name(incident.node)}"
        buttons.append(_button("Recreate", ActionId.RECREATE, recreate, style="primary"))
    if incident.kind in ("queue-failed", "queue-suspended"):
        # Stuck, holding quota: delete it and queue the same request again (through approval).
        what = f"The queued resource {short_name(incident.node)}"
        buttons.append(requeue_button(f"requeue {short_name(incident.node)}", what))
    return ActionsBlock(block_id=f"incident:{incident.id}", elements=buttons)


def _zonal_buttons(incident: Incident, name: ResourceName) -> list[ButtonElement]:
    """What an alert about an instance, a flex-start request or a sub-block offers (each
    button carries the full name; the server re-checks every click)."""
    full, kind = incident.node, incident.kind
    if name.is_instance and kind == "preempted":
        if incident.latest == GONE:
            return []  # deleted on preemption: nothing left to start or delete
        start = _button("Start again", ActionId.START, f"start {full}", style="primary")
        return [start, _button("Delete", ActionId.DELETE, f"delete {full}", style="danger")]
    if kind == "flex-waiting":
        return [_button("Cancel", ActionId.QUEUE_CANCEL, f"queue cancel {full}")]
    if kind == "flex-failed":
        return [requeue_button(f"requeue {full}", f"The flex-start request {name.id}")]
    if kind == "maintenance" and (name.is_instance or name.kind == "reservationSubBlocks"):
        now = f"maintenance start {full}"
        return [_button("Start maintenance now", ActionId.MAINTENANCE, now)]
    return []


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


def _counts(values: list[str]) -> str:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


@render.register
def _(message: m.DigestRoot) -> Rendered:
    digest, members = message.digest, message.members
    count = len(members)
    down = [i for i in members if i.status == IncidentStatus.OPEN]
    open_ = digest.status == IncidentStatus.OPEN
    if open_:
        title = f":rotating_light: {count} nodes in trouble in {digest.zone}"
        if len(down) < count:
            title += f": {len(down)} still down"
    else:
        took = (digest.resolved_at or message.now) - digest.opened_at
        title = f":white_check_mark: Resolved after {duration(took.total_seconds())}: "
        title += f"{count} nodes in {digest.zone}"
    projects = digest.project.split(",")
    where = ", ".join(projects[:5]) + (
        f" and {len(projects) - 5} more" if len(projects) > 5 else ""
    )
    shown = ", ".join(
        f"`{esc(ResourceName.parse(i.node).id)}`"
        + ("" if i.status == IncidentStatus.OPEN else " ✓")
        for i in members[:40]
    )
    more = f" and {count - 40} more" if count > 40 else ""
    blocks: list[Block] = [
        HeaderBlock(text=_plain(title, MAX_HEADER)),
        _section(
            f"*{esc(where)} / {esc(digest.zone)}*\n*By kind:* {_counts([i.kind for i in members])}"
            f"\n*By type:* {_counts([i.accelerator_type or '?' for i in members])}"
        ),
        _section(f"{shown}{more}"),
        _context(
            *_alert_facts(digest.opened_at, digest.acked_by, digest.muted_until, open_),
            "One storm, one thread: changes of these nodes are batched below, once a tick.",
        ),
    ]
    if open_:
        buttons = [
            _button("Acknowledge all", ActionId.ACK, f"ack {digest.id}"),
            _button(f"Mute all {MUTE_HOURS} h", ActionId.MUTE, f"mute {digest.id}"),
        ]
        blocks.append(ActionsBlock(block_id=f"digest:{digest.id}", elements=buttons))
    return _message(f"{title} ({where})", blocks)


@render.register
def _(message: m.DigestBatch) -> Rendered:
    blocks = _sections([_event_line(e) for e in message.events])
    return _message(f"{len(message.events)} changes", blocks)


@render.register
def _(message: m.WatchNotice) -> Rendered:
    text = _TONES.get(message.tone, "") + md(message.text)
    return _message(text, [_section(text)])

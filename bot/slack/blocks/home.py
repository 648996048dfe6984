"""The App Home: a `views.publish` home view body (at most 100 blocks) with the fleet at a
glance, open incidents, the person's pending requests and the next maintenance windows.

`render(FleetHome)` returns the view itself ({"type": "home", "blocks": [...]}), to pass as
`view=` to `views.publish` on `app_home_opened`. Charts are drawn as text here: the data
visualization block's reference speaks of messages.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ActionsBlock, Block, DividerBlock, HeaderBlock, SectionBlock

from bot.core import usage_messages as u
from bot.core.names import short_name
from bot.slack.actions import ActionId
from bot.slack.blocks.kit import (
    MAX_HEADER,
    Rendered,
    _button,
    _context,
    _md,
    _plain,
    _sections,
    esc,
    render,
    when,
)

MAX_VIEW_BLOCKS = 100  # "up to 50 blocks in each message, and 100 blocks in modals or Home tabs"
MAX_LINES = 15  # per list: a glance, not a report


def _kind_line(kind: u.KindCount) -> str:
    total = sum(n for _, n in kind.states)
    states = ", ".join(f"{n} {esc(state)}" for state, n in kind.states)
    return f"*{esc(kind.accelerator)}*: {total} ({states})  ·  {kind.chips} chips"


def _listed(title: str, lines: Sequence[str], empty: str, room: int) -> list[Block]:
    shown = list(lines[:MAX_LINES])
    if len(lines) > MAX_LINES:
        shown.append(f"…and {len(lines) - MAX_LINES} more")
    body = shown or [empty]
    return _sections([f"*{title}*", *body], room=room)


def home_blocks(home: u.FleetHome) -> list[Block]:
    glance = [
        f"*Busy chips*\n{home.busy_chips}",
        f"*Idle chips*\n{home.idle_chips}",
        f"*Usage unknown*\n{home.unknown_chips} chips",
        f"*Idle TPUs*\n{home.idle_tpus}",
    ]
    blocks: list[Block] = [
        HeaderBlock(text=_plain("TPU fleet", MAX_HEADER)),
        _context(f"As of {when(home.now)}. Busy: duty cycle above the idle threshold."),
        SectionBlock(fields=[_md(text) for text in glance]),
        ActionsBlock(
            block_id="home_show",
            elements=[
                _button("Idle TPUs", ActionId.SHOW_IDLE, "usage idle"),
                _button("Usage", ActionId.SHOW_USAGE, "usage"),
                _button("Queued resources", ActionId.SHOW_QUEUE, "queue list"),
            ],
        ),
        DividerBlock(),
    ]
    kinds = [_kind_line(k) for k in home.kinds]
    incidents = [
        f":rotating_light: {esc(i.kind)}: {esc(short_name(i.node))}  ·  since {when(i.opened_at)}"
        for i in home.open_incidents
    ]
    requests = [
        f":hourglass_flowing_sand: {esc(a.action)} {esc(short_name(a.target))}  ·  "
        f"expires {when(a.expires_at)}"
        for a in home.pending_requests
    ]
    maintenance = [
        f":construction: {esc(m.ref)}  ·  {esc(m.kind) or 'maintenance'} from {when(m.starts_at)}"
        for m in home.next_maintenance
    ]
    sections = (
        ("TPUs by type", kinds, "No TPUs."),
        (f"Open incidents ({len(incidents)})", incidents, "None open."),
        ("Your pending requests", requests, "None waiting for approval."),
        ("Next maintenance", maintenance, "None announced."),
    )
    for title, lines, empty in sections:
        room = MAX_VIEW_BLOCKS - len(blocks) - 2
        blocks += _listed(title, lines, empty, room)
    if home.unknown:
        shown = "; ".join(esc(line) for line in home.unknown[:5])
        blocks.append(_context(f":grey_question: Usage not read: {shown}"))
    return blocks[:MAX_VIEW_BLOCKS]


@render.register
def _(message: u.FleetHome) -> Rendered:
    return {"type": "home", "blocks": [b.to_dict() for b in home_blocks(message)]}

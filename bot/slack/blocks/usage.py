"""Utilization messages: the usage table, idle notices with their buttons, the daily digest and
a TPU's detail (core/usage_messages.py), drawn with kit's helpers and charts.py's data blocks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    SectionBlock,
)

from bot.core import usage_messages as u
from bot.slack.actions import ActionId
from bot.slack.blocks.charts import (
    MAX_CHARTS,
    Json,
    chart_block,
    chart_lines,
    table_block,
)
from bot.slack.blocks.kit import (
    MAX_BLOCKS,
    MAX_HEADER,
    Rendered,
    _button,
    _context,
    _md,
    _message,
    _plain,
    _section,
    clip,
    delete_button,
    esc,
    render,
    user,
    when,
)

# The action id of "Keep for 24 h" (`keep P/Z/N 24h`): the lead adds ActionId.KEEP with this
# value; until then the listener does not know the click.
KEEP_ACTION = ActionId.KEEP
_STATE_WORDS = {
    u.UsageState.IDLE: "idle",
    u.UsageState.BUSY: "busy",
    u.UsageState.UNKNOWN: "unknown",
    u.UsageState.SPARED: "not judged",
    u.UsageState.STOPPED: "stopped",
}


def money(value: float | None, currency: str) -> str:
    if value is None:
        return "-"
    amount = f"{value:,.2f}"
    return f"${amount}" if currency == "USD" else f"{amount} {currency}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} %"


def chips_text(chips: int | None) -> str:
    return "? chips" if chips is None else f"{chips} chip" + ("" if chips == 1 else "s")


def span_text(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def gib(value: float | None) -> str:
    return "-" if value is None else f"{value / (1 << 30):,.1f} GiB"


def _hbm(used_1h: float | None, used_24h: float | None, total: float | None) -> str:
    if used_1h is None and used_24h is None:
        return "-"
    return f"{gib(used_1h)} / {gib(used_24h)} of {gib(total)}"


def usage_line_text(line: u.UsageLine) -> str:
    """A TPU card's line of utilization."""
    if line.unknown:
        return f":grey_question: usage unknown: {esc(line.unknown)}"
    text = f":bar_chart: duty cycle {pct(line.duty_1h)} (1 h) · {pct(line.duty_24h)} (24 h)"
    hbm = _hbm(line.hbm_used_1h, line.hbm_used_24h, line.hbm_total)
    return text + (f" · HBM {hbm} (1 h / 24 h)" if hbm != "-" else "")


compose = _message  # (a message whose blocks may be dicts: data blocks have no model)


def chart_blocks(charts: Sequence[u.Chart | None], room: int = MAX_CHARTS) -> list[Block | Json]:
    """Up to `room` charts as data_visualization blocks; the rest (and what has no data) as
    text, so nothing is lost on a message that already holds charts."""
    out: list[Block | Json] = []
    for chart in charts:
        if chart is None:
            continue
        block = chart_block(chart) if room > 0 else None
        if block is not None:
            room -= 1
            out.append(block)
        else:
            out.append(_section("\n".join(esc(line) for line in chart_lines(chart))))
    return out


def _table_with_note(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int], what: str
) -> list[Block | Json]:
    block, shown = table_block(headers, rows, right)
    out: list[Block | Json] = [block]
    if shown < len(rows):
        out.append(_context(f"…and {len(rows) - shown} more {what} not shown in this table."))
    return out


# ----- the usage table ----------------------------------------------------------------------

_USAGE_HEADERS = ("TPU", "Type", "Chips", "Duty 1 h", "Duty 24 h", "Cost/day", "State")


def usage_cells(row: u.UsageRow, currency: str) -> list[str]:
    chips = "-" if row.chips is None else str(row.chips)
    return [
        row.ref,
        row.accelerator,
        chips,
        pct(row.duty_1h),
        pct(row.duty_24h),
        money(row.cost_per_day, currency),
        _STATE_WORDS[row.state],
    ]


@render.register
def _(message: u.UsageTable) -> Rendered:
    rows = message.rows
    counts = {s: sum(1 for r in rows if r.state is s) for s in u.UsageState}
    title = f"TPU utilization: {counts[u.UsageState.IDLE]} idle of {len(rows)}"
    rule = (
        f"Idle: mean duty cycle below {message.threshold_percent:g} % over the last "
        f"{span_text(message.window_minutes)}. Usage unknown for {counts[u.UsageState.UNKNOWN]}"
        " (never called idle)."
    )
    blocks: list[Block | Json] = [HeaderBlock(text=_plain(title, MAX_HEADER)), _context(rule)]
    if rows:
        cells = [usage_cells(r, message.currency) for r in rows]
        blocks += _table_with_note(_USAGE_HEADERS, cells, (2, 3, 4, 5), "TPUs")
    else:
        blocks.append(_section("No TPUs to show."))
    if message.unknown:
        blocks.append(_unknown_note(message.unknown))
    return compose(title, blocks)


def _unknown_note(lines: Sequence[str]) -> Block:
    shown = "; ".join(esc(line) for line in lines[:5])
    more = f" and {len(lines) - 5} more" if len(lines) > 5 else ""
    return _context(f":grey_question: Not read: {shown}{more}")


# ----- idle notices -------------------------------------------------------------------------


def idle_buttons(tpu: u.IdleTpu, keep_hours: int) -> ActionsBlock:
    """Stop (single-host only), Delete, Keep: each carries the /tpu text it runs."""
    buttons: list[ButtonElement] = []
    if tpu.can_stop:
        buttons.append(_button("Stop", ActionId.STOP, f"stop {tpu.ref}"))
    buttons.append(delete_button("TPU", tpu.ref, "", f"delete {tpu.ref}"))
    keep = f"keep {tpu.ref} {keep_hours}h"
    buttons.append(_button(f"Keep for {keep_hours} h", KEEP_ACTION, keep, style="primary"))
    return ActionsBlock(block_id=f"idle:{clip(tpu.ref, 200)}", elements=buttons)


def idle_section(tpu: u.IdleTpu, window_minutes: int, currency: str) -> SectionBlock:
    first = f"*{esc(tpu.ref)}*  ·  {esc(tpu.accelerator)}  ·  {chips_text(tpu.chips)}"
    second = (
        f"Duty cycle {pct(tpu.duty_percent)} over the last {span_text(window_minutes)}  ·  "
        f"{money(tpu.cost_per_day, currency)} a day  ·  {money(tpu.cost_so_far, currency)} "
        "since it was created"
    )
    return _section(f":zzz: {first}\n{second}")


@render.register
def _(message: u.IdleSettled) -> Rendered:
    by = f" by {user(message.user)}" if message.user else ""
    text = f":white_check_mark: *{esc(message.ref)}* is no longer idle: {esc(message.why)}{by}."
    return compose(text, [_section(text)])


@render.register
def _(message: u.IdleNotice) -> Rendered:
    tpus = message.still_idle
    daily = [t.cost_per_day for t in tpus if t.cost_per_day is not None]
    title = f"{len(tpus)} idle TPU" + ("" if len(tpus) == 1 else "s")
    if not tpus:
        title = "Idle TPUs: none left idle"
    rule = (
        f"Mean duty cycle below {message.threshold_percent:g} % for the last "
        f"{span_text(message.window_minutes)}; together {money(sum(daily), message.currency)} "
        "a day. Stop or delete what nobody needs, or keep it: nobody is asked again until the "
        "keep runs out."
    )
    blocks: list[Block | Json] = [HeaderBlock(text=_plain(title, MAX_HEADER)), _context(rule)]
    room = (MAX_BLOCKS - len(blocks) - 2) // 2  # and a note of the rest, and of those settled
    for tpu in tpus[:room]:
        blocks.append(idle_section(tpu, message.window_minutes, message.currency))
        blocks.append(idle_buttons(tpu, message.keep_hours))
    if len(tpus) > room:
        blocks.append(_context(f"…and {len(tpus) - room} more idle TPUs: /tpu usage lists all."))
    if message.settled:
        settled = [f"{esc(ref)}: {esc(why)}" for ref, why in sorted(message.settled.items())]
        blocks.append(_context(":white_check_mark: No longer idle: " + "; ".join(settled[:20])))
    names = ", ".join(t.ref for t in tpus[:20]) or "none"
    return compose(f"{title}: {names}", blocks)


# ----- the daily digest ---------------------------------------------------------------------

_IDLE_HEADERS = ("TPU", "Type", "Chips", "Duty", "Cost/day", "Since created")


@render.register
def _(message: u.UsageDigest) -> Rendered:
    f, cur = message.figures, message.currency
    title = f"TPU usage, {message.now:%a %d %b}"
    fields = [
        f"*Busy chips*\n{f.busy_chips} of {f.chips}",
        f"*Idle chips*\n{f.idle_chips}",
        f"*Usage unknown*\n{f.unknown_chips} chips",
        f"*Idle TPUs*\n{f.idle_tpus} of {f.running} running",
        f"*Idle chip-hours, 24 h*\n{f.idle_chip_hours:,.0f} ({money(f.idle_cost, cur)})",
        f"*Running cost*\n{money(f.cost_per_day, cur)} a day",
    ]
    blocks: list[Block | Json] = [
        HeaderBlock(text=_plain(title, MAX_HEADER)),
        SectionBlock(fields=[_md(text) for text in fields]),
        _context(*_digest_notes(message)),
    ]
    if message.top_idle:
        blocks.append(_section("*The most costly idle TPUs*"))
        rows = [
            [
                t.ref,
                t.accelerator,
                "-" if t.chips is None else str(t.chips),
                pct(t.duty_percent),
                money(t.cost_per_day, cur),
                money(t.cost_so_far, cur),
            ]
            for t in message.top_idle
        ]
        blocks += _table_with_note(_IDLE_HEADERS, rows, (2, 3, 4, 5), "idle TPUs")
    blocks += chart_blocks([message.busy_chart])
    if message.fleet is not None:
        blocks += _fleet_notes(message.fleet)
    if message.unknown:
        blocks.append(_unknown_note(message.unknown))
    summary = (
        f"{title}: {f.busy_chips} of {f.chips} chips busy, {f.idle_tpus} TPUs idle, "
        f"{money(f.idle_cost, cur)} spent idle"
    )
    return compose(summary, blocks)


def _fleet_notes(notes: u.FleetNotes) -> list[Block | Json]:
    lines = [
        f"*Requests for capacity*: {notes.queued_waiting} waiting, {notes.queued_failed} failed",
        f"*Incidents*: {notes.incidents_opened} opened in the last day, {notes.incidents_open} "
        "still open",
        f"*Actions taken*: {notes.actions} in the last day",
    ]
    if notes.maintenance:
        shown = [f"{esc(line.ref)} {when(line.starts_at)}" for line in notes.maintenance[:10]]
        more = f" and {len(notes.maintenance) - 10} more" if len(notes.maintenance) > 10 else ""
        lines.append("*Maintenance in the next 7 days*: " + "; ".join(shown) + more)
    else:
        lines.append("*Maintenance in the next 7 days*: none announced")
    return [_section("\n".join(lines))]


def _tpus(n: int) -> str:
    return "1 TPU has" if n == 1 else f"{n} TPUs have"


def _digest_notes(message: u.UsageDigest) -> list[str]:
    f = message.figures
    notes = [f"Busy: mean duty cycle at least {message.threshold_percent:g} % over 24 h."]
    if f.unpriced:
        notes.append(f"{_tpus(f.unpriced)} no price configured: cost left out.")
    if f.uncounted:
        notes.append(f"{_tpus(f.uncounted)} a shape whose chips are unknown: not counted.")
    return notes


# ----- one TPU ------------------------------------------------------------------------------


def usage_detail_blocks(detail: u.UsageDetail) -> list[Block | Json]:
    """A TPU's utilization as blocks, to stand alone or follow its node card (mind the two
    charts a message may hold: chart_blocks draws a third as text)."""
    row, currency = detail.row, detail.currency
    hbm = _hbm(detail.hbm_used_bytes, detail.hbm_used_24h_bytes, detail.hbm_total_bytes)
    fields = [
        f"*Duty cycle, 1 h*\n{pct(row.duty_1h)}",
        f"*Duty cycle, 24 h*\n{pct(row.duty_24h)}",
        f"*TensorCore*\n{pct(detail.tensorcore_percent)}",
        f"*HBM used, 1 h / 24 h*\n{hbm}",
        f"*Cost*\n{money(row.cost_per_day, currency)} a day",
        f"*State*\n{_STATE_WORDS[row.state]}",
    ]
    blocks: list[Block | Json] = [
        SectionBlock(fields=[_md(text) for text in fields]),
        _context(esc(row.reason)),
    ]
    return blocks + chart_blocks([detail.chart])


@render.register
def _(message: u.UsageDetail) -> Rendered:
    title = f"Utilization: {message.row.ref}"
    blocks: list[Any] = [HeaderBlock(text=_plain(title, MAX_HEADER))]
    blocks += usage_detail_blocks(message)
    return compose(title, blocks)


__all__ = [
    "KEEP_ACTION",
    "chart_blocks",
    "compose",
    "idle_buttons",
    "money",
    "usage_detail_blocks",
]

"""Queued resources: their cards, a page of them, one in detail."""

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    SectionBlock,
)

from bot.core import messages as m
from bot.core.instances import FlexRequest
from bot.core.queued import STUCK, WAITING, QueuedNodeSpec, QueuedResource, QueuedState
from bot.slack.actions import ActionId
from bot.slack.blocks import compute
from bot.slack.blocks.kit import (
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
    ref_text,
    render,
    status_text,
    when,
)
from bot.slack.blocks.nodes import requeue_button
from bot.slack.blocks.paging import Page, paged

_ICONS = {
    QueuedState.ACTIVE: ":large_green_circle:",
    QueuedState.FAILED: ":red_circle:",
    QueuedState.SUSPENDED: ":black_circle:",
    QueuedState.SUSPENDING: ":black_circle:",
    QueuedState.DELETING: ":white_circle:",
}


def age(seconds: float) -> str:
    """3d 4h, 5h 12m, 7m: how long, to the two largest units."""
    minutes = int(seconds // 60)
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def _shape(spec: QueuedNodeSpec) -> str:
    config = spec.accelerator_config
    shape = spec.accelerator_type or (f"{config.type} {config.topology}" if config else "?")
    return esc(shape)


def _what(queued: QueuedResource) -> str:
    if not queued.node_specs:
        return "no node spec"
    spec = queued.node_specs[0]
    what = f"{_shape(spec)} on `{esc(spec.software_version or '?')}`"
    if spec.multislice_count:
        what += f", multislice of {spec.multislice_count}"
    elif len(queued.node_specs) > 1:
        what += f", {len(queued.node_specs)} node specs"
    kinds = [k for k, on in (("spot", queued.spot), ("guaranteed", queued.guaranteed)) if on]
    if queued.reservation:
        kinds.append(f"reservation `{esc(ref_text(queued.reservation))}`")
    return what + (" · " + ", ".join(kinds) if kinds else "")


def _state(queued: QueuedResource, now: datetime) -> str:
    icon = _ICONS.get(queued.state, ":large_yellow_circle:")
    text = f"{icon} *{queued.state.value}*"
    if queued.state_initiator.value in ("USER", "SERVICE"):
        text += f" (by {queued.state_initiator.value.lower()})"
    if queued.create_time is not None:
        verb = "waiting" if queued.state in WAITING else "queued"
        text += f" · {verb} {age(queued.waited_seconds(now))}"
    return text


def failure_text(queued: QueuedResource) -> str | None:
    """Why it failed, as what to do when it is capacity, quota or a reservation."""
    if queued.failure is None:
        return None
    advice = m.capacity_advice(queued.failure.message, queued.zone)
    if advice is not None:
        return f":x: {esc(advice)}"
    return f":x: {queued.failure.code_name}: {esc(clip(queued.failure.message, 500))}"


def queued_section(queued: QueuedResource, now: datetime) -> SectionBlock:
    lines = [
        f"*{esc(queued.id)}*  ·  {esc(queued.project)} / {esc(queued.zone)}",
        _state(queued, now),
        _what(queued),
    ]
    failure = failure_text(queued)
    if failure:
        lines.append(failure)
    if queued.state in STUCK:
        lines.append("_Holds quota until it is deleted._")
    return SectionBlock(text=_md("\n".join(lines)))


def queued_controls(queued: QueuedResource) -> ActionsBlock | None:
    """Buttons by state; the server re-checks every click."""
    ref = ref_text(queued.name)
    buttons: list[ButtonElement] = []
    if queued.state in STUCK:
        buttons.append(requeue_button(f"requeue {ref}", queued.id))
        buttons.append(_button("Reset", ActionId.QUEUE_RESET, f"queue reset {ref}"))
    if queued.state is not QueuedState.DELETING:
        command = f"queue delete {ref}"
        buttons.append(
            delete_button("request", queued.id, queued.zone, command, ActionId.QUEUE_DELETE)
        )
    if not buttons:
        return None
    return ActionsBlock(block_id=f"queued:{clip(queued.name, 200)}", elements=buttons)


@render.register
def _(message: m.QueuedPage) -> Rendered:
    page = Page(
        "Queued resources and flex-start requests",
        "requests",
        message.query,
        message.total,
        message.page,
        message.page_size,
        len(message.queued),
        message.summary,
        message.unreachable,
        nav_id="queue_nav",
    )
    cards = []
    for queued in message.queued:
        if isinstance(queued, FlexRequest):
            flex_controls = compute.flex_controls(queued)
            section = compute.flex_section(
                queued, message.now, age(queued.waited_seconds(message.now))
            )
            cards.append([section, *([flex_controls] if flex_controls is not None else [])])
            continue
        controls = queued_controls(queued)
        cards.append(
            [queued_section(queued, message.now), *([controls] if controls is not None else [])]
        )
    return paged(page, cards)


@render.register
def _(message: m.QueuedDetail) -> Rendered:
    queued = message.queued
    blocks: list[Block] = [
        HeaderBlock(text=_plain(queued.id, MAX_HEADER)),
        queued_section(queued, message.now),
    ]
    facts = [f"Name `{esc(queued.name)}`", f"Created {when(queued.create_time)}"]
    policy = queued.queueing_policy
    if policy is not None and policy.valid_until is not None:
        facts.append(f"Valid until {when(policy.valid_until)}")
    blocks.append(_context(*facts))
    names = queued.node_names
    if names:
        found = {n.name: n for n in message.nodes}
        missing = "not created yet" if queued.state in WAITING else "not there"
        lines = [
            f"• `{esc(ref_text(name))}`: "
            + (status_text(found[name]) if name in found else missing)
            for name in names[:20]
        ]
        if len(names) > 20:
            lines.append(f"…and {len(names) - 20} more")
        blocks.append(_section("*Nodes*\n" + "\n".join(lines)))
    controls = queued_controls(queued)
    if controls is not None:
        blocks.append(controls)
    return _message(f"{queued.id}: {queued.state.value}", blocks)

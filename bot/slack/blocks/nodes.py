"""Node cards, listings, a node's detail, the reimage and runtime pickers, candidates and
catalogs."""

from functools import singledispatch
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    HeaderBlock,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from bot.core import messages as m
from bot.core.models import UNRECOVERABLE, Maintenance, Node, NodeState
from bot.core.names import short_name
from bot.core.records import TrackedOperation
from bot.core.usage_messages import UsageLine
from bot.slack.actions import COMMAND_BLOCK, ActionId
from bot.slack.blocks.kit import (
    MAX_FIELD,
    MAX_HEADER,
    MAX_OPTION,
    MAX_OPTION_VALUE,
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
    md,
    ref_text,
    render,
    status_text,
    user,
    when,
)
from bot.slack.blocks.paging import Page, paged
from bot.slack.blocks.usage import compose, usage_detail_blocks, usage_line_text


def _labels(node: Node) -> str:
    if not node.labels:
        return "-"
    return ", ".join(f"`{esc(k)}={esc(v)}`" for k, v in sorted(node.labels.items()))


def _symptoms(node: Node) -> str:
    return "; ".join(
        f"{s.symptom_type.value} on worker {esc(s.worker_id or '?')}" for s in node.symptoms
    )


def software(node: Node) -> str:
    """The software version, labelled by what it is: the TensorFlow version of a node read
    through v1alpha1, the runtime version of one read through v2 (which gives every node an
    accelerator config)."""
    version = node.software_version
    label = "TensorFlow" if node.accelerator_config is None else "Runtime"
    return f"*{label}*\n{esc(version or '-')}"


def _shape(node: Node) -> str:
    config = node.accelerator_config
    topology = f" · {esc(config.topology)}" if config and config.topology else ""
    return f"*Type*\n{esc(node.accelerator_type or (config.type if config else '-'))}{topology}"


def _scheduling(node: Node) -> str:
    kinds = [
        kind
        for kind, on in (
            ("spot", node.spot),
            ("preemptible", node.preemptible),
            ("reserved", node.reserved),
        )
        if on
    ]
    return "*Scheduling*\n" + (", ".join(kinds) or "on demand")


def _maintenance(node: Node) -> str | None:
    return maintenance_line(node.maintenance) if node.maintenance is not None else None


def maintenance_line(upcoming: Maintenance) -> str:
    """A maintenance window in one line (a node's, an instance's or a sub-block's)."""
    window = f"{when(upcoming.window_start)} to {when(upcoming.window_end)}"
    kind = (upcoming.type or "unknown").lower()
    status = (upcoming.status or "unknown").lower()
    text = f":wrench: {esc(kind)} maintenance, {esc(status)}: {window}"
    if upcoming.latest_window_start is not None:
        text += f"; starts by {when(upcoming.latest_window_start)} at the latest"
    if upcoming.can_reschedule:
        text += " (can be rescheduled)"
    return text


def _membership(node: Node) -> str | None:
    parts = []
    if node.queued_resource:
        parts.append(f"queued resource `{esc(ref_text(node.queued_resource))}`")
    if node.multislice_node:
        parts.append("a slice of a multislice")
    return ":inbox_tray: " + ", ".join(parts) if parts else None


def requeue_command(node: Node) -> str | None:
    """What "Delete & requeue" runs for a preempted spot VM (None: not one)."""
    if node.state not in UNRECOVERABLE or not (node.spot or node.preemptible):
        return None
    if node.queued_resource:
        return f"requeue {ref_text(node.queued_resource)}"
    if node.accelerator_config is None and not node.spot:
        return None  # a preemptible TPU Node (v1alpha1): recreate it instead
    return f"requeue {node.name}"


def requeue_button(command: str, what: str) -> ButtonElement:
    confirm = ConfirmObject(
        title="Delete & requeue?",
        text=_md(f"{esc(what)} will be deleted and the same request queued again."),
        confirm="Request it",
        deny="Cancel",
    )
    return _button("Delete & requeue", ActionId.REQUEUE, command, style="primary", confirm=confirm)


def node_controls(node: Node, card: int = 0) -> ActionsBlock | None:
    """The buttons a node card offers, by state. The server re-checks every click. `card`: the
    card's place in its message, so every block id in a message is unique (Slack refuses a
    message that repeats one)."""
    buttons: list[ButtonElement] = []
    ref = short_name(node.name)
    if node.state is NodeState.READY and not node.is_multi_host:
        buttons.append(_button("Stop", ActionId.STOP, f"stop {ref}"))
    if node.state is NodeState.STOPPED:
        buttons.append(_button("Start", ActionId.START, f"start {ref}", style="primary"))
    if node.state is NodeState.READY:
        buttons.append(_button("Reimage…", ActionId.REIMAGE, f"reimage {ref}"))
    requeue = requeue_command(node)
    if requeue is not None:
        buttons.append(requeue_button(requeue, node.node_id))
    if node.state in UNRECOVERABLE and not node.queued_resource:
        style = None if requeue else "primary"
        buttons.append(_button("Recreate", ActionId.RECREATE, f"recreate {ref}", style=style))
    if node.state is not NodeState.DELETING:
        buttons.append(delete_button("node", node.node_id, node.zone, f"delete {ref}"))
    if not buttons:
        return None
    place = f"{card}:" if card else ""
    return ActionsBlock(block_id=f"node:{place}{clip(node.name, 200)}", elements=buttons)


SOURCE = "Cloud TPU API node"


def node_section(node: Node, usage: UsageLine | None = None) -> SectionBlock:
    lines = [
        f"*{esc(node.node_id)}*  ·  {esc(node.project)} / {esc(node.zone)}",
        f"_{SOURCE}_",
        status_text(node),
    ]
    if node.health_description:
        lines.append(f"_{esc(node.health_description)}_")
    if node.symptoms:
        lines.append(f":warning: {_symptoms(node)}")
    for extra in (_membership(node), _maintenance(node)):
        if extra:
            lines.append(extra)
    if usage is not None:
        lines.append(usage_line_text(usage))
    fields = [
        _md(_shape(node)),
        _md(software(node)),
        _md(_scheduling(node)),
        _md(f"*Labels*\n{_labels(node)}", MAX_FIELD),
    ]
    return SectionBlock(text=_md("\n".join(lines)), fields=fields)


@render.register
def _(message: m.NodeCandidates) -> Rendered:
    text = f":mag: {md(message.message)}"
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
    page = Page(
        "TPUs",
        "TPUs",
        message.query,
        message.total,
        message.page,
        message.page_size,
        len(message.nodes),
        message.summary,
        message.unreachable,
    )
    cards = [
        tpu_card(tpu, place, message.usage.get(tpu.name)) for place, tpu in enumerate(message.nodes)
    ]
    return paged(page, cards)


@singledispatch
def tpu_card(tpu: object, place: int, usage: UsageLine | None = None) -> list[Block]:
    """A TPU's card in a listing, by its kind (`compute` registers the instance's)."""
    raise TypeError(f"no card for {type(tpu).__name__}")


@tpu_card.register
def _(node: Node, place: int, usage: UsageLine | None = None) -> list[Block]:
    controls = node_controls(node, place)
    return [node_section(node, usage), *([controls] if controls is not None else [])]


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
    if message.usage is not None:
        drawn: list[Block | dict[str, Any]] = [*blocks, *usage_detail_blocks(message.usage)]
        return compose(f"{node.node_id}: {node.state.value}", drawn)
    return _message(f"{node.node_id}: {node.state.value}", blocks)


@render.register
def _(message: m.CatalogList) -> Rendered:
    values = ", ".join(f"`{esc(v)}`" for v in message.values) or "none"
    text = f"*{message.kind.capitalize()} in {esc(message.zone)}*\n{values}"
    return _message(text, [_section(text)])


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


@render.register
def _(message: m.RecreatePicker) -> Rendered:
    node = message.node
    text = (
        f"{esc(message.why)}\nRecreate *{esc(node.node_id)}* ({esc(node.zone)}, now "
        f"`{esc(node.software_version)}`) on:"
    )
    options = [
        Option(text=_plain(v, MAX_OPTION), value=f"runtime={v}")
        for v in message.versions
        if v != node.software_version and len(v) + 8 <= MAX_OPTION_VALUE
    ][:100]
    if not options:
        return _message(text, [_section(text + " no other runtime version is offered here.")])
    select = StaticSelectElement(
        placeholder=_plain("Runtime version", MAX_OPTION),
        action_id=ActionId.RECREATE_RUNTIME,
        options=options,
    )
    block_id = f"{COMMAND_BLOCK}recreate {short_name(node.name)}"
    blocks: list[Block] = [SectionBlock(block_id=block_id, text=_md(text), accessory=select)]
    blocks.append(_context("The node is deleted and created again: its disks start afresh."))
    return _message(text, blocks)

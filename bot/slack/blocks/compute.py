"""TPU VM instances (Compute Engine): their cards in a listing and in detail, the slices, the
reservations with their sub-blocks, and flex-start requests beside queued resources."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    SectionBlock,
)

from bot.core import compute_messages as cm
from bot.core.instances import (
    DOWN,
    FLEX_OVER,
    FlexRequest,
    FlexState,
    Instance,
    InstanceGroup,
    InstanceStatus,
    ProvisioningModel,
    Reservation,
    SubBlock,
)
from bot.core.names import ResourceName, short_name
from bot.core.usage_messages import UsageLine
from bot.slack.actions import ActionId
from bot.slack.blocks.kit import (
    MAX_BLOCKS,
    MAX_FIELD,
    MAX_HEADER,
    Rendered,
    _button,
    _context,
    _md,
    _message,
    _plain,
    _section,
    _sections,
    clip,
    delete_button,
    esc,
    render,
    when,
)
from bot.slack.blocks.nodes import maintenance_line, requeue_button, tpu_card
from bot.slack.blocks.usage import compose, usage_detail_blocks, usage_line_text

SOURCE = "Compute Engine TPU VM"
_PROVISIONING = {
    ProvisioningModel.STANDARD: "on demand",
    ProvisioningModel.SPOT: "spot",
    ProvisioningModel.FLEX_START: "flex-start",
    ProvisioningModel.RESERVATION_BOUND: "reserved",
}


def status_icon(instance: Instance) -> str:
    status = instance.status
    if status is InstanceStatus.REPAIRING:
        return ":red_circle:"
    if status in DOWN:
        return ":black_circle:" if instance.spot else ":white_circle:"
    if status is InstanceStatus.RUNNING:
        return ":large_green_circle:"
    return ":large_yellow_circle:"


def status_text(instance: Instance) -> str:
    message = f" · _{esc(clip(instance.status_message, 200))}_" if instance.status_message else ""
    return f"{status_icon(instance)} *{instance.status.value}*{message}"


def _shape(instance: Instance) -> str:
    chips = f" · {instance.chips} chips" if instance.chips else ""
    generation = f" ({instance.generation.value})" if instance.generation else ""
    topology = f" · slice {esc(instance.topology)}" if instance.topology else ""
    return f"*Machine type*\n{esc(instance.machine_type)}{generation}{chips}{topology}"


def _provisioning(instance: Instance) -> str:
    text = _PROVISIONING.get(instance.provisioning, instance.provisioning.value.lower())
    if instance.termination_time is not None:
        text += f", runs until {when(instance.termination_time)}"
    elif instance.termination_action:
        text += f", {instance.termination_action.lower()} when preempted"
    return f"*Provisioning*\n{text}"


def _labels(instance: Instance) -> str:
    shown = {k: v for k, v in instance.labels.items() if not k.startswith("goog-")}
    if not shown:
        return "-"
    return ", ".join(f"`{esc(k)}={esc(v)}`" for k, v in sorted(shown.items()))


def _membership(instance: Instance) -> list[str]:
    lines = []
    gke = instance.gke
    if gke is not None:
        lines.append(
            f":wheel_of_dharma: GKE cluster `{esc(gke.cluster)}`, node pool "
            f"`{esc(gke.node_pool or '?')}`: act on it through GKE"
        )
    if instance.group:
        what = "slice" if instance.topology or instance.placement_policy else "group"
        lines.append(f":link: host of {what} `{esc(short_name(instance.group))}`")
    elif instance.placement_policy:
        lines.append(":link: a host of a multi-host slice")
    if instance.reservation:
        lines.append(f":ticket: reservation `{esc(short_name(instance.reservation))}`")
    return lines


def instance_section(instance: Instance, usage: UsageLine | None = None) -> SectionBlock:
    lines = [
        f"*{esc(instance.node_id)}*  ·  {esc(instance.project)} / {esc(instance.zone)}",
        f"_{SOURCE}_",
        status_text(instance),
        *_membership(instance),
    ]
    if instance.maintenance is not None:
        lines.append(maintenance_line(instance.maintenance))
    if usage is not None:
        lines.append(usage_line_text(usage))
    fields = [
        _md(_shape(instance)),
        _md(_provisioning(instance)),
        _md(f"*Host*\n`{esc(instance.host or '-')}`"),
        _md(f"*Labels*\n{_labels(instance)}", MAX_FIELD),
    ]
    return SectionBlock(text=_md("\n".join(lines)), fields=fields)


def instance_controls(instance: Instance, card: int = 0) -> ActionsBlock | None:
    """The buttons an instance card offers, by status (none on a GKE node: act through GKE).
    Buttons carry the full name; the server re-checks every click."""
    if instance.gke is not None:
        return None
    buttons: list[ButtonElement] = []
    name, slice_host = instance.name, bool(instance.placement_policy)
    if instance.status is InstanceStatus.RUNNING and not slice_host:
        buttons.append(_button("Stop", ActionId.STOP, f"stop {name}"))
    if instance.status in DOWN and not slice_host:
        buttons.append(_button("Start", ActionId.START, f"start {name}", style="primary"))
    if instance.maintenance is not None and instance.maintenance.can_reschedule:
        start = f"maintenance start {name}"
        buttons.append(_button("Start maintenance", ActionId.MAINTENANCE, start))
    if instance.status is not InstanceStatus.STOPPING:
        command = f"delete {name}"
        buttons.append(delete_button("TPU VM", instance.node_id, instance.zone, command))
    if not buttons:
        return None
    place = f"{card}:" if card else ""
    return ActionsBlock(block_id=f"instance:{place}{clip(name, 200)}", elements=buttons)


@tpu_card.register
def instance_card(instance: Instance, card: int, usage: UsageLine | None = None) -> list[Block]:
    controls = instance_controls(instance, card)
    return [instance_section(instance, usage), *([controls] if controls is not None else [])]


def _host_lines(group: InstanceGroup) -> list[str]:
    lines = []
    for position, host in enumerate(group.hosts, start=1):
        if host.status is InstanceStatus.RUNNING:
            continue
        host_id = esc(ResourceName.parse(host.name).id)
        lines.append(f"• host {position}: `{host_id}` {host.status.value}")
    return lines[:10]


@render.register
def _(message: cm.InstanceDetail) -> Rendered:
    instance = message.instance
    blocks: list[Block] = [
        HeaderBlock(text=_plain(instance.node_id, MAX_HEADER)),
        instance_section(instance),
    ]
    facts = [
        f"Name `{esc(instance.name)}`",
        f"Created {when(instance.create_time)}",
        f"Id `{esc(instance.uid or '-')}`",
    ]
    if instance.sub_block:
        facts.append(f"Sub-block `{esc(ResourceName.parse(instance.sub_block).id)}`")
    blocks.append(_context(*facts))
    group = message.group
    if group is not None:
        text = f"*{_group_title(group)}*: {_hosts_healthy(group)}"
        blocks.append(_section("\n".join([text, *_host_lines(group)])))
    controls = instance_controls(instance)
    if controls is not None:
        blocks.append(controls)
    title = f"{instance.node_id}: {instance.status.value}"
    if message.usage is not None:
        return compose(title, [*blocks, *usage_detail_blocks(message.usage)])
    return _message(title, blocks)


def _group_title(group: InstanceGroup) -> str:
    kind = f"Slice {esc(group.topology)}" if group.is_slice else "Group"
    return f"{kind} `{esc(short_name(group.name))}`"


def _hosts_healthy(group: InstanceGroup) -> str:
    state = f" · {esc(group.topology_state)}" if group.topology_state else ""
    return f"hosts {group.running}/{group.wanted} healthy{state}"


def slice_section(group: InstanceGroup) -> SectionBlock:
    down = group.down()
    icon = ":large_green_circle:" if not down else ":red_circle:"
    lines = [f"{icon} {_group_title(group)}  ·  {_hosts_healthy(group)}"]
    for position, what in down[:5]:
        lines.append(f"• host {position} of {max(group.wanted, len(group.hosts))}: {esc(what)}")
    if len(down) > 5:
        lines.append(f"…and {len(down) - 5} more down")
    if group.policy:
        lines.append(f"_placed by workload policy `{esc(short_name(group.policy))}`_")
    return SectionBlock(text=_md("\n".join(lines)))


@render.register
def _(message: cm.SliceList) -> Rendered:
    blocks: list[Block] = [HeaderBlock(text=_plain("Slices", MAX_HEADER))]
    if not message.slices:
        text = "No multi-host slices of TPU VMs here."
        blocks.append(_section(text))
        return _message(text, blocks)
    broken = sum(1 for s in message.slices if s.down())
    total = message.total or len(message.slices)
    text = f"{_count(total, 'slice')}, {broken} with a host down"
    blocks.append(_context(text))
    if message.unreachable:
        zones = ", ".join(esc(z.rsplit("/", 1)[-1]) for z in message.unreachable)
        blocks.append(_context(f":warning: Partial listing: no answer from {zones}."))
    blocks += [slice_section(s) for s in message.slices[: MAX_BLOCKS - 4]]
    if message.total > len(message.slices):
        blocks.append(_context("More slices match: narrow it with project= or zone=."))
    return _message(text, blocks)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _sub_block_line(sub: SubBlock) -> str:
    icon = ":red_circle:" if sub.degraded else ":large_green_circle:"
    text = (
        f"{icon} `{esc(sub.ref.id)}`: {sub.healthy}/{sub.count} hosts healthy, {sub.in_use} in use"
    )
    if sub.degraded:
        text += f", *{sub.degraded} degraded*"
    if sub.maintenance is not None:
        text += "\n      " + maintenance_line(sub.maintenance)
    return text


def reservation_lines(reservation: Reservation) -> list[str]:
    lines = [
        f"*`{esc(short_name(reservation.name))}`*  ·  {esc(reservation.machine_type)}  ·  "
        f"{reservation.in_use}/{reservation.count} in use"
    ]
    for block in reservation.blocks:
        lines.append(f"Block `{esc(block.ref.id)}`: {block.in_use}/{block.count} in use")
        lines += [_sub_block_line(s) for s in block.sub_blocks]
    return lines


@render.register
def _(message: cm.ReservationList) -> Rendered:
    blocks: list[Block] = [HeaderBlock(text=_plain("Reservations", MAX_HEADER))]
    if not message.reservations:
        text = "No reservations of TPU VMs here."
        blocks.append(_section(text))
        return _message(text, blocks)
    subs = [s for r in message.reservations for s in r.sub_blocks]
    degraded = sum(1 for s in subs if s.degraded)
    pending = sum(1 for s in subs if s.maintenance is not None)
    text = (
        f"{_count(len(message.reservations), 'reservation')}, {_count(len(subs), 'sub-block')}: "
        f"{degraded} degraded, {pending} with maintenance"
    )
    blocks.append(_context(text))
    if message.unreachable:
        zones = ", ".join(esc(z.rsplit("/", 1)[-1]) for z in message.unreachable)
        blocks.append(_context(f":warning: Partial listing: no answer from {zones}."))
    lines = [line for r in message.reservations for line in reservation_lines(r)]
    blocks += _sections(lines, MAX_BLOCKS - len(blocks) - 1)
    with_maintenance = [s for s in subs if s.maintenance is not None][:5]
    if with_maintenance:
        buttons = [
            _button(
                f"Start maintenance: {clip(s.ref.id, 40)}",
                ActionId.MAINTENANCE,
                f"maintenance start {s.name}",
            )
            for s in with_maintenance
        ]
        blocks.append(ActionsBlock(block_id="reservations", elements=buttons))
    return _message(text, blocks)


# ----- flex-start requests, beside queued resources --------------------------------------------

_FLEX_ICONS = {
    FlexState.SUCCEEDED: ":large_green_circle:",
    FlexState.FAILED: ":red_circle:",
    FlexState.CANCELLED: ":white_circle:",
}


def flex_section(flex: FlexRequest, now: datetime, age: str) -> SectionBlock:
    icon = _FLEX_ICONS.get(flex.state, ":large_yellow_circle:")
    verb = "waiting" if flex.state is FlexState.ACCEPTED else "asked"
    group = ResourceName.parse(flex.group).id if flex.group else "?"
    run = f" for {flex.run_seconds // 3600}h" if flex.run_seconds else ""
    lines = [
        f"*{esc(flex.id)}*  ·  {esc(flex.project)} / {esc(flex.zone)}",
        "_Compute Engine flex-start request_",
        f"{icon} *{flex.state.value}* · {verb} {age}",
        f"{flex.count} hosts{run} in group `{esc(group)}`",
    ]
    if flex.error:
        lines.append(f":x: {esc(clip(flex.error, 500))}")
    elif flex.last_error and flex.state is FlexState.ACCEPTED:
        lines.append(f"_Last attempt: {esc(clip(flex.last_error, 300))}_")
    return SectionBlock(text=_md("\n".join(lines)))


def flex_controls(flex: FlexRequest) -> ActionsBlock | None:
    """Cancel while it waits; Delete & requeue once it failed or was cancelled."""
    buttons: list[ButtonElement] = []
    if flex.state is FlexState.ACCEPTED:
        buttons.append(_button("Cancel", ActionId.QUEUE_CANCEL, f"queue cancel {flex.name}"))
    if flex.state in FLEX_OVER and flex.state is not FlexState.SUCCEEDED:
        buttons.append(requeue_button(f"requeue {flex.name}", flex.id))
    if not buttons:
        return None
    return ActionsBlock(block_id=f"flex:{clip(flex.name, 200)}", elements=buttons)

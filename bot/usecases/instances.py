"""What people do to TPU VM instances: stop, start, delete and label (the same subcommands as for
nodes, dispatched here by the resource's kind), report a host as faulty (the quarantine), and
start pending maintenance. Each is checked (GKE's instances are acted on through GKE; a slice's
hosts through their slice) before anyone is asked, then run now or filed for an approver."""

from __future__ import annotations

from datetime import datetime

from bot.core import messages as m
from bot.core.commands import Verb
from bot.core.commands.compute import MaintenanceStart, ReportFaulty
from bot.core.instances import DOWN, Instance, InstanceStatus
from bot.core.messages import Tone
from bot.core.names import Kind, ResourceName
from bot.core.noderef import UnknownNode
from bot.core.policy import Verdict
from bot.core.records import Approval
from bot.core.text import Code, Said, say
from bot.usecases import capacity, tpus
from bot.usecases.context import Actor, Deps
from bot.usecases.ports import NotFound
from bot.usecases.registry import Outcome, handles, refused
from bot.usecases.requests import request

MAX_LABELS = 64
# What a report says of the host: its accelerator is unusable (compute.v1.json's FaultReason
# behaviors: CHIP_ERROR "Any GPU or TPU errors or faults where the accelerator becomes unusable").
FAULT_BEHAVIOR = "CHIP_ERROR"


def gke_refusal(instance: Instance, action: str) -> Said | None:
    """Why an action on a GKE node's instance is refused, naming where to act instead."""
    gke = instance.gke
    if gke is None:
        return None
    where = f" ({gke.location})" if gke.location else ""
    return say(
        Code(instance.node_id),
        " is a node of GKE cluster ",
        Code(gke.cluster),
        ", node pool ",
        Code(gke.node_pool or "?"),
        f"{where}: GKE replaces what is done to it directly. To {action} it, act on the node ",
        "pool through GKE (",
        Code("gcloud container node-pools"),
        " or ",
        Code("kubectl"),
        "), not on the instance.",
    )


def precheck(action: str, instance: Instance) -> Verdict:
    """Would Compute Engine accept this action on this instance? Said before asking anyone."""
    gke = gke_refusal(instance, action)
    if gke is not None:
        return Verdict(False, gke)
    status = instance.status
    if action in (Verb.STOP, Verb.START) and instance.placement_policy:
        return Verdict(
            False,
            say(
                Code(instance.node_id),
                " is a host of a multi-host slice: its hosts run together, so one is not ",
                f"{action}ped alone. Delete it for its group to replace it, or report its host ",
                "as faulty.",
            ),
        )
    if action == Verb.STOP and status is not InstanceStatus.RUNNING:
        return Verdict(False, f"The instance is {status.value}; stop needs it RUNNING.")
    if action == Verb.START and status not in DOWN:
        return Verdict(False, f"The instance is {status.value}; start needs it TERMINATED.")
    if action == Verb.DELETE and status is InstanceStatus.STOPPING:
        return Verdict(False, "The instance is already stopping or being deleted.")
    if action == Verb.REPORT_FAULTY and status is not InstanceStatus.RUNNING:
        return Verdict(
            False, f"The instance is {status.value}; only a RUNNING VM's host is reported."
        )
    if action == Verb.MAINTENANCE and instance.maintenance is None:
        return Verdict(False, "No maintenance is pending on it: there is nothing to start.")
    return Verdict(True, f"{status.value} allows {action}")


def mutate(
    deps: Deps, actor: Actor, action: str, instance: Instance, reason: str, now: datetime
) -> Outcome:
    """Stop, start or delete an instance (what `/tpu stop|start|delete` runs on one)."""
    verdict = precheck(action, instance)
    if not verdict:
        return refused(verdict.reason, instance.name, action)
    return request(deps, actor, action, instance.name, None, {}, reason, now, instance=instance)


def label(
    deps: Deps,
    actor: Actor,
    instance: Instance,
    changes: tuple[tuple[str, str], ...],
    now: datetime,
) -> Outcome:
    """Set labels on an instance; the fingerprint it was read with is sent, so labels changed
    meanwhile make the API refuse rather than be overwritten."""
    gke = gke_refusal(instance, "label")
    if gke is not None:
        return refused(gke, instance.name, Verb.LABEL)
    labels = dict(instance.labels)
    for key, value in changes:
        if value:
            labels[key] = value
        else:
            labels.pop(key, None)
    if len(labels) > MAX_LABELS:
        many = f"An instance takes at most {MAX_LABELS} labels; this would make {len(labels)}."
        return refused(many, instance.name, Verb.LABEL)
    if labels == dict(instance.labels):
        same = say(Code(instance.node_id), " already has those labels.")
        return Outcome(m.Notice(same, Tone.WARNING), "unchanged", instance.name, same, Verb.LABEL)
    params = {"request": {"labels": labels, "labelFingerprint": instance.label_fingerprint}}
    return request(deps, actor, Verb.LABEL, instance.name, None, params, "", now, instance=instance)


@handles(ReportFaulty)
def report_faulty(deps: Deps, actor: Actor, command: ReportFaulty, now: datetime) -> Outcome:
    """Quarantine a TPU VM whose chips are bad: its host is reported faulty and the VM moves."""
    found = tpus.resolve_tpu(deps, command.node.text)
    if not isinstance(found, Instance):
        why = say(
            Code(found.node_id),
            " is a Cloud TPU API node: its host cannot be reported from here. Recreate it, or ",
            "move the work to a TPU VM instance.",
        )
        return refused(why, found.name, Verb.REPORT_FAULTY)
    verdict = precheck(Verb.REPORT_FAULTY, found)
    if not verdict:
        return refused(verdict.reason, found.name, Verb.REPORT_FAULTY)
    body = {
        "disruptionSchedule": "IMMEDIATE",
        "faultReasons": [{"behavior": FAULT_BEHAVIOR, "description": command.reason}],
    }
    return request(
        deps,
        actor,
        Verb.REPORT_FAULTY,
        found.name,
        None,
        {"request": body},
        command.reason,
        now,
        instance=found,
    )


@handles(MaintenanceStart)
def maintenance_start(
    deps: Deps, actor: Actor, command: MaintenanceStart, now: datetime
) -> Outcome:
    """Start pending maintenance now, on an instance or on a reservation sub-block."""
    if command.full and ResourceName.parse(command.full).kind == Kind.SUB_BLOCK:
        return capacity.sub_block_maintenance(deps, actor, command.target, command.full, now)
    try:
        found = tpus.resolve_tpu(deps, command.target.text)
    except UnknownNode:
        # Not a TPU by that name: a reservation sub-block's, maybe (else the TPUs' candidates).
        return capacity.sub_block_maintenance(deps, actor, command.target, "", now)
    if not isinstance(found, Instance):
        why = say(
            Code(found.node_id), " is a Cloud TPU API node: its maintenance is Google's to start."
        )
        return refused(why, found.name, Verb.MAINTENANCE)
    verdict = precheck(Verb.MAINTENANCE, found)
    if not verdict:
        return refused(verdict.reason, found.name, Verb.MAINTENANCE)
    return request(deps, actor, Verb.MAINTENANCE, found.name, None, {}, "", now, instance=found)


def recheck(deps: Deps, approval: Approval) -> Verdict:
    """Before an approved action on an instance runs: is it still as the requester saw it?"""
    try:
        current = tpus.compute(deps).get_instance(approval.target)
    except NotFound:
        return Verdict(False, "The instance no longer exists.")
    if approval.node_create_time is not None and current.create_time != approval.node_create_time:
        return Verdict(False, "The instance was deleted and created again since the request.")
    if approval.node_state and current.status.value != approval.node_state:
        return Verdict(
            False,
            f"The instance was {approval.node_state} when requested and is "
            f"{current.status.value} now.",
        )
    return precheck(approval.action, current)


def zonal_recheck(deps: Deps, approval: Approval) -> Verdict:
    """Before an approved action on what lives under `zones/` runs: is it still as it was?"""
    kind = ResourceName.parse(approval.target).kind
    if kind == Kind.INSTANCE:
        return recheck(deps, approval)
    if kind == Kind.RESIZE_REQUEST:
        return capacity.flex_recheck(deps, approval)
    if kind == Kind.SUB_BLOCK:
        return capacity.sub_block_recheck(deps, approval)
    return Verdict(False, f"The bot does not act on {kind}.")

"""What people do to an alert: acknowledge it, mute it, or recreate a preempted node."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy
from bot.core.commands import Verb
from bot.core.messages import Tone
from bot.core.records import Incident, IncidentStatus
from bot.usecases import actions
from bot.usecases.context import Actor, Deps

MUTE_FOR = timedelta(hours=1)


def _open_incident(deps: Deps, incident_id: str) -> Incident | m.Message:
    incident = deps.watch.incident(incident_id)
    if incident is None:
        return m.Notice("There is no such alert.", Tone.ERROR)
    if incident.status != IncidentStatus.OPEN:
        return m.Notice("This alert is already resolved.", Tone.WARNING)
    return incident


def _redraw(deps: Deps, incident: Incident, now: datetime, **values: object) -> Incident:
    updated = replace(incident, **values)  # type: ignore[arg-type]
    with deps.watch.begin() as conn:
        deps.watch.update_incident(conn, incident.id, **values)
        if incident.root_outbox is not None and not incident.digest_id:
            deps.outbox.update(
                conn,
                incident.channel,
                m.IncidentRoot(updated, now),
                now=now,
                target_outbox=incident.root_outbox,
            )
    return updated


def acknowledge(deps: Deps, actor: Actor, command: cmd.Acknowledge, now: datetime) -> m.Message:
    found = _open_incident(deps, command.incident_id)
    if not isinstance(found, Incident):
        deps.audit(now, actor.user, "acknowledge", command.incident_id, "no open alert")
        return found
    _redraw(deps, found, now, acked_by=actor.user)
    deps.audit(now, actor.user, "acknowledge", found.node, "ok")
    return m.Notice(f"Acknowledged `{found.node}`; the alert now shows it is yours.", Tone.SUCCESS)


def mute(deps: Deps, actor: Actor, command: cmd.Mute, now: datetime) -> m.Message:
    found = _open_incident(deps, command.incident_id)
    if not isinstance(found, Incident):
        deps.audit(now, actor.user, "mute", command.incident_id, "no open alert")
        return found
    until = now + MUTE_FOR
    _redraw(deps, found, now, muted_until=until)
    deps.audit(now, actor.user, "mute", found.node, "ok", f"until {until.isoformat()}")
    return m.Notice(
        f"Muted `{found.node}` for {int(MUTE_FOR.total_seconds() // 3600)} h: "
        "no more posts about it until then.",
        Tone.SUCCESS,
    )


def recreate(deps: Deps, actor: Actor, command: cmd.Recreate, now: datetime) -> m.Message | None:
    """Delete and create the same node again, through the approval flow."""
    node = deps.tpu.resolve(command.node.text, deps.scopes)
    check = policy.precheck(Verb.RECREATE, node)
    if not check:
        deps.audit(now, actor.user, Verb.RECREATE, node.name, "refused", check.reason)
        return m.Notice(check.reason, Tone.ERROR)
    params = {"spec": node.spec.as_dict()}
    reason = f"recreate after {node.state.value.lower()}"
    return actions.request(deps, actor, Verb.RECREATE, node.name, node, params, reason, now)

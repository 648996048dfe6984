"""What people do to an alert: acknowledge it, mute it, or recreate a preempted node."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.core import messages as m
from bot.core import policy
from bot.core.models import Incident
from bot.core.noderef import NodeRefError, parse_ref
from bot.core.policy import Role
from bot.tpu.client import TpuError
from bot.usecases import actions
from bot.usecases.ports import Actor, Deps

MUTE_FOR = timedelta(hours=1)


def _open_incident(
    deps: Deps, actor: Actor, incident_id: str, what: str, now: datetime
) -> Incident | m.Message:
    verdict = policy.authorize(actor.role, Role.OPERATOR, what)
    if not verdict:
        deps.audit(now, actor.user, what, incident_id, "refused", verdict.reason)
        return m.Refusal(verdict.reason)
    incident = deps.watch.incident(incident_id)
    if incident is None:
        return m.Notice("There is no such alert.", "error")
    if incident.status != "open":
        return m.Notice("This alert is already resolved.", "warning")
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


def acknowledge(deps: Deps, actor: Actor, incident_id: str, now: datetime) -> m.Message:
    found = _open_incident(deps, actor, incident_id, "acknowledge alerts", now)
    if not isinstance(found, Incident):
        return found
    _redraw(deps, found, now, acked_by=actor.user)
    deps.audit(now, actor.user, "acknowledge", found.node, "ok")
    return m.Notice(f"Acknowledged `{found.node}`; the alert now shows it is yours.", "success")


def mute(deps: Deps, actor: Actor, incident_id: str, now: datetime) -> m.Message:
    found = _open_incident(deps, actor, incident_id, "mute alerts", now)
    if not isinstance(found, Incident):
        return found
    until = now + MUTE_FOR
    _redraw(deps, found, now, muted_until=until)
    deps.audit(now, actor.user, "mute", found.node, "ok", f"until {until.isoformat()}")
    return m.Notice(
        f"Muted `{found.node}` for {int(MUTE_FOR.total_seconds() // 3600)} h: "
        "no more posts about it until then.",
        "success",
    )


def recreate(deps: Deps, actor: Actor, value: str, now: datetime) -> m.Message | None:
    """Delete and create the same node again, through the approval flow."""
    verdict = policy.authorize(actor.role, Role.OPERATOR, "recreate nodes")
    if not verdict:
        deps.audit(now, actor.user, "recreate", value[:200], "refused", verdict.reason)
        return m.Refusal(verdict.reason)
    try:
        node = deps.tpu.resolve(parse_ref(value).text, deps.scopes)
    except NodeRefError as exc:
        return m.NodeCandidates(exc.message, exc.candidates, "get")
    except TpuError as exc:
        return m.Notice(f"The TPU API refused: {exc.message}", "error")
    check = policy.precheck("recreate", node)
    if not check:
        deps.audit(now, actor.user, "recreate", node.name, "refused", check.reason)
        return m.Notice(check.reason, "error")
    params = {"spec": node.spec.to_api()}
    reason = f"recreate after {node.state.value.lower()}"
    return actions.request(deps, actor, "recreate", node.name, node, params, reason, now)

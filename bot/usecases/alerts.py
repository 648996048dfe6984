"""What people do to an alert: acknowledge it, mute it, or recreate a preempted node."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core import policy
from bot.core.commands import Verb
from bot.core.messages import Tone
from bot.core.records import Digest, Incident, IncidentStatus
from bot.usecases import actions
from bot.usecases.context import Actor, Deps
from bot.usecases.incidents import change_digest, change_incident

MUTE_FOR = timedelta(hours=1)


def _open_alert(deps: Deps, alert_id: str) -> Incident | Digest | m.Notice:
    """The open incident or storm digest an Acknowledge/Mute button names."""
    found: Incident | Digest | None = deps.watch.incident(alert_id) or deps.watch.digest(alert_id)
    if found is None:
        return m.Notice("There is no such alert.", Tone.ERROR)
    if found.status != IncidentStatus.OPEN:
        return m.Notice("This alert is already resolved.", Tone.WARNING)
    return found


def _change(deps: Deps, alert: Incident | Digest, now: datetime, **values: object) -> str:
    """Store and redraw; what the alert is about, for the answer and the audit log."""
    with deps.watch.begin() as conn:
        if isinstance(alert, Digest):
            change_digest(deps, conn, alert, now, **values)
            return f"{alert.zone} storm"
        change_incident(deps, conn, alert, now, **values)
        return alert.node


def acknowledge(deps: Deps, actor: Actor, command: cmd.Acknowledge, now: datetime) -> m.Message:
    found = _open_alert(deps, command.incident_id)
    if isinstance(found, m.Notice):
        deps.audit(now, actor.user, "acknowledge", command.incident_id, "no open alert")
        return found
    what = _change(deps, found, now, acked_by=actor.user)
    deps.audit(now, actor.user, "acknowledge", what, "ok")
    return m.Notice(f"Acknowledged `{what}`; the alert now shows it is yours.", Tone.SUCCESS)


def mute(deps: Deps, actor: Actor, command: cmd.Mute, now: datetime) -> m.Message:
    found = _open_alert(deps, command.incident_id)
    if isinstance(found, m.Notice):
        deps.audit(now, actor.user, "mute", command.incident_id, "no open alert")
        return found
    until = now + MUTE_FOR
    what = _change(deps, found, now, muted_until=until)
    deps.audit(now, actor.user, "mute", what, "ok", f"until {until.isoformat()}")
    return m.Notice(
        f"Muted `{what}` for {int(MUTE_FOR.total_seconds() // 3600)} h: "
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

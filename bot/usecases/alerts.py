"""What people do to an alert: acknowledge it, or mute it."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core import commands as cmd
from bot.core import messages as m
from bot.core.messages import Tone
from bot.core.records import Digest, Incident, IncidentStatus
from bot.core.text import Code, say
from bot.usecases.context import Actor, Deps
from bot.usecases.incidents import change_digest, change_incident
from bot.usecases.registry import Outcome, handles

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


@handles(cmd.Acknowledge)
def acknowledge(deps: Deps, actor: Actor, command: cmd.Acknowledge, now: datetime) -> Outcome:
    found = _open_alert(deps, command.incident_id)
    if isinstance(found, m.Notice):
        return Outcome(found, "no open alert", command.incident_id, action="acknowledge")
    what = _change(deps, found, now, acked_by=actor.user)
    said = say("Acknowledged ", Code(what), "; the alert now shows it is yours.")
    return Outcome(m.Notice(said, Tone.SUCCESS), "ok", what, action="acknowledge")


@handles(cmd.Mute)
def mute(deps: Deps, actor: Actor, command: cmd.Mute, now: datetime) -> Outcome:
    found = _open_alert(deps, command.incident_id)
    if isinstance(found, m.Notice):
        return Outcome(found, "no open alert", command.incident_id, action="mute")
    until = now + MUTE_FOR
    what = _change(deps, found, now, muted_until=until)
    hours = int(MUTE_FOR.total_seconds() // 3600)
    said = say("Muted ", Code(what), f" for {hours} h: no more posts about it until then.")
    detail = f"until {until.isoformat()}"
    return Outcome(m.Notice(said, Tone.SUCCESS), "ok", what, detail, "mute")

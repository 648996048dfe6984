"""Incidents and storm digests in the store, and their root messages redrawn from their current
state (open, acknowledged, muted, partly or wholly resolved, how the node is now): in the outbox,
in the caller's transaction. Used by the watcher and by what people do to an alert."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.core import messages as m
from bot.core.records import Digest, Incident, IncidentStatus
from bot.usecases.context import Deps


def redraw_incident(deps: Deps, conn: Any, incident: Incident, now: datetime) -> None:
    """An incident's own root (a digest member's story is its digest's root)."""
    if incident.root_outbox is None or incident.digest_id:
        return
    deps.outbox.update(conn, incident.root, m.IncidentRoot(incident, now), now=now)


def change_incident(
    deps: Deps, conn: Any, incident: Incident, now: datetime, **values: Any
) -> Incident:
    """Store the change and redraw the root to match."""
    updated = replace(incident, **values)
    deps.watch.update_incident(conn, incident.id, **values)
    redraw_incident(deps, conn, updated, now)
    return updated


def redraw_digest(deps: Deps, conn: Any, digest_id: str, now: datetime) -> Digest | None:
    """Redraw a storm's root from its members; resolve it when the last of them is resolved."""
    digest = deps.watch.digest(digest_id, conn=conn)
    if digest is None:
        return None
    members = deps.watch.incidents_of_digest(digest_id, conn=conn)
    if digest.status == IncidentStatus.OPEN and all(
        i.status == IncidentStatus.RESOLVED for i in members
    ):
        deps.watch.update_digest(conn, digest_id, status=IncidentStatus.RESOLVED, resolved_at=now)
        digest = replace(digest, status=IncidentStatus.RESOLVED, resolved_at=now)
    if digest.root_outbox is not None:
        deps.outbox.update(conn, digest.root, m.DigestRoot(digest, tuple(members), now), now=now)
    return digest


def change_digest(deps: Deps, conn: Any, digest: Digest, now: datetime, **values: Any) -> None:
    """Acknowledge or mute a storm: the digest and every node still in it."""
    deps.watch.update_digest(conn, digest.id, **values)
    for member in deps.watch.incidents_of_digest(digest.id, conn=conn):
        if member.status == IncidentStatus.OPEN:
            deps.watch.update_incident(conn, member.id, **values)
    redraw_digest(deps, conn, digest.id, now)

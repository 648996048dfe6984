"""Pure: the one scope check. The bot reads and acts only on the projects and zones the config
lists (`projects[].locations`); every reference typed, clicked or carried by an approval is held
to it, and so is every listing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core.models import ProjectScope
from bot.core.names import ResourceName
from bot.core.noderef import UnknownNode
from bot.core.text import Code, Said, say


class OutOfScope(UnknownNode):
    """A project or zone the bot does not manage; the message says which it does. To a person,
    such a TPU is one the bot does not know (an UnknownNode, without candidates)."""


def covers(scope: ProjectScope, zone: str) -> bool:
    return "-" in scope.locations or zone in scope.locations


def problem(project: str | None, zone: str | None, scopes: Sequence[ProjectScope]) -> Said | None:
    """Why `project`/`zone` is out of scope (None: within it). Either may be unknown yet (None):
    a zone alone must be managed in some project."""
    managed = ", ".join(sorted(s.project for s in scopes)) or "none"
    if project is not None:
        scope = next((s for s in scopes if s.project == project), None)
        if scope is None:
            return say("Project ", Code(project), f" is not one this bot manages ({managed}).")
        if zone is not None and not covers(scope, zone):
            zones = ", ".join(scope.locations)
            return f"The bot does not manage {zone} in {project} (only {zones})."
        return None
    if zone is not None and not any(covers(s, zone) for s in scopes):
        return f"The bot manages no project in {zone}."
    return None


def require(project: str | None, zone: str | None, scopes: Sequence[ProjectScope]) -> None:
    """Raise OutOfScope (what the bot manages instead) unless within scope."""
    why = problem(project, zone, scopes)
    if why is not None:
        raise OutOfScope(why)


def require_name(name: str, scopes: Sequence[ProjectScope]) -> None:
    """A full resource name (`projects/P/locations/Z/...`) must be within scope."""
    try:
        parsed = ResourceName.parse(name)
    except ValueError:
        raise OutOfScope(say(Code(name), " is not a resource the bot manages.")) from None
    require(parsed.project, parsed.zone, scopes)


# A VPC network, as the TPU API takes it: an id in the node's own project, or a full path.
_NETWORK_ID = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_NETWORK_PATH = re.compile(
    r"^(?:https://www\.googleapis\.com/compute/v1/)?projects/([^/]+)/global/networks/([^/]+)$"
)


def network_problem(network: str, project: str, allowed: Sequence[str] = ()) -> Said | None:
    """Why a node of `project` may not be created on `network` (None: it may). A network of
    another project (a shared VPC) only when `projects[].networks` lists it."""
    if not network or _NETWORK_ID.match(network):
        return None
    match = _NETWORK_PATH.match(network)
    if match is None:
        return say(
            Code(network),
            " is not a network: give its name (like ",
            Code("default"),
            ") or ",
            Code("projects/P/global/networks/N"),
            ".",
        )
    owner, name = match.groups()
    if not _NETWORK_ID.match(name):
        return say(Code(name), " is not a network name.")
    if owner == project:
        return None
    path = f"projects/{owner}/global/networks/{name}"
    if path in allowed or network in allowed:
        return None
    return say(
        "Network ",
        Code(name),
        " belongs to project ",
        Code(owner),
        f"; the bot creates {project}'s TPUs only on {project}'s networks, or on one an admin ",
        "lists in ",
        Code("projects[].networks"),
        ".",
    )

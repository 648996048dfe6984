"""views.publish: a person's Home tab, one view each, checked as Slack checks it."""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING

from localslack.base import APP_ID, TEAM_ID, Json, SlackError, validate_blocks
from localslack.blockkit import Surface
from localslack.rules import RULES, Rule

if TYPE_CHECKING:
    from localslack.workspace import Workspace

VIEW_BYTES = 250_000  # view_too_large: "greater than 250kb" (views.publish reference)


def _view_of(args: Json) -> Json:
    raw = args.get("view")
    if isinstance(raw, str):
        if len(raw.encode()) > VIEW_BYTES:
            raise SlackError("view_too_large")
        try:
            raw = json.loads(raw)
        except ValueError:
            raise SlackError("invalid_arguments", extra=_why("invalid `view`")) from None
    if not isinstance(raw, dict) or raw.get("type") != "home":
        raise SlackError("invalid_arguments", extra=_why("view.type must be home"))
    if len(json.dumps(raw).encode()) > VIEW_BYTES:
        raise SlackError("view_too_large")
    return raw


def _why(text: str) -> Json:
    return {"response_metadata": {"messages": [text]}}


def publish(ws: Workspace, args: Json) -> Json:
    """Create or replace `user_id`'s Home tab; `hash`, if given, must be the current one."""
    user = str(args.get("user_id") or "")
    if user not in ws.users:
        raise SlackError(RULES[Rule.VIEWS_PUBLISH_USER].error, extra=_why("invalid `user_id`"))
    view = _view_of(args)
    validate_blocks(view.get("blocks") or [], Surface.HOME)
    current = ws.homes.get(user)
    if args.get("hash") and (current is None or args["hash"] != current["hash"]):
        raise SlackError(RULES[Rule.VIEWS_PUBLISH_HASH].error)
    view_id = current["id"] if current else "V" + secrets.token_hex(5).upper()
    published: Json = {
        "id": view_id,
        "team_id": TEAM_ID,
        "type": "home",
        "blocks": list(view.get("blocks") or []),
        "private_metadata": str(view.get("private_metadata") or ""),
        "callback_id": str(view.get("callback_id") or ""),
        "external_id": str(view.get("external_id") or ""),
        "state": {"values": {}},
        "hash": f"{ws.now():.6f}.{secrets.token_hex(4)}",
        "clear_on_close": False,
        "notify_on_close": False,
        "root_view_id": view_id,
        "previous_view_id": None,
        "app_id": APP_ID,
        "app_installed_team_id": TEAM_ID,
        "bot_id": "B0TPUBOT",
    }
    ws.homes[user] = published
    return {"view": published}

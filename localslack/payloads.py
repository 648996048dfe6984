"""What Slack sends an app: slash commands, block_actions from a message or a Home tab, and
Events API envelopes (app_home_opened), shaped as Slack shapes them."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from localslack.base import APP_ID, BOT_USER, TEAM_ID, Json, Message

if TYPE_CHECKING:
    from localslack.workspace import Workspace

TOKEN = "verification-token-unused"  # Slack still sends the deprecated verification token


def slash(
    ws: Workspace, user: str, channel: str, command: str, text: str, response_url: str
) -> dict[str, str]:
    return {
        "token": TOKEN,
        "team_id": TEAM_ID,
        "team_domain": "local",
        "channel_id": channel,
        "channel_name": ws.channels.get(channel, "unknown"),
        "user_id": user,
        "user_name": ws.users.get(user, user),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": secrets.token_hex(8),
    }


def find_element(blocks: list[Json], action_id: str) -> tuple[str, Json]:
    """The block_id and the element of `blocks` with this action_id."""
    for block in blocks:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if element.get("action_id") == action_id:
                return str(block.get("block_id", "")), element
    raise LookupError(f"no element {action_id!r}")


def action(
    block_id: str, element: Json, now: float, value: str | None, selected: str | None
) -> Json:
    """One entry of `actions`: a button's value and text, or the option picked."""
    found: Json = {
        "action_id": element.get("action_id"),
        "block_id": block_id,
        "type": element.get("type", "button"),
        "action_ts": f"{now:.6f}",
    }
    if selected is not None:
        found["selected_option"] = next(
            (o for o in element.get("options", []) if o["value"] == selected),
            {"text": {"type": "plain_text", "text": selected}, "value": selected},
        )
    else:
        found["value"] = value if value is not None else element.get("value", "")
        found["text"] = element.get("text")
    return found


def _clicker(ws: Workspace, user: str) -> Json:
    name = ws.users.get(user, user)
    return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}


def _block_actions(ws: Workspace, user: str, container: Json, acted: Json) -> Json:
    return {
        "type": "block_actions",
        "user": _clicker(ws, user),
        "api_app_id": APP_ID,
        "token": TOKEN,
        "container": container,
        "trigger_id": secrets.token_hex(8),
        "team": {"id": TEAM_ID, "domain": "local"},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [acted],
    }


def message_click(
    ws: Workspace, user: str, message: Message, acted: Json, response_url: str
) -> Json:
    """A click in a message. On an ephemeral one Slack sends no `message` (the app never had
    it): the container says `is_ephemeral`."""
    ephemeral = message.ephemeral_for is not None
    container = {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": message.channel,
        "is_ephemeral": ephemeral,
    }
    payload = _block_actions(ws, user, container, acted)
    payload["channel"] = {"id": message.channel, "name": ws.channels.get(message.channel, "")}
    if not ephemeral:
        payload["message"] = message.to_json()
    payload["response_url"] = response_url
    return payload


def view_click(ws: Workspace, user: str, view: Json, acted: Json) -> Json:
    """A click in a Home tab: the view instead of a message, and no channel nor response_url."""
    payload = _block_actions(ws, user, {"type": "view", "view_id": view["id"]}, acted)
    payload["view"] = view
    return payload


def dm_channel(user: str) -> str:
    """The app's direct-message channel with `user` (its App Home)."""
    return "D" + user.removeprefix("U")


def app_home_opened(ws: Workspace, user: str, now: float) -> Json:
    """The Events API envelope of a person opening the Home tab; `view` only once one was
    published for them."""
    event: Json = {
        "type": "app_home_opened",
        "user": user,
        "channel": dm_channel(user),
        "tab": "home",
        "event_ts": f"{now:.6f}",
    }
    view = ws.home(user)
    if view is not None:
        event["view"] = view
    return {
        "token": TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }

"""conversations.info, .history and .replies, and usergroups.list, as Slack answers them."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from localslack.base import Json, Message, SlackError

if TYPE_CHECKING:
    from localslack.workspace import Workspace


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def _ts(value: Any, default: float) -> float:
    if value in (None, ""):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SlackError("invalid_ts_oldest") from None


def _limit(args: Json) -> int:
    try:
        limit = int(args.get("limit") or 100)
    except (TypeError, ValueError):
        raise SlackError("invalid_limit") from None
    return max(1, min(limit, 999))


def _in_window(messages: list[Message], args: Json) -> list[Message]:
    oldest, latest = _ts(args.get("oldest"), 0.0), _ts(args.get("latest"), float("inf"))
    inclusive = _flag(args.get("inclusive"))

    def inside(m: Message) -> bool:
        ts = float(m.ts)
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    return [m for m in messages if inside(m)]


def _page(messages: list[Message], args: Json) -> Json:
    """One page of `messages` (already in answer order) after the cursor."""
    start = 0
    cursor = str(args.get("cursor") or "")
    if cursor:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)[1])
        except (ValueError, IndexError):
            raise SlackError("invalid_cursor") from None
    limit = _limit(args)
    page = messages[start : start + limit]
    more = start + limit < len(messages)
    with_metadata = _flag(args.get("include_all_metadata"))
    body: Json = {
        "messages": [m.to_json(with_metadata) for m in page],
        "has_more": more,
        "pin_count": 0,
    }
    next_cursor = base64.urlsafe_b64encode(f"next:{start + limit}".encode()).decode()
    body["response_metadata"] = {"next_cursor": next_cursor if more else ""}
    return body


def _visible(ws: Workspace, channel: str) -> list[Message]:
    return [m for m in ws.snapshot(channel) if m.ephemeral_for is None]


def history(ws: Workspace, args: Json) -> Json:
    """A channel's messages, newest first; thread replies stay in their threads."""
    channel = ws.readable_channel(args, "history")
    top = [m for m in _visible(ws, channel) if not m.thread_ts or m.thread_ts == m.ts]
    top.sort(key=lambda m: float(m.ts), reverse=True)
    return _page(_in_window(top, args), args)


def replies(ws: Workspace, args: Json) -> Json:
    """A thread, oldest first, its parent first of all."""
    channel = ws.readable_channel(args, "history")
    parent_ts = str(args.get("ts") or "")
    if not parent_ts:
        raise SlackError("invalid_arguments")
    visible = _visible(ws, channel)
    parent = next((m for m in visible if m.ts == parent_ts), None)
    if parent is None:
        raise SlackError("thread_not_found")
    rest = sorted(
        (m for m in visible if m.thread_ts == parent_ts and m is not parent),
        key=lambda m: float(m.ts),
    )
    return _page([parent, *_in_window(rest, args)], args)


def info(ws: Workspace, args: Json) -> Json:
    channel = ws.readable_channel(args, "read", need_member=False)
    private = channel in ws.private
    return {
        "channel": {
            "id": channel,
            "name": ws.channels[channel],
            "is_channel": not private,
            "is_group": private,
            "is_private": private,
            "is_archived": False,
            "is_member": channel in ws.members,
        }
    }


def usergroups_list(ws: Workspace, args: Json) -> Json:
    with_users = _flag(args.get("include_users"))
    groups = []
    for group_id, users in sorted(ws.usergroups.items()):
        group: Json = {"id": group_id, "handle": group_id.lower(), "is_usergroup": True}
        if with_users:
            group["users"] = list(users)
        group["user_count"] = len(users)
        groups.append(group)
    return {"usergroups": groups}

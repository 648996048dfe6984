"""chat.postMessage, .update, .postEphemeral and .delete, as Slack answers them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localslack.base import BOT_USER, Json, SlackError, content, metadata_of
from localslack.rules import RULES, Rule

if TYPE_CHECKING:
    from localslack.workspace import Workspace


def post_message(ws: Workspace, args: Json) -> Json:
    channel = ws.channel_of(args)
    if channel not in ws.members and not (
        "chat:write.public" in ws.scopes and channel not in ws.private
    ):
        raise SlackError("not_in_channel")
    text, blocks = content(args)
    metadata = metadata_of(args)
    thread_ts = args.get("thread_ts") or None
    if thread_ts and ws.find(channel, str(thread_ts)) is None:
        raise SlackError("thread_not_found")
    message = ws.post(channel, BOT_USER, text, blocks, thread_ts=thread_ts, metadata=metadata)
    return {"channel": channel, "ts": message.ts, "message": message.to_json(True)}


def update(ws: Workspace, args: Json) -> Json:
    channel = ws.channel_of(args)
    message = ws.find(channel, str(args.get("ts", "")))
    if message is None or message.deleted:
        raise SlackError("message_not_found")
    if message.user != BOT_USER:
        raise SlackError("cant_update_message")
    text, blocks = content(args)
    metadata = metadata_of(args)
    message.text, message.blocks = text, blocks
    if metadata is not None:
        message.metadata = metadata
    message.edited += 1
    return {"channel": channel, "ts": message.ts, "text": text}


def post_ephemeral(ws: Workspace, args: Json) -> Json:
    """Only `user` sees it. The bot must be in the channel (chat:write.public does not help
    here), and so must the person."""
    channel = ws.channel_of(args)
    if channel not in ws.members:
        private = channel in ws.private
        rule = Rule.EPHEMERAL_BOT_NOT_IN_PRIVATE if private else Rule.EPHEMERAL_BOT_NOT_IN_PUBLIC
        raise SlackError(RULES[rule].error)
    target = str(args.get("user") or "")
    if not ws.is_in(target, channel):
        raise SlackError(RULES[Rule.EPHEMERAL_USER_NOT_IN_CHANNEL].error)
    text, blocks = content(args)
    message = ws.post(channel, BOT_USER, text, blocks, ephemeral_for=target)
    return {"message_ts": message.ts}


def delete(ws: Workspace, args: Json) -> Json:
    channel = ws.channel_of(args)
    message = ws.find(channel, str(args.get("ts", "")))
    if message is None or message.deleted:
        raise SlackError("message_not_found")
    message.deleted = True
    return {"channel": channel, "ts": message.ts}

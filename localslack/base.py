"""What the workspace is made of: tokens, messages, recorded calls, the errors Slack answers, the
checks Slack makes on content (Block Kit's in blockkit.py), and the scope each method needs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from localslack.blockkit import Surface, block_problems

BOT_TOKEN = "xoxb-local-bot-token"
APP_TOKEN = "xapp-local-app-token"
SIGNING_SECRET = "local-signing-secret"
TEAM_ID = "T0LOCAL"
APP_ID = "A0TPUBOT"
BOT_USER = "U0BOT"

Json = dict[str, Any]

# What app_manifest.yaml grants today; a workspace grants this unless told otherwise.
DEFAULT_SCOPES = frozenset({"commands", "chat:write", "usergroups:read"})

# The scopes a method needs, as Slack lists them in `needed` (any one of them will do for the
# method; conversations.* also need the one for the channel's kind, public or private).
NEEDS: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.delete": ("chat:write",),
    "users.info": ("users:read",),
    "usergroups.users.list": ("usergroups:read",),
    "usergroups.list": ("usergroups:read",),
    "conversations.info": ("channels:read", "groups:read", "mpim:read", "im:read"),
    "conversations.history": ("channels:history", "groups:history", "mpim:history", "im:history"),
    "conversations.replies": ("channels:history", "groups:history", "mpim:history", "im:history"),
}


class SlackError(Exception):
    """An `ok: false` answer, or an HTTP error status with Retry-After; `extra` goes in the body."""

    def __init__(
        self,
        error: str,
        status: int = 200,
        retry_after: int | None = None,
        extra: Json | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.retry_after = retry_after
        self.extra = extra or {}


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str
    blocks: list[Json] = field(default_factory=list)
    thread_ts: str | None = None
    edited: int = 0
    deleted: bool = False
    ephemeral_for: str | None = None  # a user id: only they see it
    via: str = "api"  # api, response_url, or the person who typed it
    metadata: Json | None = None  # {event_type, event_payload}, as the poster gave it

    def to_json(self, with_metadata: bool = False) -> Json:
        data: Json = {
            "type": "message",
            "channel": self.channel,
            "ts": self.ts,
            "user": self.user,
            "text": self.text,
            "blocks": self.blocks,
        }
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.edited:
            data["edited"] = {"user": self.user, "count": self.edited}
        if self.ephemeral_for:
            data["ephemeral_for"] = self.ephemeral_for
        if self.deleted:
            data["deleted"] = True
        if with_metadata and self.metadata is not None:
            data["metadata"] = self.metadata
        return data


@dataclass
class Call:
    method: str
    args: Json
    ok: bool
    error: str = ""
    at: float = 0.0
    channel: str = ""
    ts: str = ""
    thread_ts: str = ""


def validate_blocks(blocks: Any, surface: Surface = Surface.MESSAGE) -> None:
    """Refuse what Slack refuses with `invalid_blocks`, its reasons in `errors`."""
    if blocks is None:
        return
    errors = block_problems(blocks, surface)
    if errors:
        messages = [f"[ERROR] {e}" for e in errors]
        raise SlackError(
            "invalid_blocks", extra={"errors": errors, "response_metadata": {"messages": messages}}
        )


def content(args: Json) -> tuple[str, list[Json]]:
    """The text and blocks of a post or update, refused as Slack refuses them."""
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            raise SlackError("invalid_blocks_format") from None
    validate_blocks(blocks)
    text = str(args.get("text") or "")
    if not text and not blocks:
        raise SlackError("no_text")
    if len(text) > 40000:
        raise SlackError("msg_too_long")
    return text, list(blocks or [])


def metadata_of(args: Json) -> Json | None:
    """`metadata` of a post or update (an object or its JSON text); Slack's error if malformed."""
    raw = args.get("metadata")
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise SlackError("invalid_metadata_format") from None
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("event_type"), str)
        or not raw["event_type"]
        or not isinstance(raw.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_schema")
    return {"event_type": raw["event_type"], "event_payload": raw["event_payload"]}

"""A local Slack workspace: channels, users, user groups, messages, and the Web API methods on them.

It answers as Slack does (`{"ok": false, "error": ...}`), refuses what Slack refuses (a scope the
token was not granted, a channel the bot was not invited to), records every call, and can be told
to answer 429 or 5xx for a while.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localslack import chat, conversations, responses, views
from localslack.base import (
    APP_ID,
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER,
    DEFAULT_SCOPES,
    NEEDS,
    SIGNING_SECRET,
    TEAM_ID,
    Call,
    Json,
    Message,
    SlackError,
    validate_blocks,
)

__all__ = [
    "APP_ID",
    "APP_TOKEN",
    "BOT_TOKEN",
    "BOT_USER",
    "DEFAULT_SCOPES",
    "SIGNING_SECRET",
    "TEAM_ID",
    "Call",
    "Json",
    "Message",
    "SlackError",
    "Workspace",
    "validate_blocks",
]


@dataclass
class _Fault:
    remaining: int
    status: int
    retry_after: int = 1
    methods: tuple[str, ...] = ()
    after_apply: bool = False  # the call takes effect, then the answer is lost


class Workspace:
    """State of the local workspace; every public method is thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.changed = threading.Condition(self._lock)
        self.channels: dict[str, str] = {}
        self.private: set[str] = set()  # private channels (Slack's groups)
        self.members: set[str] = set()  # channels the bot was invited to
        self.people: dict[str, set[str]] = {}  # channel -> the people in it
        self.scopes: set[str] = set(DEFAULT_SCOPES)  # what the bot token was granted
        self.users: dict[str, str] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.messages: list[Message] = []
        self.calls: list[Call] = []
        self.responses: dict[str, responses.Target] = {}  # response_url token -> its target
        self.homes: dict[str, Json] = {}  # user -> the Home tab view published for them
        self._faults: list[_Fault] = []
        self._seq = itertools.count(1)
        self.version = 0
        self.add_channel("C0ALERTS", "tpu-alerts")
        self.add_channel("C0ONCALL", "tpu-oncall")
        self.add_channel("C0GENERAL", "general")

    # ----- setup -----------------------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        member: bool = True,
        private: bool = False,
        people: tuple[str, ...] | None = None,
    ) -> None:
        """A channel; the bot is in it unless `member=False`. Its people: `people`, else everyone
        known so far for a public channel and nobody for a private one."""
        with self._lock:
            self.channels[channel_id] = name
            (self.private.add if private else self.private.discard)(channel_id)
            self.set_member(channel_id, member)
            everyone = () if private else tuple(self.users)
            self.people[channel_id] = set(everyone if people is None else people)

    def set_member(self, channel_id: str, member: bool) -> None:
        """Invite the bot to a channel (`/invite @tpu-bot`) or remove it."""
        with self._lock:
            (self.members.add if member else self.members.discard)(channel_id)

    def grant(self, *scopes: str, only: bool = False) -> None:
        """Grant the bot token these scopes too (`only=True`: these and nothing else)."""
        with self._lock:
            if only:
                self.scopes.clear()
            self.scopes.update(scopes)

    def revoke(self, *scopes: str) -> None:
        with self._lock:
            self.scopes.difference_update(scopes)

    def add_user(
        self,
        user_id: str,
        name: str,
        groups: tuple[str, ...] = (),
        channels: tuple[str, ...] | None = None,
    ) -> None:
        """A person, in `channels` (default: every public channel there is now)."""
        with self._lock:
            self.users[user_id] = name
            for group in groups:
                self.usergroups.setdefault(group, []).append(user_id)
            public = [c for c in self.channels if c not in self.private]
            for channel in public if channels is None else channels:
                self.join(user_id, channel)

    def join(self, user_id: str, channel_id: str) -> None:
        with self._lock:
            self.people.setdefault(channel_id, set()).add(user_id)

    def leave(self, user_id: str, channel_id: str) -> None:
        with self._lock:
            self.people.get(channel_id, set()).discard(user_id)

    def is_in(self, user_id: str, channel_id: str) -> bool:
        with self._lock:
            return user_id in self.people.get(channel_id, set())

    def fail(
        self,
        count: int,
        status: int = 429,
        retry_after: int = 1,
        methods: tuple[str, ...] = (),
        *,
        after_apply: bool = False,
    ) -> None:
        """The next `count` matching calls answer `status` (429 with Retry-After); with
        `after_apply`, they take effect first (Slack posted it, the answer was lost)."""
        with self._lock:
            self._faults.append(_Fault(count, status, retry_after, methods, after_apply))

    # ----- reading ---------------------------------------------------------------------------

    def _notify(self) -> None:
        self.version += 1
        self.changed.notify_all()

    def snapshot(self, channel: str | None = None, include_deleted: bool = False) -> list[Message]:
        with self._lock:
            return [
                m
                for m in self.messages
                if (channel is None or m.channel == channel) and (include_deleted or not m.deleted)
            ]

    def find(self, channel: str, ts: str) -> Message | None:
        with self._lock:
            return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate()` is truthy (checked on every change); its value, or raise."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("localslack: condition not met in time")
                self.changed.wait(remaining)

    def calls_to(self, method: str, ok: bool | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    # ----- Web API ---------------------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"{int(self._clock())}.{next(self._seq):06d}"

    def now(self) -> float:
        return self._clock()

    def touch(self) -> None:
        """Something changed that waiters may want to see."""
        with self._lock:
            self._notify()

    def new_response_url_token(self, channel: str, user: str, message_ts: str | None) -> str:
        with self._lock:
            return responses.issue(self, channel, user, message_ts)

    def call(self, method: str, token: str | None, args: Json) -> Json:
        """Run one Web API method as Slack would; SlackError for error answers."""
        with self._lock:
            record = Call(method=method, args=dict(args), ok=False, at=self._clock())
            self.calls.append(record)
            try:
                lost = self._fault_for(method)
                handler = _METHODS.get(method)
                if handler is None:
                    raise SlackError("unknown_method")
                expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
                if token is None:
                    raise SlackError("not_authed")
                if token != expected:
                    raise SlackError("invalid_auth")
                self._check_scope(method)
                result = handler(self, args)
                record.ok = True
                record.channel = str(result.get("channel", args.get("channel", "")))
                record.ts = str(result.get("ts", args.get("ts", "")))
                record.thread_ts = str(args.get("thread_ts") or "")
                if lost is not None:
                    raise lost
                self._notify()
                return {"ok": True, **result}
            except SlackError as exc:
                record.error = exc.error
                self._notify()
                raise

    def _fault_for(self, method: str) -> SlackError | None:
        """Raise the next matching fault, or return it to raise after the call took effect."""
        for fault in self._faults:
            if fault.remaining > 0 and (not fault.methods or method in fault.methods):
                fault.remaining -= 1
                if fault.status == 429:
                    error = SlackError("ratelimited", 429, fault.retry_after)
                else:
                    error = SlackError("internal_error", fault.status)
                if fault.after_apply:
                    return error
                raise error
        return None

    def _check_scope(self, method: str) -> None:
        needed = NEEDS.get(method, ())
        if needed and not self.scopes.intersection(needed):
            self._missing_scope(needed)

    def _missing_scope(self, needed: tuple[str, ...]) -> None:
        raise SlackError(
            "missing_scope",
            extra={"needed": ",".join(needed), "provided": ",".join(sorted(self.scopes))},
        )

    def readable_channel(self, args: Json, verb: str, need_member: bool = True) -> str:
        """The channel of a conversations.* call, if the token may `verb` (read or history) it."""
        channel = self.channel_of(args)
        kind = "groups" if channel in self.private else "channels"
        if f"{kind}:{verb}" not in self.scopes:
            self._missing_scope(NEEDS[f"conversations.{'info' if verb == 'read' else 'history'}"])
        if channel in self.private and channel not in self.members:
            raise SlackError("channel_not_found")  # a private channel is invisible from outside
        if need_member and channel not in self.members:
            raise SlackError("not_in_channel")
        return channel

    def channel_of(self, args: Json) -> str:
        channel = str(args.get("channel") or "")
        if channel in self.users:
            return self.direct(channel)  # a user id: the bot's direct messages with them
        if channel.startswith("#"):
            channel = next((k for k, v in self.channels.items() if v == channel[1:]), channel)
        if channel not in self.channels:
            raise SlackError("channel_not_found")
        return channel

    def direct(self, user_id: str) -> str:
        """The bot's direct-message channel with a person (its App Home's Messages tab), made on
        first use, as Slack does when a bot posts to a user id."""
        with self._lock:
            dm = "D" + user_id[1:]
            if dm not in self.channels:
                self.channels[dm] = f"@{self.users.get(user_id, user_id)}"
                self.private.add(dm)
                self.members.add(dm)
                self.people.setdefault(dm, set()).add(user_id)
            return dm

    def post(self, channel: str, user: str, text: str, blocks: list[Json], **extra: Any) -> Message:
        with self._lock:
            message = Message(channel, self._next_ts(), user, text, blocks, **extra)
            self.messages.append(message)
            self._notify()
            return message

    def _auth_test(self, args: Json) -> Json:
        return {
            "url": "http://localslack/",
            "team": "Local",
            "user": "tpu-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER,
            "bot_id": "B0TPUBOT",
        }

    def _users_info(self, args: Json) -> Json:
        user = str(args.get("user") or "")
        if user not in self.users:
            raise SlackError("user_not_found")
        name = self.users[user]
        return {"user": {"id": user, "name": name, "real_name": name, "team_id": TEAM_ID}}

    def _usergroup_users(self, args: Json) -> Json:
        group = str(args.get("usergroup") or "")
        if group not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"users": list(self.usergroups[group])}

    def _connections_open(self, args: Json) -> Json:
        url = self.socket_url
        if not url:
            raise SlackError("socket_mode_not_enabled")
        return {"url": f"{url}?ticket={secrets.token_hex(8)}"}

    socket_url: str = ""

    def respond(self, token: str, body: Json) -> None:
        """A POST to a response_url, as Bolt's `respond()` sends it."""
        with self._lock:
            responses.respond(self, token, body)

    def home(self, user: str) -> Json | None:
        """The Home tab view published for `user`, if any."""
        with self._lock:
            return self.homes.get(user)


_METHODS: dict[str, Callable[[Workspace, Json], Json]] = {
    "auth.test": Workspace._auth_test,
    "chat.postMessage": chat.post_message,
    "chat.update": chat.update,
    "chat.postEphemeral": chat.post_ephemeral,
    "chat.delete": chat.delete,
    "views.publish": views.publish,
    "users.info": Workspace._users_info,
    "usergroups.users.list": Workspace._usergroup_users,
    "conversations.info": conversations.info,
    "conversations.history": conversations.history,
    "conversations.replies": conversations.replies,
    "usergroups.list": conversations.usergroups_list,
    "apps.connections.open": Workspace._connections_open,
}

"""Ports to Slack: the durable outbox, the button carrier, the directory of people, and
which replicas are alive. Nothing here does I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bot.core.messages import Message
from bot.core.records import (
    MessageRef,
)


class ChatError(Exception):
    """Slack refused or could not be reached after the client's own retries."""


class OutboxPort(Protocol):
    """Durable Slack writes, enqueued inside the caller's transaction (`conn`). A message refers
    to another (a reply in its thread, an edit of it) by a MessageRef, whose ts may not be known
    yet: the drainer sends it once its parent is in Slack."""

    def post(
        self,
        conn: Any,
        channel: str,
        message: Message,
        *,
        now: datetime,
        thread: MessageRef | None = None,
        fallback: str | None = None,
    ) -> int:
        """A new message (a reply in `thread`, if given: then in the thread's channel)."""
        ...

    def ephemeral(
        self,
        conn: Any,
        channel: str,
        user: str,
        message: Message,
        *,
        now: datetime,
        or_in_thread: MessageRef | None = None,
    ) -> int:
        """Only `user` sees it; if Slack refuses that for good (they left the channel), they are
        told in `or_in_thread` instead, with a mention."""
        ...

    def update(self, conn: Any, target: MessageRef, message: Message, *, now: datetime) -> int:
        """`target` redrawn as `message`."""
        ...

    def home(self, conn: Any, user: str, message: Message, *, now: datetime) -> int:
        """`user`'s App Home tab, drawn as `message` (views.publish)."""
        ...


class Carrier(Protocol):
    """Puts a command's text on a button: text that fits travels as it is; longer text is kept
    by the bot and the button carries a key (Slack limits what a button's value holds)."""

    def carry(self, text: str, now: datetime) -> str: ...
    def recall(self, carried: str) -> str | None:
        """What came back from a button -> the command's text; None when the kept text is gone
        (pruned)."""
        ...

    def prune(self, before: datetime) -> int:
        """Forget kept texts older than `before`; how many."""
        ...


class Directory(Protocol):
    """Which Slack user groups a user is in."""

    def groups_of(self, user: str) -> set[str]: ...


class Liveness(Protocol):
    """Which replica this is, and whether the one that claimed an attempt is known dead."""

    def me(self) -> str: ...
    def why_dead(self, owner: str, now: datetime) -> str | None: ...

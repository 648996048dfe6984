"""Slack user-group membership, looked up with usergroups.users.list and cached."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)


class SlackDirectory:
    """Which of the configured groups a user is in. A failed refresh keeps the last answer."""

    def __init__(
        self,
        client: WebClient,
        groups: Iterable[str],
        ttl_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.groups = sorted(set(groups))
        self.ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, frozenset[str]] = {}
        self._fetched_at: float | None = None

    def _refresh(self) -> None:
        members: dict[str, frozenset[str]] = {}
        for group in self.groups:
            try:
                response = self.client.usergroups_users_list(usergroup=group)
                members[group] = frozenset(response.get("users") or [])
            except (SlackApiError, SlackClientError, OSError) as exc:
                log.warning("cannot read members of %s: %s", group, exc.__class__.__name__)
                if group in self._members:
                    members[group] = self._members[group]
        self._members = members
        self._fetched_at = self._clock()

    def groups_of(self, user: str) -> set[str]:
        if not self.groups:
            return set()
        with self._lock:
            if self._fetched_at is None or self._clock() - self._fetched_at >= self.ttl:
                self._refresh()
            return {g for g, members in self._members.items() if user in members}

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
    """Which of the configured groups a user is in, read again every `ttl_seconds`. A failed
    refresh keeps a group's last members for at most `max_age_seconds` since they were read;
    after that the group counts as empty (a removed approver must not keep approving while
    Slack cannot be asked): the bot refuses rather than grants."""

    def __init__(
        self,
        client: WebClient,
        groups: Iterable[str],
        ttl_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
        max_age_seconds: float = 3600,
    ) -> None:
        self.client = client
        self.groups = sorted(set(groups))
        self.ttl = ttl_seconds
        self.max_age = max(ttl_seconds, max_age_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, frozenset[str]] = {}
        self._read_at: dict[str, float] = {}  # when each group's members were last read
        self._fetched_at: float | None = None

    def _refresh(self) -> None:
        now = self._clock()
        members: dict[str, frozenset[str]] = {}
        for group in self.groups:
            try:
                response = self.client.usergroups_users_list(usergroup=group)
            except (SlackApiError, SlackClientError, OSError) as exc:
                log.warning("cannot read members of %s: %s", group, exc.__class__.__name__)
                read_at = self._read_at.get(group)
                if group in self._members and read_at is not None:
                    if now - read_at < self.max_age:
                        members[group] = self._members[group]
                    else:
                        log.error(
                            "members of %s unread for %.0f s: the group counts as empty until "
                            "Slack answers (roles it grants are refused meanwhile)",
                            group,
                            now - read_at,
                        )
                continue
            members[group] = frozenset(response.get("users") or [])
            self._read_at[group] = now
        self._members = members
        self._fetched_at = now

    def groups_of(self, user: str) -> set[str]:
        if not self.groups:
            return set()
        with self._lock:
            if self._fetched_at is None or self._clock() - self._fetched_at >= self.ttl:
                self._refresh()
            return {g for g, members in self._members.items() if user in members}

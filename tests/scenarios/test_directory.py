"""User groups (issue 18, part 6): members read from Slack are trusted for a bounded time while
Slack cannot be asked again; then the group counts as empty, so a removed approver does not keep
approving through an outage of usergroups.users.list. Real localslack over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.slack.directory import SlackDirectory
from localslack import BOT_TOKEN, LocalSlack

ONCALL = "S0ONCALL"


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    running = LocalSlack().start()
    running.workspace.add_user("U0APPR1", "ada", (ONCALL,))
    yield running
    running.close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_group_unread_past_its_max_age_grants_nothing(slack: LocalSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=10)
    client.retry_handlers = []
    clock = Clock()
    directory = SlackDirectory(client, [ONCALL], ttl_seconds=300, clock=clock, max_age_seconds=900)
    assert directory.groups_of("U0APPR1") == {ONCALL}
    slack.workspace.fail(2, status=503, methods=("usergroups.users.list",))  # the next two
    clock.now = 301  # refresh fails: the members read 301 s ago still count
    assert directory.groups_of("U0APPR1") == {ONCALL}
    clock.now = 902  # unread for longer than the max age: refused rather than granted
    assert directory.groups_of("U0APPR1") == set()
    failed = slack.workspace.calls_to("usergroups.users.list", ok=False)
    assert len(failed) == 2  # asked again each time, not given up on
    clock.now = 1203  # Slack answers again: members again
    assert directory.groups_of("U0APPR1") == {ONCALL}

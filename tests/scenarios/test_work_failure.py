"""The work after an ack fails in a way nobody caught (a bug, the database gone): the person is
still answered through their response_url (localslack's, over HTTP), and the log has why."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.core.messages import Message
from bot.slack.listeners import WORK_FAILED, serve_request
from bot.slack.work import Kind, Request
from localslack import LocalSlack

USER, CHANNEL = "U0ANN", "C0GENERAL"


class Broken:
    """A Handler (the dispatcher's port) that fails as a bug would."""

    def __init__(self) -> None:
        self.calls = 0
        self.direct_messages: list[tuple[str, Message]] = []

    def _fail(self) -> Message | None:
        self.calls += 1
        raise RuntimeError("the database went away")

    def command(self, user: str, channel: str, text: str, now: datetime) -> Message | None:
        return self._fail()

    def click(
        self, user: str, channel: str, text: str, now: datetime, action: str = "click"
    ) -> Message | None:
        return self._fail()

    def home(self, user: str, now: datetime) -> None:
        self._fail()

    def home_click(self, user: str, text: str, now: datetime, action: str = "click") -> None:
        self._fail()

    def direct(self, user: str, message: Message, now: datetime) -> None:
        self.direct_messages.append((user, message))


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    slack = LocalSlack().start()
    slack.workspace.add_user(USER, "ann", ())
    slack.workspace.join(USER, CHANNEL)
    yield slack
    slack.close()


def clock() -> datetime:
    return datetime(2026, 12, 3, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize("kind", [Kind.COMMAND, Kind.CLICK])
def test_an_uncaught_failure_after_the_ack_still_answers_the_person(
    slack: LocalSlack, kind: Kind, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Broken()
    url = slack.response_url(CHANNEL, USER)
    with caplog.at_level(logging.ERROR, logger="bot.slack.listeners"):
        serve_request(handler, clock, Request(kind, USER, CHANNEL, "stop p/z/n", url, "stop"))
    assert handler.calls == 1
    answers = [m for m in slack.workspace.snapshot() if m.via == "response_url"]
    assert len(answers) == 1 and answers[0].ephemeral_for == USER
    assert "may or may not have run" in answers[0].text
    failure = [r for r in caplog.records if r.exc_info]
    assert failure and "the database went away" in str(failure[0].exc_info[1])


def test_a_home_tab_click_that_fails_is_told_in_the_persons_dms(
    slack: LocalSlack, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Broken()
    with caplog.at_level(logging.ERROR, logger="bot.slack.listeners"):
        serve_request(handler, clock, Request(Kind.HOME_CLICK, USER, USER, "usage", "", "x"))
    assert handler.calls == 1
    assert [(user, str(m.text)) for user, m in handler.direct_messages] == [
        (USER, str(WORK_FAILED.text))
    ]
    assert [r.getMessage() for r in caplog.records] == ["work after ack failed (home click)"]


def test_opening_the_home_tab_that_fails_is_logged_and_drawn_at_the_next_open(
    slack: LocalSlack, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Broken()
    with caplog.at_level(logging.ERROR, logger="bot.slack.listeners"):
        serve_request(handler, clock, Request(Kind.HOME, USER, "", "", ""))
    assert handler.calls == 1 and not handler.direct_messages
    assert [r.getMessage() for r in caplog.records] == ["work after ack failed (home)"]
    assert not slack.workspace.snapshot(CHANNEL)

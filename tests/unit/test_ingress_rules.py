"""The ack path's rules that need no server: where answers may go, and who is foreign."""

from __future__ import annotations

import pytest

from bot.config import SLACK_API_URL
from bot.slack.ingress import ResponseUrls, foreign

LOCAL = "http://127.0.0.1:8123/api/"


@pytest.mark.parametrize(
    ("api", "url", "allowed"),
    [
        (SLACK_API_URL, "https://hooks.slack.com/commands/T0/123/abc", True),
        (SLACK_API_URL, "https://hooks.slack.com/actions/T0/123/abc", True),
        (SLACK_API_URL, "https://HOOKS.SLACK.COM/actions/T0/1/a", True),
        (SLACK_API_URL, "https://slack.com/api/whatever", True),  # the API host itself
        (SLACK_API_URL, "http://hooks.slack.com/commands/T0/1/a", False),  # not https
        (SLACK_API_URL, "https://hooks.slack.com.evil.example/commands", False),
        (SLACK_API_URL, "https://evil.example/hooks.slack.com", False),
        (SLACK_API_URL, "https://hooks.slack.com:8443/commands/T0/1/a", False),
        (SLACK_API_URL, "https://user:pw@hooks.slack.com/commands/T0/1/a", False),
        (SLACK_API_URL, "https://hooks.slack.com@evil.example/x", False),
        (SLACK_API_URL, "", False),
        (SLACK_API_URL, "hooks.slack.com/commands", False),
        (SLACK_API_URL, "https://[::1/x", False),  # unparsable
        ("https://slack-gov.com/api/", "https://hooks.slack-gov.com/commands/T0/1/a", True),
        (LOCAL, "http://127.0.0.1:8123/response/tok", True),  # localslack in tests and demo
        (LOCAL, "http://127.0.0.1:8124/response/tok", False),  # another port, another server
        (LOCAL, "http://localhost:8123/response/tok", False),
        (LOCAL, "https://hooks.slack.com/commands/T0/1/a", True),
    ],
)
def test_response_urls(api: str, url: str, allowed: bool) -> None:
    assert ResponseUrls(api).allows(url) is allowed


def test_only_the_host_of_a_refused_url_is_logged() -> None:
    assert ResponseUrls.host_of("https://evil.example:9/response/secret-token") == "evil.example"
    assert ResponseUrls.host_of("https://[::1/x") == "(unparsable)"


@pytest.mark.parametrize(
    ("installed", "request_ids", "refused"),
    [
        # (team, org) installed; (team, org, the acting user's team) in the request
        (("T1", None), ("T1", None, None), None),
        (("T1", None), ("T1", None, "T1"), None),
        (("T1", None), ("T2", None, None), "workspace T2"),  # another workspace
        (("T1", None), ("T1", "E9", None), "org E9"),  # an org, to a bot outside any org
        (("T1", "E1"), ("T1", "E1", None), None),
        (("T1", "E1"), ("T1", None, None), None),  # a payload without the org: the team decides
        (("T1", "E1"), ("T3", "E1", None), "workspace T3"),  # another workspace of our Grid
        (("T1", "E1"), ("T1", "E2", None), "org E2"),
        (("T1", None), ("T1", None, "T7"), "a user of workspace T7"),  # Slack Connect guest
        (("T1", None), (None, None, None), None),  # url_verification and the like
        ((None, None), ("T2", None, None), None),  # not installed yet: nothing to compare
    ],
)
def test_foreign(
    installed: tuple[str | None, str | None],
    request_ids: tuple[str | None, str | None, str | None],
    refused: str | None,
) -> None:
    assert foreign(*installed, *request_ids) == refused

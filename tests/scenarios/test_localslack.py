"""localslack answers the Web API methods the bot may call as Slack does, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from localslack import BOT_TOKEN, DEFAULT_SCOPES, LocalSlack

TAG = {"event_type": "tpubot_outbox", "event_payload": {"row": 7}}


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    running = LocalSlack().start()
    yield running
    running.close()


@pytest.fixture
def client(slack: LocalSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=10)


def error_of(call: object) -> dict:
    with pytest.raises(SlackApiError) as caught:
        call()  # type: ignore[operator]
    return dict(caught.value.response.data)  # type: ignore[arg-type]


def test_the_default_grants_are_the_manifests(slack: LocalSlack, client: WebClient) -> None:
    assert slack.workspace.scopes == set(DEFAULT_SCOPES)
    answer = error_of(lambda: client.conversations_history(channel="C0ALERTS"))
    assert answer["error"] == "missing_scope"
    assert "channels:history" in answer["needed"].split(",")
    assert set(answer["provided"].split(",")) == set(DEFAULT_SCOPES)
    assert error_of(lambda: client.users_info(user="U0X"))["needed"] == "users:read"


def test_history_is_newest_first_with_metadata_only_when_asked(
    slack: LocalSlack, client: WebClient
) -> None:
    slack.workspace.grant("channels:history")
    first = client.chat_postMessage(channel="C0ALERTS", text="one", metadata=TAG)
    client.chat_postMessage(channel="C0ALERTS", text="reply", thread_ts=first["ts"])
    second = client.chat_postMessage(channel="C0ALERTS", text="two")
    plain = client.conversations_history(channel="C0ALERTS")["messages"]
    assert [m["text"] for m in plain] == ["two", "one"]  # replies stay in their thread
    assert all("metadata" not in m for m in plain)
    full = client.conversations_history(channel="C0ALERTS", include_all_metadata=True)
    assert full["messages"][1]["metadata"] == TAG and "metadata" not in full["messages"][0]
    window = client.conversations_history(channel="C0ALERTS", oldest=first["ts"])
    assert [m["ts"] for m in window["messages"]] == [second["ts"]]
    thread = client.conversations_replies(
        channel="C0ALERTS", ts=first["ts"], include_all_metadata=True
    )["messages"]
    assert [m["text"] for m in thread] == ["one", "reply"] and thread[0]["metadata"] == TAG


def test_history_pages_with_a_cursor(slack: LocalSlack, client: WebClient) -> None:
    slack.workspace.grant("channels:history")
    for i in range(5):
        client.chat_postMessage(channel="C0ALERTS", text=f"m{i}")
    seen, cursor = [], None
    while True:
        page = client.conversations_history(channel="C0ALERTS", limit=2, cursor=cursor)
        seen += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == ["m4", "m3", "m2", "m1", "m0"] and cursor == ""


def test_update_keeps_or_replaces_metadata(slack: LocalSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0ALERTS", text="one", metadata=TAG)
    client.chat_update(channel="C0ALERTS", ts=posted["ts"], text="edited")
    message = slack.workspace.find("C0ALERTS", posted["ts"])
    assert message is not None and message.metadata == TAG and message.text == "edited"
    other = {"event_type": "x", "event_payload": {"row": 8}}
    client.chat_update(channel="C0ALERTS", ts=posted["ts"], text="again", metadata=other)
    assert message.metadata == other
    bad = error_of(lambda: client.chat_postMessage(channel="C0ALERTS", text="x", metadata={"a": 1}))
    assert bad["error"] == "invalid_metadata_schema"


def test_not_in_channel_and_membership(slack: LocalSlack, client: WebClient) -> None:
    ws = slack.workspace
    ws.add_channel("C0LONELY", "lonely", member=False)
    assert error_of(lambda: client.chat_postMessage(channel="C0LONELY", text="x"))["error"] == (
        "not_in_channel"
    )
    ws.grant("channels:read")
    assert client.conversations_info(channel="C0LONELY")["channel"]["is_member"] is False
    assert client.conversations_info(channel="C0ALERTS")["channel"]["is_member"] is True
    ws.set_member("C0LONELY", True)
    assert client.chat_postMessage(channel="C0LONELY", text="x")["ok"]
    ws.add_channel("G0SECRET", "secret", member=False, private=True)
    assert error_of(lambda: client.conversations_info(channel="G0SECRET"))["error"] == (
        "missing_scope"  # groups:read is another scope
    )
    ws.grant("groups:read")
    assert error_of(lambda: client.conversations_info(channel="G0SECRET"))["error"] == (
        "channel_not_found"
    )


def test_usergroups(slack: LocalSlack, client: WebClient) -> None:
    slack.workspace.add_user("U0A", "a", ("S0TEAM",))
    groups = client.usergroups_list(include_users=True)["usergroups"]
    assert [(g["id"], g["users"]) for g in groups] == [("S0TEAM", ["U0A"])]
    slack.workspace.revoke("usergroups:read")
    assert error_of(lambda: client.usergroups_users_list(usergroup="S0TEAM"))["error"] == (
        "missing_scope"
    )


def test_people_are_in_public_channels_unless_told_otherwise(slack: LocalSlack) -> None:
    ws = slack.workspace
    ws.add_user("U0A", "a")
    ws.add_user("U0B", "b", channels=("C0ALERTS",))
    assert ws.is_in("U0A", "C0GENERAL") and not ws.is_in("U0B", "C0GENERAL")
    ws.add_channel("C0NEW", "new")
    ws.add_channel("G0HUSH", "hush", private=True)
    ws.add_channel("G0TEAM", "team", private=True, people=("U0B",))
    assert ws.is_in("U0A", "C0NEW") and ws.is_in("U0B", "C0NEW")
    assert not ws.is_in("U0A", "G0HUSH") and not ws.is_in("U0B", "G0HUSH")
    assert ws.is_in("U0B", "G0TEAM") and not ws.is_in("U0A", "G0TEAM")

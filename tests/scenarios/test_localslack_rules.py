"""Every rule of localslack/rules.py, over real HTTP through slack_sdk: what Slack accepts at the
limit it refuses one past it, with Slack's error and a JSON pointer to the culprit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from localslack import BOT_TOKEN, RULES, LocalSlack, Rule, Workspace
from localslack.rules import limit, message

Blocks = list[dict[str, Any]]


class Clock:
    """localslack's injectable clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slack(clock: Clock) -> Iterator[LocalSlack]:
    running = LocalSlack(Workspace(clock=clock)).start()
    running.workspace.add_user("U0ANN", "ann")
    yield running
    running.close()


@pytest.fixture
def client(slack: LocalSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=10)


def refusal(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        call()
    return dict(caught.value.response.data)  # type: ignore[arg-type]


# ----- Block Kit builders -------------------------------------------------------------------


def text(n: int, kind: str = "mrkdwn") -> dict[str, str]:
    return {"type": kind, "text": "x" * n}


def section(n: int = 1, **more: Any) -> dict[str, Any]:
    return {"type": "section", "text": text(n), **more}


def button(**more: Any) -> dict[str, Any]:
    return {"type": "button", "text": text(5, "plain_text"), "action_id": "a", **more}


def actions(*elements: dict[str, Any]) -> Blocks:
    return [{"type": "actions", "elements": list(elements)}]


def option(text_n: int = 3, value_n: int = 3) -> dict[str, Any]:
    return {"text": text(text_n, "plain_text"), "value": "v" * value_n}


def select(options: list[dict[str, Any]]) -> dict[str, Any]:
    placeholder = text(4, "plain_text")
    return {
        "type": "static_select",
        "action_id": "s",
        "placeholder": placeholder,
        "options": options,
    }


def raw(value: str) -> dict[str, str]:
    return {"type": "raw_text", "text": value}


def table(rows: list[list[dict[str, Any]]], **more: Any) -> dict[str, Any]:
    return {"type": "table", "rows": rows, **more}


def pie(segments: int = 2, label: str = "s0", value: Any = 3, title: str = "t") -> dict[str, Any]:
    parts = [{"label": f"s{i}", "value": value} for i in range(segments)]
    parts[0]["label"] = label
    chart = {"type": "pie", "segments": parts}
    return {"type": "data_visualization", "title": title, "chart": chart}


def line(
    series: int = 1, points: int = 2, name: str = "n", x_label: str = "x", label: str = ""
) -> dict[str, Any]:
    categories = [f"c{i}" for i in range(points)]
    data = [{"label": c, "value": i} for i, c in enumerate(categories)]
    if label:
        data[0]["label"] = label
    rows = [{"name": name if i == 0 else f"{name}{i}", "data": data} for i in range(series)]
    axis = {"categories": categories, "x_label": x_label, "y_label": "y"}
    chart = {"type": "line", "series": rows, "axis_config": axis}
    return {"type": "data_visualization", "title": "t", "chart": chart}


# Each rule: blocks Slack accepts at the limit, blocks one past it, the pointer Slack names.
CASES: dict[Rule, tuple[Blocks, Blocks, str]] = {
    Rule.BLOCKS_IN_MESSAGE: ([{"type": "divider"}] * 50, [{"type": "divider"}] * 51, "/blocks"),
    Rule.BLOCK_ID_LENGTH: (
        [section(block_id="b" * 255)],
        [section(block_id="b" * 256)],
        "/blocks/0/block_id",
    ),
    Rule.BLOCK_ID_UNIQUE: (
        [section(block_id="a"), section(block_id="b")],
        [section(block_id="a"), section(block_id="a")],
        "/blocks/1/block_id",
    ),
    Rule.ACTION_ID_UNIQUE: (
        actions(button(action_id="a"), button(action_id="b")),
        actions(button(action_id="a"), button(action_id="a")),
        "/blocks/0/elements/1/action_id",
    ),
    Rule.SECTION_TEXT: ([section(3000)], [section(3001)], "/blocks/0/text/text"),
    Rule.SECTION_FIELDS: (
        [{"type": "section", "fields": [text(1)] * 10}],
        [{"type": "section", "fields": [text(1)] * 11}],
        "/blocks/0/fields",
    ),
    Rule.SECTION_FIELD_TEXT: (
        [{"type": "section", "fields": [text(2000)]}],
        [{"type": "section", "fields": [text(2001)]}],
        "/blocks/0/fields/0/text",
    ),
    Rule.HEADER_TEXT: (
        [{"type": "header", "text": text(150, "plain_text")}],
        [{"type": "header", "text": text(151, "plain_text")}],
        "/blocks/0/text/text",
    ),
    Rule.BUTTON_TEXT: (
        actions(button(text=text(75, "plain_text"))),
        actions(button(text=text(76, "plain_text"))),
        "/blocks/0/elements/0/text/text",
    ),
    Rule.BUTTON_VALUE: (
        actions(button(value="v" * 2000)),
        actions(button(value="v" * 2001)),
        "/blocks/0/elements/0/value",
    ),
    Rule.BUTTON_URL: (
        actions(button(url="https://e.x/" + "u" * 2988)),
        actions(button(url="https://e.x/" + "u" * 2989)),
        "/blocks/0/elements/0/url",
    ),
    Rule.ACTION_ID_LENGTH: (
        actions(button(action_id="a" * 255)),
        actions(button(action_id="a" * 256)),
        "/blocks/0/elements/0/action_id",
    ),
    Rule.OPTION_TEXT: (
        actions(select([option(text_n=75)])),
        actions(select([option(text_n=76)])),
        "/blocks/0/elements/0/options/0/text/text",
    ),
    Rule.OPTION_VALUE: (
        actions(select([option(value_n=150)])),
        actions(select([option(value_n=151)])),
        "/blocks/0/elements/0/options/0/value",
    ),
    Rule.SELECT_OPTIONS: (
        actions(select([option()] * 100)),
        actions(select([option()] * 101)),
        "/blocks/0/elements/0/options",
    ),
    Rule.ACTIONS_ELEMENTS: (
        actions(*[button(action_id=f"b{i}") for i in range(25)]),
        actions(*[button(action_id=f"b{i}") for i in range(26)]),
        "/blocks/0/elements",
    ),
    Rule.CONTEXT_ELEMENTS: (
        [{"type": "context", "elements": [text(1)] * 10}],
        [{"type": "context", "elements": [text(1)] * 11}],
        "/blocks/0/elements",
    ),
    Rule.IMAGE_ALT_TEXT: (
        [{"type": "image", "image_url": "https://e.x/i.png", "alt_text": "a" * 2000}],
        [{"type": "image", "image_url": "https://e.x/i.png", "alt_text": "a" * 2001}],
        "/blocks/0/alt_text",
    ),
    Rule.IMAGE_URL: (
        [{"type": "image", "image_url": "https://e.x/" + "i" * 2988, "alt_text": "a"}],
        [{"type": "image", "image_url": "https://e.x/" + "i" * 2989, "alt_text": "a"}],
        "/blocks/0/image_url",
    ),
    Rule.TABLES_IN_MESSAGE: (
        [section(), table([[raw("a")]])],
        [table([[raw("a")]]), table([[raw("b")]])],
        "/blocks/1",
    ),
    Rule.TABLE_ROWS: (
        [table([[raw("a")]] * 100)],
        [table([[raw("a")]] * 101)],
        "/blocks/0/rows",
    ),
    Rule.TABLE_CELLS: (
        [table([[raw("a")] * 20])],
        [table([[raw("a")] * 21])],
        "/blocks/0/rows/0",
    ),
    Rule.TABLE_CELL_TYPE: (
        [table([[raw("a"), {"type": "rich_text", "elements": []}]])],
        [table([[{"type": "raw_number", "value": 3, "text": "3"}]])],
        "/blocks/0/rows/0/0/type",
    ),
    Rule.TABLE_CELL_TEXT: ([table([[raw("a")]])], [table([[raw("")]])], "/blocks/0/rows/0/0/text"),
    Rule.TABLE_CHARACTERS: (
        [table([[raw("c" * 100)]] * 100)],
        [table([[raw("c" * 100)]] * 99 + [[raw("c" * 101)]])],
        "/blocks/0/rows",
    ),
    Rule.TABLE_COLUMN_SETTINGS: (
        [table([[raw("a")]], column_settings=[{"align": "right"}] * 20)],
        [table([[raw("a")]], column_settings=[{"align": "right"}] * 21)],
        "/blocks/0/column_settings",
    ),
    Rule.CHARTS_IN_MESSAGE: ([pie(), line()], [pie(), line(), pie()], "/blocks/2"),
    Rule.CHART_TITLE: ([pie(title="t" * 50)], [pie(title="t" * 51)], "/blocks/0/title"),
    Rule.CHART_TYPE: (
        [line()],
        [{**line(), "chart": {**line()["chart"], "type": "scatter"}}],
        "/blocks/0/chart/type",
    ),
    Rule.PIE_SEGMENTS: ([pie(segments=6)], [pie(segments=7)], "/blocks/0/chart/segments"),
    Rule.CHART_SERIES: ([line(series=6)], [line(series=7)], "/blocks/0/chart/series"),
    Rule.SERIES_NAME: (
        [line(name="n" * 20)],
        [line(name="n" * 21)],
        "/blocks/0/chart/series/0/name",
    ),
    Rule.SERIES_POINTS: ([line(points=20)], [line(points=21)], "/blocks/0/chart/series/0/data"),
    Rule.CHART_LABEL: (
        [pie(label="l" * 20)],
        [pie(label="l" * 21)],
        "/blocks/0/chart/segments/0/label",
    ),
    Rule.CHART_VALUE: ([pie(value=2.5)], [pie(value="3")], "/blocks/0/chart/segments/0/value"),
    Rule.AXIS_LABEL: (
        [line(x_label="x" * 50)],
        [line(x_label="x" * 51)],
        "/blocks/0/chart/axis_config/x_label",
    ),
    Rule.POINTS_MATCH_CATEGORIES: (
        [line()],
        [line(label="nope")],
        "/blocks/0/chart/series/0/data/0/label",
    ),
}


@pytest.mark.parametrize("rule", list(CASES), ids=str)
def test_block_kit_limit(client: WebClient, rule: Rule) -> None:
    at_limit, past_it, pointer = CASES[rule]
    assert client.chat_postMessage(channel="C0ALERTS", text="t", blocks=at_limit)["ok"]
    answer = refusal(lambda: client.chat_postMessage(channel="C0ALERTS", text="t", blocks=past_it))
    assert answer["error"] == RULES[rule].error == "invalid_blocks"
    assert message(rule, pointer) in answer["errors"], answer["errors"]
    assert f"[ERROR] {message(rule, pointer)}" in answer["response_metadata"]["messages"]


def test_every_block_kit_rule_has_a_case() -> None:
    block_kit = {r for r, facts in RULES.items() if facts.error == "invalid_blocks"}
    assert block_kit - set(CASES) == {Rule.BLOCKS_IN_VIEW}  # views.publish, tested below
    assert all(RULES[r].source.startswith("https://") for r in Rule)


def test_the_same_limits_hold_through_response_url_and_chat_update(
    slack: LocalSlack, client: WebClient
) -> None:
    posted = client.chat_postMessage(channel="C0ALERTS", text="t", blocks=[section()])
    too_long = [section(3001)]
    answer = refusal(
        lambda: client.chat_update(channel="C0ALERTS", ts=posted["ts"], text="t", blocks=too_long)
    )
    assert answer["error"] == "invalid_blocks"
    hook = WebhookClient(slack.response_url("C0ALERTS", "U0ANN"))
    assert hook.send(text="t", blocks=too_long).status_code == 400


# ----- views.publish --------------------------------------------------------------------------


def test_views_publish_takes_100_blocks_and_refuses_101(client: WebClient) -> None:
    home = {"type": "home", "blocks": [{"type": "divider"}] * limit(Rule.BLOCKS_IN_VIEW)}
    assert client.views_publish(user_id="U0ANN", view=home)["view"]["type"] == "home"
    home["blocks"] = home["blocks"] + [{"type": "divider"}]
    answer = refusal(lambda: client.views_publish(user_id="U0ANN", view=home))
    assert answer["error"] == "invalid_blocks"
    assert message(Rule.BLOCKS_IN_VIEW, "/blocks") in answer["errors"]


def test_views_publish_names_an_unknown_user(client: WebClient) -> None:
    answer = refusal(
        lambda: client.views_publish(user_id="U0NOBODY", view={"type": "home", "blocks": []})
    )
    assert answer["error"] == RULES[Rule.VIEWS_PUBLISH_USER].error == "invalid_arguments"
    assert answer["response_metadata"]["messages"] == ["invalid `user_id`"]


def test_views_publish_refuses_a_stale_hash(client: WebClient) -> None:
    first = client.views_publish(user_id="U0ANN", view={"type": "home", "blocks": [section()]})
    current = first["view"]["hash"]
    again = client.views_publish(user_id="U0ANN", view={"type": "home", "blocks": []}, hash=current)
    assert again["view"]["id"] == first["view"]["id"] and again["view"]["blocks"] == []
    answer = refusal(
        lambda: client.views_publish(
            user_id="U0ANN", view={"type": "home", "blocks": []}, hash=current
        )
    )
    assert answer["error"] == RULES[Rule.VIEWS_PUBLISH_HASH].error == "hash_conflict"


# ----- chat.postEphemeral ---------------------------------------------------------------------


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
def test_ephemeral_to_someone_outside_the_channel(
    slack: LocalSlack, client: WebClient, private: bool
) -> None:
    ws = slack.workspace
    ws.add_channel("C0ROOM", "room", private=private, people=("U0ANN",))
    ws.add_user("U0BOB", "bob", channels=())
    assert client.chat_postEphemeral(channel="C0ROOM", user="U0ANN", text="hi")["ok"]
    answer = refusal(lambda: client.chat_postEphemeral(channel="C0ROOM", user="U0BOB", text="hi"))
    assert answer["error"] == RULES[Rule.EPHEMERAL_USER_NOT_IN_CHANNEL].error
    ws.join("U0BOB", "C0ROOM")
    assert client.chat_postEphemeral(channel="C0ROOM", user="U0BOB", text="hi")["ok"]
    ws.leave("U0BOB", "C0ROOM")
    assert refusal(lambda: client.chat_postEphemeral(channel="C0ROOM", user="U0BOB", text="x"))


@pytest.mark.parametrize(
    ("private", "rule"),
    [(False, Rule.EPHEMERAL_BOT_NOT_IN_PUBLIC), (True, Rule.EPHEMERAL_BOT_NOT_IN_PRIVATE)],
    ids=["public", "private"],
)
def test_ephemeral_where_the_bot_is_not(
    slack: LocalSlack, client: WebClient, private: bool, rule: Rule
) -> None:
    slack.workspace.add_channel("C0ROOM", "room", member=False, private=private, people=("U0ANN",))
    slack.workspace.grant("chat:write.public")
    answer = refusal(lambda: client.chat_postEphemeral(channel="C0ROOM", user="U0ANN", text="hi"))
    assert answer["error"] == RULES[rule].error
    assert answer["error"] == ("channel_not_found" if private else "not_in_channel")
    slack.workspace.set_member("C0ROOM", True)
    assert client.chat_postEphemeral(channel="C0ROOM", user="U0ANN", text="hi")["ok"]


# ----- response_url ---------------------------------------------------------------------------


def test_a_response_url_answers_five_times(slack: LocalSlack) -> None:
    hook = WebhookClient(slack.response_url("C0ALERTS", "U0ANN"))
    uses = limit(Rule.RESPONSE_URL_USES)
    assert [hook.send(text=f"n{i}").status_code for i in range(uses)] == [200] * uses
    sixth = hook.send(text="one too many")
    assert (sixth.status_code, sixth.body) == (404, '{"ok": false, "error": "used_url"}')
    assert len([m for m in slack.workspace.snapshot() if m.via == "response_url"]) == uses


def test_a_response_url_answers_for_30_minutes(slack: LocalSlack, clock: Clock) -> None:
    hook = WebhookClient(slack.response_url("C0ALERTS", "U0ANN"))
    clock.now += limit(Rule.RESPONSE_URL_AGE)
    assert hook.send(text="just in time").status_code == 200
    clock.now += 1
    late = hook.send(text="too late")
    assert late.status_code == RULES[Rule.RESPONSE_URL_AGE].status == 404
    assert late.body == '{"ok": false, "error": "expired_url"}'

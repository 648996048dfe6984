"""The demo page in a real browser (Debian's Chromium, driven by Selenium): type, click, watch.

Skipped, with the reason, only where Chromium and its driver are not installed; `make test`
installs them when it can.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from devstack.browser import (
    as_user,
    available,
    click,
    feed_text,
    open_channel,
    start_browser,
    type_command,
    wait_for,
)
from devstack.demo import Demo, start_demo
from localslack import BOT_TOKEN

pytestmark = pytest.mark.skipif(
    not available(),
    reason="Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def demo() -> Iterator[Demo]:
    running = start_demo(port=0, op_seconds=1.0)
    yield running
    running.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    driver = start_browser()
    yield driver
    driver.quit()


def test_list_shows_node_cards(demo: Demo, browser: Any) -> None:
    browser.get(demo.url + "/")
    wait_for(
        browser, lambda: browser.find_elements("css selector", "[data-testid='channel-general']")
    )
    open_channel(browser, "general")
    as_user(browser, "vera")
    # READY: the Cloud TPU API's nodes (the listing also holds Compute Engine's TPU VMs).
    type_command(browser, "/tpu list project=ml-prod state=READY")
    wait_for(browser, lambda: "TPUs" in feed_text(browser))
    text = feed_text(browser)
    assert "ml-prod" in text and "TensorFlow" in text and "Scheduling" in text
    buttons = [b.text for b in browser.find_elements("css selector", "#feed button[data-action]")]
    assert "Delete" in buttons


def test_stop_approve_and_the_thread_ends_stopped(demo: Demo, browser: Any) -> None:
    node = next(
        n
        for n in demo.emulator.node_names("ml-prod")
        if demo.emulator.get_node(n)["state"] == "READY"
        and demo.emulator.get_node(n)["acceleratorType"].endswith("-8")
    )
    node_id = node.rsplit("/", 1)[1]
    browser.get(demo.url + "/")
    wait_for(
        browser, lambda: browser.find_elements("css selector", "[data-testid='channel-general']")
    )
    open_channel(browser, "general")
    as_user(browser, "otto")
    type_command(browser, f"/tpu stop ml-prod/{node.split('/')[3]}/{node_id} demo time")
    wait_for(browser, lambda: "needs an approver" in feed_text(browser))
    as_user(browser, "ada")
    open_channel(browser, "tpu-oncall")
    wait_for(browser, lambda: "Approval needed" in feed_text(browser))
    click(browser, "#feed button[data-action='approval_approve']")
    click(browser, "#feed [data-testid='replies']")
    wait_for(browser, lambda: "finished: node is STOPPED" in feed_text(browser, "tfeed"), 60)
    assert demo.emulator.get_node(node)["state"] == "STOPPED"


def test_preemption_alert_and_recovery_in_one_thread(demo: Demo, browser: Any) -> None:
    browser.get(demo.url + "/")
    wait_for(
        browser, lambda: browser.find_elements("css selector", "[data-testid='channel-tpu-alerts']")
    )
    # Start from a quiet fleet, then break one node from the page's chaos controls.
    click(browser, "button[data-chaos='heal']")
    wait_for(browser, lambda: "healed" in browser.find_element("id", "did").text)
    wait_for(
        browser,
        # The heal is seen at the next poll; wait until every incident is closed and told.
        lambda: (
            demo.bot.jobs.last_success.get("poll_nodes") is not None
            and demo.bot.watch.count_open() == 0
            and demo.bot.watch.outbox.depth() == 0
        ),
        120,
    )
    click(browser, "button[data-chaos='preempt']")
    wait_for(browser, lambda: "preempt:" in browser.find_element("id", "did").text)
    node_id = browser.find_element("id", "did").text.split("preempt: ")[1]
    # The alert goes where the node routes: the demo sends ml-research's vision team elsewhere.
    full = next(n for n in demo.emulator.node_names() if n.endswith(f"/nodes/{node_id}"))
    vision = full.split("/")[1] == "ml-research" and (
        demo.emulator.get_node(full)["labels"].get("team") == "vision"
    )
    open_channel(browser, "vision-alerts" if vision else "tpu-alerts")
    wait_for(browser, lambda: f"Preempted: {node_id}" in feed_text(browser), 90)
    click(browser, "button[data-chaos='heal']")
    # The page re-renders as messages arrive: find the root afresh by its ts each time.
    ts = wait_for(
        browser,
        lambda: next(
            m.get_attribute("data-ts")
            for m in browser.find_elements("css selector", "#feed [data-testid='message']")
            if f"Preempted: {node_id}" in m.text
        ),
    )
    root = f"#feed [data-testid='message'][data-ts='{ts}']"
    wait_for(
        browser, lambda: "Resolved after" in browser.find_element("css selector", root).text, 60
    )
    wait_for(
        browser, lambda: browser.find_elements("css selector", f"{root} [data-testid='replies']")
    )
    click(browser, f"{root} [data-testid='replies']")
    wait_for(browser, lambda: "recovered" in feed_text(browser, "tfeed"), 30)
    browser.save_screenshot(str(demo.workdir / "alert-thread.png"))


HOME_BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "Your TPU fleet"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*3* nodes need a look"}},
    {
        "type": "table",
        "column_settings": [None, {"align": "right"}],
        "rows": [
            [{"type": "raw_text", "text": "Zone"}, {"type": "raw_text", "text": "Nodes"}],
            [{"type": "raw_text", "text": "us-central1-b"}, {"type": "raw_text", "text": "41"}],
            [{"type": "raw_text", "text": "europe-west4-a"}, {"type": "raw_text", "text": "7"}],
        ],
    },
    {
        "type": "data_visualization",
        "title": "Duty cycle, last 4 hours",
        "chart": {
            "type": "line",
            "axis_config": {"categories": ["-3h", "-2h", "-1h", "now"], "y_label": "%"},
            "series": [
                {
                    "name": name,
                    "data": [
                        {"label": c, "value": v}
                        for c, v in zip(["-3h", "-2h", "-1h", "now"], values, strict=True)
                    ],
                }
                for name, values in (("ml-prod", [71, 64, 80, 77]), ("ml-research", [12, 9, 3, 2]))
            ],
        },
    },
    {
        "type": "data_visualization",
        "title": "Nodes by state",
        "chart": {
            "type": "pie",
            "segments": [{"label": "READY", "value": 44}, {"label": "PREEMPTED", "value": 4}],
        },
    },
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "home_refresh",
                "value": "fleet",
                "text": {"type": "plain_text", "text": "Refresh"},
            }
        ],
    },
]


def test_home_tab_shows_a_published_view_with_a_table_and_charts(demo: Demo, browser: Any) -> None:
    """Published through localslack's Web API with slack_sdk (the bot's side comes later);
    opening the tab tells the app, and a click there comes from the view."""
    client = WebClient(token=BOT_TOKEN, base_url=demo.slack.api_url, timeout=10)
    view = client.views_publish(user_id="U0VERA", view={"type": "home", "blocks": HOME_BLOCKS})
    browser.get(demo.url + "/")
    wait_for(browser, lambda: browser.find_elements("css selector", "[data-testid='home-tab']"))
    as_user(browser, "otto")
    click(browser, "[data-testid='home-tab']")
    wait_for(browser, lambda: browser.find_elements("css selector", "[data-testid='home-empty']"))
    as_user(browser, "vera")
    wait_for(browser, lambda: "Your TPU fleet" in feed_text(browser))

    def opened(user: str) -> list[Any]:
        return [
            p
            for p, _ in list(demo.slack.deliveries)
            if p.get("event", {}).get("type") == "app_home_opened" and p["event"]["user"] == user
        ]

    wait_for(browser, lambda: opened("U0OTTO") and opened("U0VERA"))
    assert opened("U0VERA")[-1]["event"]["view"]["id"] == view["view"]["id"]
    cells = [c.text for c in browser.find_elements("css selector", "[data-testid='table'] td")]
    assert cells == ["us-central1-b", "41", "europe-west4-a", "7"]
    charts = browser.find_elements("css selector", "[data-testid='chart']")
    assert [c.get_attribute("data-chart-type") for c in charts] == ["line", "pie"]
    assert len(charts[0].find_elements("css selector", "[data-testid='line']")) == 2
    assert len(charts[1].find_elements("css selector", "[data-testid='pie-slice']")) == 2
    assert "Duty cycle, last 4 hours" in charts[0].text and "ml-research" in charts[0].text
    click(browser, "[data-testid='home-view'] button[data-action='home_refresh']")

    def home_clicks() -> list[Any]:
        return [p for p, _ in list(demo.slack.deliveries) if p.get("type") == "block_actions"]

    body = wait_for(browser, lambda: home_clicks())[-1]
    assert body["container"] == {"type": "view", "view_id": view["view"]["id"]}
    assert "message" not in body and body["user"]["id"] == "U0VERA"
    browser.save_screenshot(str(demo.workdir / "home-tab.png"))


def test_a_message_shows_bar_and_area_charts(demo: Demo, browser: Any) -> None:
    categories = ["Mon", "Tue", "Wed"]

    def chart(kind: str, title: str) -> dict[str, Any]:
        series = [
            {"name": name, "data": [{"label": c, "value": v * k} for k, c in enumerate(categories)]}
            for name, v in (("spot", 3), ("reserved", 5))
        ]
        axis = {"categories": categories, "x_label": "day"}
        return {
            "type": "data_visualization",
            "title": title,
            "chart": {"type": kind, "series": series, "axis_config": axis},
        }

    client = WebClient(token=BOT_TOKEN, base_url=demo.slack.api_url, timeout=10)
    blocks = [chart("bar", "Preemptions"), chart("area", "Queued chips")]
    client.chat_postMessage(channel="C0GENERAL", text="capacity this week", blocks=blocks)
    browser.get(demo.url + "/")
    wait_for(
        browser, lambda: browser.find_elements("css selector", "[data-testid='channel-general']")
    )
    open_channel(browser, "general")
    charts = wait_for(
        browser, lambda: browser.find_elements("css selector", "#feed [data-testid='chart']")
    )
    assert [c.get_attribute("data-chart-type") for c in charts] == ["bar", "area"]
    assert len(charts[0].find_elements("css selector", "[data-testid='bar']")) == 6
    assert len(charts[1].find_elements("css selector", "[data-testid='area']")) == 2
    assert "Preemptions" in charts[0].text and "reserved" in charts[1].text
    browser.save_screenshot(str(demo.workdir / "charts.png"))

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


def test_the_home_tab_is_the_bots_fleet_view_and_its_buttons_answer_in_dms(
    demo: Demo, browser: Any
) -> None:
    """Opening the tab tells the bot (app_home_opened); it publishes the fleet at a glance for
    that person; a button there runs its command, answered in their messages with the bot."""
    browser.get(demo.url + "/")
    wait_for(browser, lambda: browser.find_elements("css selector", "[data-testid='home-tab']"))
    as_user(browser, "vera")
    click(browser, "[data-testid='home-tab']")
    home = "[data-testid='home-view']"
    wait_for(browser, lambda: "TPU fleet" in _text(browser, home), 60)
    assert "Busy chips" in _text(browser, home) and "TPUs by type" in _text(browser, home)
    published = demo.slack.workspace.calls_to("views.publish", ok=True)
    assert published and published[-1].args["user_id"] == "U0VERA"
    click(browser, f"{home} button[data-action='show_idle']")
    wait_for(
        browser,
        lambda: [
            m
            for m in demo.slack.workspace.snapshot(demo.slack.workspace.direct("U0VERA"))
            if m.user == "U0BOT" and any(b["type"] == "table" for b in m.blocks)
        ],
        60,
    )
    browser.save_screenshot(str(demo.workdir / "home-tab.png"))


def _text(browser: Any, css: str) -> str:
    found = browser.find_elements("css selector", css)
    return found[0].text if found else ""


def test_idle_notice_keep_and_stop_a_usage_table_and_a_chart(demo: Demo, browser: Any) -> None:
    browser.get(demo.url + "/")
    wait_for(
        browser, lambda: browser.find_elements("css selector", "[data-testid='channel-tpu-alerts']")
    )
    click(browser, "button[data-chaos='go-idle']")
    wait_for(browser, lambda: "does nothing" in browser.find_element("id", "did").text)
    demo.bot.jobs.run("idle_sweep")  # the sweep's next check, now
    open_channel(browser, "tpu-alerts")
    as_user(browser, "otto")
    wait_for(browser, lambda: "idle TPU" in feed_text(browser), 60)
    keep = "#feed button[data-action='node_keep']"
    click(browser, keep, index=0)
    wait_for(
        browser,
        lambda: "No longer idle" in feed_text(browser) or "no longer idle" in feed_text(browser),
        60,
    )
    stops = browser.find_elements("css selector", "#feed button[data-action='node_stop']")
    if stops:  # a single-host idle TPU: Stop asks an approver
        click(browser, "#feed button[data-action='node_stop']", index=0)
        wait_for(browser, lambda: "needs an approver" in feed_text(browser), 60)
    open_channel(browser, "general")
    type_command(browser, "/tpu usage project=ml-prod")
    wait_for(browser, lambda: browser.find_elements("css selector", "#feed [data-testid='table']"))
    node = next(
        n
        for n in demo.emulator.node_names("ml-prod")
        if demo.emulator.get_node(n)["state"] == "READY"
    )
    type_command(browser, f"/tpu get ml-prod/{node.split('/')[3]}/{node.rsplit('/', 1)[1]}")
    chart = wait_for(
        browser,
        lambda: browser.find_elements("css selector", "#feed [data-testid='chart']"),
        60,
    )[-1]
    assert chart.get_attribute("data-chart-type") == "line" and "Duty cycle" in chart.text
    browser.save_screenshot(str(demo.workdir / "usage.png"))


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

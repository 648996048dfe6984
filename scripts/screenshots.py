"""Screenshots of the running demo for the README: .venv/bin/python scripts/screenshots.py

Runs `start_demo`, drives Debian's Chromium through an alert, a listing and an approval, and writes
docs/img/*.png.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from devstack.browser import as_user, click, feed_text, open_channel, type_command, wait_for
from devstack.demo import start_demo

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    demo = start_demo(port=0, op_seconds=2.0)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1400,860",
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={tempfile.mkdtemp()}",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        browser.get(demo.url + "/")
        click(browser, "button[data-chaos='heal']")
        wait_for(
            browser,
            lambda: (
                demo.bot.watch.outbox.depth() == 0
                and demo.bot.jobs.last_success.get("poll_nodes") is not None
            ),
            60,
        )
        open_channel(browser, "tpu-alerts")
        click(browser, "button[data-chaos='preempt']")
        wait_for(browser, lambda: "preempt:" in browser.find_element("id", "did").text)
        node_id = browser.find_element("id", "did").text.split("preempt: ")[1]
        wait_for(browser, lambda: f"Preempted: {node_id}" in feed_text(browser), 60)
        click(browser, "button[data-action='incident_ack']")
        wait_for(browser, lambda: "Acknowledged by" in feed_text(browser), 30)
        ts = wait_for(
            browser,
            lambda: next(
                m.get_attribute("data-ts")
                for m in browser.find_elements("css selector", "#feed [data-testid='message']")
                if f"Preempted: {node_id}" in m.text
            ),
        )
        root = f"#feed [data-testid='message'][data-ts='{ts}']"
        click(browser, "button[data-chaos='heal']")
        wait_for(
            browser, lambda: "Resolved after" in browser.find_element("css selector", root).text, 60
        )
        click(browser, f"{root} [data-testid='replies']")
        wait_for(browser, lambda: "recovered" in feed_text(browser, "tfeed"), 30)
        browser.execute_script(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", root
        )
        browser.save_screenshot(str(OUT / "alert-thread.png"))

        open_channel(browser, "general")
        as_user(browser, "otto")
        type_command(browser, "/tpu list project=ml-prod")
        wait_for(browser, lambda: "TPU nodes" in feed_text(browser))
        browser.save_screenshot(str(OUT / "node-cards.png"))

        node = next(
            n
            for n in demo.emulator.node_names("ml-prod")
            if demo.emulator.get_node(n)["state"] == "READY"
            and demo.emulator.get_node(n)["acceleratorType"].endswith("-8")
        )
        type_command(
            browser, f"/tpu stop {'/'.join(node.split('/')[i] for i in (1, 3, 5))} end of the sweep"
        )
        wait_for(browser, lambda: "needs an approver" in feed_text(browser))
        as_user(browser, "ada")
        open_channel(browser, "tpu-oncall")
        click(browser, "#feed button[data-action='approval_approve']")
        click(browser, "#feed [data-testid='replies']")
        wait_for(browser, lambda: "finished: node is STOPPED" in feed_text(browser, "tfeed"), 60)
        browser.save_screenshot(str(OUT / "approval.png"))

        # Is anyone using it: an idle notice, the usage table with a TPU's chart, the Home tab.
        click(browser, "button[data-chaos='go-idle']")
        wait_for(browser, lambda: "does nothing" in browser.find_element("id", "did").text)
        demo.bot.jobs.run("idle_sweep")
        as_user(browser, "otto")
        open_channel(browser, "tpu-alerts")
        wait_for(browser, lambda: "idle TPU" in feed_text(browser), 60)
        notice = wait_for(
            browser,
            lambda: [
                m
                for m in browser.find_elements("css selector", "#feed [data-testid='message']")
                if "idle TPU" in m.text and "Keep for" in m.text
            ],
        )[-1]
        browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", notice)
        browser.save_screenshot(str(OUT / "idle-notice.png"))
        open_channel(browser, "general")
        names = demo.emulator.node_names("ml-prod")
        busy = next(n for n in names if demo.emulator.get_node(n)["state"] == "READY")
        type_command(browser, f"/tpu get {'/'.join(busy.split('/')[i] for i in (1, 3, 5))}")
        wait_for(
            browser,
            lambda: browser.find_elements("css selector", "#feed [data-testid='chart']"),
            60,
        )
        browser.save_screenshot(str(OUT / "usage-chart.png"))
        click(browser, "[data-testid='home-tab']")
        wait_for(browser, lambda: "TPU fleet" in feed_text(browser), 60)
        browser.save_screenshot(str(OUT / "home-tab.png"))
    finally:
        browser.quit()
        demo.close()
    print("wrote", ", ".join(p.name for p in sorted(OUT.glob("*.png"))))


if __name__ == "__main__":
    main()

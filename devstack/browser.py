"""Driving the demo page in Debian's Chromium with Selenium: shared by the browser tests and
scripts/screenshots.py. Selenium is a test dependency, imported only when a browser is started."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def available() -> bool:
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


def start_browser(window: str = "1400,900") -> Any:
    """Headless Chromium with the flags this machine needs (no background networking)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={window}",
        f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def wait_for(browser: Any, predicate: Any, timeout: float = 30) -> Any:
    """Poll until truthy. The page re-renders whenever Slack changes, so an element found a
    moment ago may be gone: that is a retry, not a failure."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(
        browser,
        timeout,
        poll_frequency=0.2,
        ignored_exceptions=(StaleElementReferenceException, NoSuchElementException),
    )
    return wait.until(lambda _: predicate())


def click(browser: Any, css: str, index: int = -1, timeout: float = 30) -> None:
    """Find and click in one step, again if the page re-rendered in between."""

    def attempt() -> bool:
        found = browser.find_elements("css selector", css)
        if not found:
            return False
        found[index].click()
        return True

    wait_for(browser, attempt, timeout)


def feed_text(browser: Any, feed: str = "feed") -> str:
    return str(browser.find_element("id", feed).text)


def as_user(browser: Any, name: str) -> None:
    from selenium.webdriver.support.ui import Select

    select = Select(browser.find_element("id", "user"))
    value = next(o.get_attribute("value") for o in select.options if o.text.startswith(name))
    select.select_by_value(str(value))


def open_channel(browser: Any, name: str) -> None:
    click(browser, f"[data-testid='channel-{name}']")


def type_command(browser: Any, text: str) -> None:
    box = browser.find_element("id", "text")
    box.send_keys(text)
    box.submit()

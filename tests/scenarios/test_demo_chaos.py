"""The demo's chaos controls keep working while a zone is cut off, and `heal` brings it back."""

from __future__ import annotations

import json
import random
import urllib.request
from collections.abc import Iterator

import pytest

from devstack.page import DemoPage, emulator_chaos
from localslack import LocalSlack
from tpu_emulator import ApiError, Emulator


def zone_of(name: str) -> str:
    return name.split("/")[3]


def broken(emulator: Emulator) -> list[str]:
    names = []
    for name in emulator.node_names():
        node = emulator.get_node(name)
        if node["state"] == "PREEMPTED" or node.get("health") not in (None, "HEALTHY"):
            names.append(name)
    return names


@pytest.fixture
def page_url(emulator: Emulator) -> Iterator[str]:
    page = DemoPage(emulator_chaos(emulator, rng=random.Random(3)))
    slack = LocalSlack(extra_app=page).start()
    page.attach(slack)
    yield slack.url
    slack.close()


def post_chaos(url: str, action: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/ui/chaos",
        data=json.dumps({"action": action}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_cut_then_every_control_then_heal(emulator: Emulator) -> None:
    chaos = emulator_chaos(emulator, rng=random.Random(7))
    assert chaos("unreachable").endswith("does not answer")
    [cut] = emulator.faults.unreachable
    inside = next(n for n in emulator.node_names() if zone_of(n) == cut)
    with pytest.raises(ApiError):
        emulator.get_node(inside)  # the zone really is gone, for chaos as for the bot
    did = chaos("preempt")
    assert did.startswith("preempt: ")
    victim = next(n for n in emulator.node_names() if n.endswith("/nodes/" + did.split(": ")[1]))
    assert zone_of(victim) != cut
    assert chaos("unhealthy").startswith("unhealthy: ")
    assert chaos("symptom").startswith("symptom: ")
    assert chaos("storm").startswith("preempted ")
    chaos("unreachable")  # a second zone goes too
    assert len(emulator.faults.unreachable) == 2
    assert chaos("heal").startswith("healed ")
    assert emulator.faults.unreachable == []
    assert emulator.get_node(inside)["name"] == inside
    assert broken(emulator) == []


def test_the_page_answers_every_chaos_button_while_a_zone_is_cut(
    emulator: Emulator, page_url: str
) -> None:
    for action in ("unreachable", "preempt", "unhealthy", "symptom", "storm", "heal"):
        status, body = post_chaos(page_url, action)
        assert status == 200 and body["ok"], (action, body)
    assert emulator.faults.unreachable == [] and broken(emulator) == []
